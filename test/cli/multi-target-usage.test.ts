// What several targets cannot do is refused before any target is reached,
// with a message naming the flag, and exit code 2.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {test} from 'node:test'
import {packageRoot} from '../../src/remote/bpfd-binary.js'

// Port 1 on loopback answers nothing: reaching a target would fail with exit code 3, not 2.
const TWO = ['--remote', 'tcp:127.0.0.1:1', '--remote', 'tcp:127.0.0.1:2']

function cli(args: string[]) {
  return spawnSync(join(packageRoot(), 'bin', 'bpftools'), args, {encoding: 'utf8', timeout: 30_000})
}

test('--dashboard with several targets is refused', () => {
  for (const tool of [['opensnoop'], ['execsnoop'], ['stackcount', 't:syscalls:sys_enter_openat'], ['biolatency']]) {
    const r = cli([...tool, '--dashboard', ...TWO])
    assert.equal(r.status, 2, `${tool[0]}: ${r.stderr}`)
    assert.equal(r.stderr, 'bpftools: --dashboard works on one target only (its panes show one target); 2 were given\n')
    assert.equal(r.stdout, '')
  }
})

test('stackcount --svg with several targets, and --merge with -v, are refused', () => {
  const svg = cli(['stackcount', 't:syscalls:sys_enter_openat', '--svg', '/tmp/x.svg', ...TWO])
  assert.equal(svg.status, 2, svg.stderr)
  assert.equal(svg.stderr, 'bpftools: --svg works on one target only (one flame graph file; use -f for folded stacks of every target); 2 were given\n')
  const v = cli(['stackcount', 't:syscalls:sys_enter_openat', '--merge', '-v', ...TWO])
  assert.equal(v.status, 2, v.stderr)
  assert.equal(v.stderr, 'bpftools: --merge adds up stacks by their symbols: their addresses differ from target to target, so -v cannot show them\n')
})

test('--arch with several targets is refused: each is compiled for its own machine', () => {
  for (const tool of [['opensnoop'], ['target'], ['run', 'prog.bpf.c']]) {
    const r = cli([...tool, '--arch', 'aarch64', ...TWO])
    assert.equal(r.status, 2, `${tool[0]}: ${r.stderr}`)
    assert.equal(r.stderr, 'bpftools: --arch works on one target only (each of several targets is compiled for the architecture it reports); 2 were given\n')
    assert.equal(r.stdout, '')
  }
})

test('two unreachable targets: each is reported, and the exit code says so', () => {
  const r = cli(['target', ...TWO])
  assert.equal(r.status, 3, r.stderr)
  assert.deepEqual(r.stderr.trim().split('\n').sort(), [
    'bpftools: tcp:127.0.0.1:1: cannot connect: connect ECONNREFUSED 127.0.0.1:1',
    'bpftools: tcp:127.0.0.1:2: cannot connect: connect ECONNREFUSED 127.0.0.1:2',
  ])
  assert.equal(r.stdout, '')
})
