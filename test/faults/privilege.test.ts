// Without privilege on either side, a clear message and exit code 4, never a stack trace.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {test} from 'node:test'
import {BPFD, REPO, bpfdUnavailable} from '../remote/bpfd-env.js'

const CLI = join(REPO, 'bin', 'bpftools')
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups']

test('the host not root: local refuses and says how to run it', {skip: bpfdUnavailable()}, () => {
  const r = spawnSync('setpriv', [...NOBODY, 'env', 'HOME=/tmp', CLI, 'opensnoop', '-d', '1'], {encoding: 'utf8'})
  assert.equal(r.status, 4, r.stderr)
  assert.match(r.stderr, /^bpftools: local: bpfd needs root .*sudo bpftools/)
  assert.doesNotMatch(r.stderr, /\n\s+at /)
})

test('bpfd not root on the target: the tool says bpfd lacks root', {skip: bpfdUnavailable()}, () => {
  const remote = `shell:setpriv ${NOBODY.join(' ')} ${BPFD}`
  for (const tool of ['opensnoop', 'execsnoop']) {
    const r = spawnSync(CLI, [tool, '-d', '1', '--remote', remote], {encoding: 'utf8'})
    assert.equal(r.status, 4, r.stderr)
    assert.match(r.stderr, /refused \(EPERM\): bpfd runs as uid 65534 on the target, and BPF needs root/)
    assert.doesNotMatch(r.stderr, /\n\s+at /)
  }
})
