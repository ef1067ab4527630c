// --dashboard where it cannot be drawn: with stdout a pipe every tool says
// why and exits 2 (a usage error) before reaching the target; with --json
// too, likewise.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {describe, it} from 'node:test'
import {BPFTOOLS} from './tmux.js'

const TOOLS: [string, ...string[]][] = [
  ['stackcount', 't:syscalls:sys_enter_getppid'],
  ['biolatency'],
  ['opensnoop'],
  ['execsnoop'],
]

/** Runs with stdout a pipe, and a target that cannot be reached: the refusal must come first. */
function piped(args: string[]) {
  return spawnSync(BPFTOOLS, [...args, '--remote', 'tcp:127.0.0.1:1'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000})
}

describe('--dashboard without a terminal', () => {
  for (const [tool, ...rest] of TOOLS) {
    it(`${tool}: exits 2, saying stdout is not a terminal`, () => {
      const r = piped([tool, '--dashboard', ...rest])
      assert.equal(r.status, 2, r.stderr)
      assert.match(r.stderr.replace(/\s*›\s*/g, ' '), /--dashboard needs a terminal, and stdout is not one; leave out --dashboard/)
      assert.equal(r.stdout, '')
    })
  }

  it('--dashboard and --json together: exits 2', () => {
    const r = piped(['biolatency', '--dashboard', '--json'])
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /--json.*--dashboard/)
  })

  for (const args of [['run', 'prog.bpf.c'], ['target']]) {
    it(`${args[0]} has no live view: --dashboard is refused as unknown, exit 2`, () => {
      const r = piped([...args, '--dashboard'])
      assert.equal(r.status, 2, r.stderr)
      assert.match(r.stderr, /Nonexistent flag: --dashboard/)
    })
  }
})
