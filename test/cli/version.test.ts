import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {test} from 'node:test'
import {packageRoot} from '../../src/remote/bpfd-binary.js'

test('--version names bpftools, the bundled bpfd and the protocol', () => {
  const out = execFileSync(`${packageRoot()}/bin/bpftools`, ['--version'], {encoding: 'utf8'})
  const lines = out.trim().split('\n')
  assert.equal(lines.length, 2, out)
  assert.match(lines[0]!, /^bpftools\/0\.1\.0 linux-/)
  assert.equal(lines[1], 'bpfd 0.1.0 protocol 1 (host protocol 1)')
})
