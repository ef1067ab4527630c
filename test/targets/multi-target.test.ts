/**
 * Several targets of two architectures at once: this x86_64 host (`local`)
 * and the arm64 guest, in one run of the real CLI. Each target gets an
 * object compiled for its own architecture, each event is labelled with the
 * target it happened on, stacks of both are counted (and merged by their
 * symbols), and a probe the host cannot attach (no kprobes here) is reported
 * for `local` while the guest's stacks still print.
 */
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {ExitCode} from '../../src/cli/exit-codes.js'
import {bpfdUnavailable} from '../remote/bpfd-env.js'
import {bpftools, explain, guestSkipReason, ndjson} from './cli.js'
import {Guest} from './guest.js'

const skip = bpfdUnavailable() ?? (await guestSkipReason('aarch64'))

type Stack = {frames: string[]; count: number}

/** bcc's text stacks: frames indented two spaces, then the count indented four, then a blank line. */
function parseStacks(text: string): Stack[] {
  return text
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      const lines = block.split('\n')
      const count = /^ {4}(\d+)$/.exec(lines.at(-1)!)
      assert.ok(count && lines.slice(0, -1).every((l) => /^ {2}\S+$/.test(l)), `not a stack: ${JSON.stringify(block)}`)
      return {frames: lines.slice(0, -1).map((l) => l.trim()), count: Number(count[1])}
    })
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

describe('local (x86_64) and the arm64 guest in one run', {skip}, () => {
  let guest: Guest
  let dir: string
  let hostLoop: ChildProcess | undefined
  let guestLoop: number | undefined
  let localKprobes: string
  const tag = randomBytes(4).toString('hex')
  const guestFile = `/tmp/mt-guest-${tag}`
  let hostFile: string

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bpftools-mixed-'))
    hostFile = join(dir, `mt-host-${tag}`)
    writeFileSync(hostFile, 'x\n')
    const [started, target] = await Promise.all([
      Guest.start({arch: 'aarch64', log: (line) => process.stderr.write(`guest ${line}\n`)}),
      bpftools(['target', '--remote', 'local', '--json']),
    ])
    guest = started
    assert.equal(target.code, 0, target.stderr)
    localKprobes = (JSON.parse(target.stdout) as {features: {kprobe: string}}).features.kprobe
    // The same workload on both: a cat of a file only that target has, five times a second.
    await guest.check(`echo x > ${guestFile}`)
    guestLoop = await guest.spawn(`while :; do cat ${guestFile}; sleep 0.2; done`)
    hostLoop = spawn('sh', ['-c', `while :; do cat ${hostFile} >/dev/null; sleep 0.2; done`], {detached: true, stdio: 'ignore'})
  }, {timeout: 180_000})

  after(async () => {
    if (hostLoop?.pid !== undefined) {
      try {
        process.kill(-hostLoop.pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
    if (guestLoop !== undefined) await guest.sh(`kill ${guestLoop}`).catch(() => undefined)
    await guest?.stop()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('opensnoop: an object compiled for each architecture, each open labelled with the target it happened on', async () => {
    const r = await bpftools(['opensnoop', '--verbose', '-n', 'cat', '-d', '3', '-r', 'local', '-r', guest.remote], {
      // An empty compile cache: each target's object is compiled in this run.
      env: {...process.env, BPFTOOLS_CACHE_DIR: join(dir, 'cache')},
    })
    assert.equal(r.code, 0, explain(guest, r))
    const compiles = r.stderr.split('\n').filter((l) => l.includes(': opensnoop.bpf.c for '))
    assert.deepEqual(compiles.sort(), ['bpftools: local: opensnoop.bpf.c for x86: compiled', `bpftools: ${guest.remote}: opensnoop.bpf.c for arm64: compiled`].sort(), explain(guest, r))

    const width = Math.max('TARGET'.length, guest.remote.length)
    const [header, ...lines] = r.stdout.trimEnd().split('\n')
    assert.equal(header, `${'TARGET'.padEnd(width)} PID    COMM               FD ERR PATH`)
    const events = lines.map((line) => {
      const m = /^(\S+) +(\d+) +(\S+) +(-?\d+) +(\d+) (.+)$/.exec(line)
      assert.ok(m, `not an opensnoop line: ${line}`)
      assert.equal(line.slice(0, width + 1), `${m[1]!.padEnd(width)} `, `the TARGET column of: ${line}`)
      return {target: m[1]!, pid: Number(m[2]), comm: m[3]!, fd: Number(m[4]), err: Number(m[5]), path: m[6]!}
    })
    assert.ok(events.every((e) => e.target === 'local' || e.target === guest.remote), explain(guest, r))
    const onHost = events.filter((e) => e.path === hostFile)
    const inGuest = events.filter((e) => e.path === guestFile)
    // 3 s of opens five times a second, less what passes before each target is tracing.
    assert.ok(onHost.length >= 2 && inGuest.length >= 2, `${onHost.length} opens of ${hostFile}, ${inGuest.length} of ${guestFile}\n${explain(guest, r)}`)
    // Each file exists on one target only: a label naming the other would be wrong.
    assert.deepEqual([...new Set(onHost.map((e) => e.target))], ['local'])
    assert.deepEqual([...new Set(inGuest.map((e) => e.target))], [guest.remote])
    for (const e of [...onHost, ...inGuest]) {
      assert.equal(e.comm, 'cat')
      assert.equal(e.err, 0)
      assert.ok(e.fd >= 0)
    }
  })

  it('execsnoop --json: each exec with the target it happened on, its parent read through each target\'s own BTF', async () => {
    // No -n: the guest's busybox runs its applets as /proc/self/exe, so their comm at exec is "exe".
    const r = await bpftools(['execsnoop', '--json', '-d', '3', '-r', 'local', '-r', guest.remote])
    assert.equal(r.code, 0, explain(guest, r))
    const events = ndjson(r.stdout)
    assert.ok(events.every((e) => Object.keys(e)[0] === 'target'), explain(guest, r))
    const execs = (file: string) => events.filter((e) => Array.isArray(e.argv) && e.argv.at(-1) === file)
    const onHost = execs(hostFile)
    const inGuest = execs(guestFile)
    assert.ok(onHost.length >= 2 && inGuest.length >= 2, `${onHost.length} execs of cat ${hostFile}, ${inGuest.length} of cat ${guestFile}\n${explain(guest, r)}`)
    for (const [hits, target, loop] of [[onHost, 'local', hostLoop!.pid], [inGuest, guest.remote, guestLoop]] as const) {
      for (const e of hits) {
        assert.equal(e.target, target)
        assert.equal(e.ret, 0)
        // The loop's shell is the parent: task_struct->real_parent, relocated for that target's kernel.
        assert.equal(e.ppid, loop, JSON.stringify(e))
      }
    }
  })

  it('stackcount k: kprobes fail on local, which is reported; the guest\'s stacks still print; exit non-zero', async (t) => {
    if (localKprobes !== 'none') return t.skip(`this host has kprobes (${localKprobes}): local would not fail`)
    const r = await bpftools(['stackcount', '-K', '-D', '3', 'k:do_sys_openat2', '--remote', 'local', '--remote', guest.remote])
    assert.equal(r.code, ExitCode.FAILURE, explain(guest, r))
    const reported = r.stderr.split('\n').filter((l) => l.startsWith('bpftools: '))
    assert.equal(reported.length, 1, explain(guest, r))
    assert.match(reported[0]!, /^bpftools: local: cannot trace k:do_sys_openat2: the target kernel has no kprobes/)

    const m = new RegExp(
      `^Tracing 1 functions for "k:do_sys_openat2" on ${escape(guest.remote)}\\.\\.\\. Hit Ctrl-C to end\\.\\n\\ntarget = ${escape(guest.remote)}\\n([^]*)Detaching\\.\\.\\.\\n$`,
    ).exec(r.stdout)
    assert.ok(m, explain(guest, r))
    const stacks = parseStacks(m[1]!)
    assert.ok(stacks.length > 0, explain(guest, r))
    for (const s of stacks) {
      // arm64 frames, named from the guest's kallsyms (see aarch64-probes.test.ts for the skipped frame).
      assert.deepEqual(s.frames.slice(0, 5).map((n) => n.replace(/\..*$/, '')), ['do_sys_openat2', 'invoke_syscall', 'el0_svc_common', 'do_el0_svc', 'el0_svc'], s.frames.join(' <- '))
    }
    const total = stacks.reduce((n, s) => n + s.count, 0)
    assert.ok(total >= 5, `${total} opens counted in the guest\n${explain(guest, r)}`)
  })

  it('stackcount --merge t:sched:sched_process_exec: both targets\' stacks in one list, each architecture\'s exec path once', async () => {
    const r = await bpftools(['stackcount', '-K', '-D', '3', '--merge', '--verbose', 't:sched:sched_process_exec', '--remote', 'local', '--remote', guest.remote])
    assert.equal(r.code, 0, explain(guest, r))
    const [first, second, ...rest] = r.stdout.split('\n')
    const tracing = (name: string) => `Tracing 1 functions for "t:sched:sched_process_exec" on ${name}... Hit Ctrl-C to end.`
    assert.deepEqual([first, second].sort(), [tracing('local'), tracing(guest.remote)].sort())
    // One interval, printed once: no target line, one Detaching.
    const body = /^\n([^]*)Detaching\.\.\.\n$/.exec(rest.join('\n'))
    assert.ok(body, explain(guest, r))
    assert.doesNotMatch(body[1]!, /target = |Detaching/)
    const stacks = parseStacks(body[1]!)

    // However many stack ids the guest's execs had, their frames name one stack.
    const arm64 = stacks.filter((s) => s.frames.includes('__arm64_sys_execve'))
    assert.equal(arm64.length, 1, explain(guest, r))
    assert.equal(arm64[0]!.frames.at(-1), 'el0t_64_sync')
    assert.ok(arm64[0]!.frames.includes('bprm_execve'))
    const x86 = stacks.filter((s) => s.frames.includes('__x64_sys_execve'))
    assert.equal(x86.length, 1, explain(guest, r))
    assert.equal(x86[0]!.frames.at(-1), 'entry_SYSCALL_64_after_hwframe')
    assert.ok(x86[0]!.frames.includes('bprm_execve'))
    // cat and sleep, five times a second on each, for about 3 s.
    for (const s of [...arm64, ...x86]) assert.ok(s.count >= 4, `${s.count} execs through ${s.frames.join(' <- ')}\n${explain(guest, r)}`)

    // The summary counts the events of both targets.
    const total = stacks.reduce((n, s) => n + s.count, 0)
    assert.match(r.stderr, new RegExp(`^bpftools: ${total} events received$`, 'm'), explain(guest, r))
  })
})
