// Targets that lack something: each gives its documented degraded behaviour
// or one clear line and exit 1, never a stack trace. The lack is made real
// for one bpfd by running it in a private mount namespace (unshare -m, whose
// mounts do not propagate back) with a mount hiding or replacing what it needs.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {TEST_CACHE_DIR} from '../fixtures/fixtures.js'
import {BPFD, REPO} from '../remote/bpfd-env.js'
import {Scratch, toolsUnavailable} from '../tools/helpers/programs.js'
import {cli, traced} from './cli.js'

const STACK_TRACE = /\n\s+at \S/

/** A `shell:` remote running bpfd after `setup` in a private mount namespace. */
function namespaced(setup: string): string {
  return `shell:unshare -m --propagation private sh -c '${setup} && exec ${BPFD}'`
}

function assertOneLineFailure(r: {status?: number | null; code?: number | null; stderr: string}, message: RegExp): void {
  assert.equal(r.status ?? r.code, 1, r.stderr)
  assert.match(r.stderr.trimEnd(), message)
  assert.doesNotMatch(r.stderr, STACK_TRACE)
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr)
}

describe('degraded targets', {skip: toolsUnavailable() ?? (spawnSync('unshare', ['--version']).status !== 0 ? 'no unshare' : undefined)}, () => {
  let dir: string
  let marker: string

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpftools-degraded-'))
    marker = join(dir, 'opened-by-the-test')
    writeFileSync(marker, '')
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  const openMarker = (n: number) => {
    for (let i = 0; i < n; i++) closeSync(openSync(marker, 'r'))
  }

  describe('without tracefs mounted', () => {
    it('bpfd mounts it itself (in its own namespace) and opensnoop traces as usual', async () => {
      const remote = namespaced('umount /sys/kernel/tracing; umount /sys/kernel/debug/tracing 2>/dev/null; ! grep -q " tracefs " /proc/mounts')
      const target = cli(['target', '--remote', remote])
      assert.equal(target.status, 0, target.stderr)
      assert.match(target.stdout, /^tracefs\s+\/sys\/kernel\/tracing$/m)
      const r = await traced(['opensnoop', '-p', String(process.pid), '--remote', remote], () => openMarker(3))
      assert.equal(r.code, 0, r.stderr)
      const lines = r.stdout.split('\n').filter((l) => l.endsWith(` ${marker}`))
      assert.equal(lines.length, 3, r.stdout)
      assert.match(lines[0]!, new RegExp(`^${process.pid}\\s+node\\s+\\d+\\s+0 `))
    })

    it('and cannot be mounted: opensnoop, execsnoop and stackcount t: say so in one line, exit 1', () => {
      // An empty read-only /sys/kernel: no tracing directory to mount tracefs on.
      const remote = namespaced('umount /sys/kernel/tracing; mount -t tmpfs -o ro none /sys/kernel')
      const target = cli(['target', '--remote', remote])
      assert.equal(target.status, 0, target.stderr)
      assert.match(target.stdout, /^tracefs\s+\(unavailable\)$/m)
      assertOneLineFailure(
        cli(['opensnoop', '-d', '1', '--remote', remote]),
        /^bpftools: shell:.*: the target has no tracefs mounted \(and bpfd could not mount it\), so opensnoop has no tracepoints to attach to$/,
      )
      const exec = cli(['execsnoop', '-d', '1', '--remote', remote])
      assert.equal(exec.status, 1, exec.stderr)
      assert.match(exec.stderr, /tracefs is not available/)
      assert.doesNotMatch(exec.stderr, STACK_TRACE)
      assertOneLineFailure(cli(['stackcount', '-D', '1', 't:syscalls:sys_enter_openat', '--remote', remote]), /t:syscalls:sys_enter_openat: .*tracefs is not available/)
      assertOneLineFailure(cli(['biolatency', '1', '1', '--remote', remote]), /the target has no tracefs mounted, so biolatency cannot use the block tracepoints/)
    })
  })

  it('without kprobes: run names the missing kprobes and suggests a tracepoint for a kprobe/ section', {skip: existsSync('/sys/bus/event_source/devices/kprobe') ? 'this kernel has kprobes' : false}, () => {
    const r = cli(['run', join(REPO, 'test', 'faults', 'fixtures', 'kprobe.bpf.c'), '-d', '1'], {BPFTOOLS_CACHE_DIR: TEST_CACHE_DIR})
    assert.match(r.stderr, /^bpftools: not attached: cannot attach program 'on_openat2' to kprobe do_sys_openat2: the target kernel has no kprobes \(CONFIG_KPROBES\); use a tracepoint instead$/m)
    assert.match(r.stderr, /^bpftools: no program could be attached, so nothing would run$/m)
    assert.equal(r.status, 1, r.stderr)
    assert.doesNotMatch(r.stderr, STACK_TRACE)
  })

  it('kallsyms zeroed (kptr_restrict): stackcount says why, and prints [unknown] frames rather than wrong names', async () => {
    const zeroed = join(dir, 'kallsyms')
    writeFileSync(zeroed, readFileSync('/proc/kallsyms', 'utf8').replace(/^[0-9a-f]+ /gm, '0000000000000000 '))
    const remote = namespaced(`mount --bind ${zeroed} /proc/kallsyms`)
    // A cache of its own: a kallsyms cached from this boot would hide the target's.
    const cache = join(dir, 'cache')
    const r = await traced(['stackcount', '-K', '-p', String(process.pid), 't:syscalls:sys_enter_openat', '--remote', remote], () => openMarker(20), {
      ready: /Hit Ctrl-C to end/,
      env: {BPFTOOLS_CACHE_DIR: cache},
    })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /^bpftools: the target hides kernel addresses \(\/proc\/kallsyms reads as zeros: kernel\.kptr_restrict, or not root\), so kernel frames cannot be named; they print as \[unknown\]$/m)
    const body = r.stdout.split('\n').filter((l) => l.startsWith('  '))
    const frames = body.filter((l) => !/^ {4}\d+$/.test(l))
    const counts = body.filter((l) => /^ {4}\d+$/.test(l)).map(Number)
    assert.ok(frames.length > 0, r.stdout)
    assert.deepEqual([...new Set(frames)], ['  [unknown]'], r.stdout)
    assert.ok(counts.reduce((a, b) => a + b, 0) >= 20, r.stdout)
  })

  describe('without batched map operations (BPFD_NO_BATCH=1)', () => {
    const remote = `shell:env BPFD_NO_BATCH=1 ${BPFD}`
    let s: Scratch
    let storm: ReturnType<typeof spawn>
    let stormPid: number

    before(async () => {
      s = new Scratch('bpftools-nobatch-')
      storm = spawn(await s.compile('storm'), [], {stdio: ['pipe', 'pipe', 'inherit']})
      stormPid = await new Promise<number>((resolve) => {
        storm.stdout!.once('data', (d: Buffer) => resolve(Number(/^ready (\d+)/.exec(d.toString())![1])))
      })
    })
    after(() => {
      storm?.kill('SIGKILL')
      s?.remove()
    })

    it('bpfd says batch no', () => {
      const r = cli(['target', '--remote', remote])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /^batch map ops\s+no$/m, r.stdout)
    })

    it('run: every one of 300 keys and its count, read through the next-key loop', async () => {
      const r = await traced(
        ['run', join(REPO, 'test', 'faults', 'fixtures', 'modes.bpf.c'), '--set', `targ_pid=${process.pid}`, '--remote', remote],
        () => {
          for (let mode = 0; mode < 300; mode++) for (let k = 0; k <= mode % 3; k++) closeSync(openSync(marker, 'a', mode))
        },
        {ready: /Ctrl-C to stop/, env: {BPFTOOLS_CACHE_DIR: TEST_CACHE_DIR}},
      )
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /^map by_mode \(hash, 300 entries\):$/m)
      const rows = [...r.stdout.matchAll(/^ {2}(\d+)\s+(\d+)$/gm)].map((m) => [Number(m[1]), Number(m[2])])
      const expected = Array.from({length: 300}, (_, mode) => [mode, (mode % 3) + 1])
      assert.deepEqual(rows.sort((a, b) => a[0]! - b[0]!), expected)
    })

    it('stackcount: the storm\'s opens counted exactly', async () => {
      const opens = 4321
      const r = await traced(['stackcount', '-K', '-p', String(stormPid), 't:syscalls:sys_enter_openat', '--remote', remote], () => {
        storm.stdin!.write(`open-storm ${opens} ${marker}\n`)
      }, {ready: /Hit Ctrl-C to end/, env: {BPFTOOLS_CACHE_DIR: TEST_CACHE_DIR}})
      assert.equal(r.code, 0, r.stderr)
      const counts = [...r.stdout.matchAll(/^ {4}(\d+)$/gm)].map((m) => Number(m[1]))
      assert.equal(counts.reduce((a, b) => a + b, 0), opens, r.stdout)
      assert.match(r.stdout, /^ {2}do_syscall_64$/m)
    })
  })

  it('without kernel BTF: execsnoop falls back and says so once; a CO-RE program is refused naming /sys/kernel/btf/vmlinux', async () => {
    const remote = namespaced('mount -t tmpfs -o ro none /sys/kernel/btf')
    const target = cli(['target', '--remote', remote])
    assert.match(target.stdout, /^BTF\s+no$/m)
    const marker2 = `nobtf.${process.pid}`
    const r = await traced(['execsnoop', '--remote', remote], () => {
      spawnSync('/bin/sleep', [marker2, '0'])
    })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr.match(/has no kernel BTF: parent pids are read from \/proc\/PID\/status/g)?.length, 1, r.stderr)
    const line = r.stdout.split('\n').find((l) => l.includes(marker2))
    assert.ok(line, r.stdout)
    assert.deepEqual(line.trim().split(/\s+/).slice(4), ['/bin/sleep', marker2, '0'])
    assertOneLineFailure(
      cli(['run', join(REPO, 'test', 'fixtures', 'loader', 'core.bpf.c'), '-d', '1', '--remote', remote], {BPFTOOLS_CACHE_DIR: TEST_CACHE_DIR}),
      /the target kernel has no BTF \(\/sys\/kernel\/btf\/vmlinux\); tools that read kernel structures need CONFIG_DEBUG_INFO_BTF$/,
    )
  })
})
