/**
 * Kernel and user probes on the x86_64 guest through the real CLI: stackcount
 * on a kprobe and on a wildcard of kprobes, a kretprobe from `bpftools run`
 * counting into a map, a uprobe on a static test binary pushed into the
 * guest through the ctl port, and kprobes through tracefs when bpfd may not
 * use the kprobe PMU.
 */
import assert from 'node:assert/strict'
import {rmSync} from 'node:fs'
import {dirname} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {fixturePath, staticBinary} from './build-fixture.js'
import {bpftools, explain, guestSkipReason, ndjson, withCatLoop, type CliResult} from './cli.js'
import {Guest} from './guest.js'

/** The counts stackcount printed: the number ending each stack's block. */
function stackCounts(stdout: string): number[] {
  return stdout
    .split('\n')
    .map((l) => /^\s+(\d+)\s*$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
}

/** bpfd's tracefs kprobes (`p:kprobes/bpfd_PID_N FUNC`) in the guest's kprobe_events, read through the ctl port. */
async function bpfdKprobes(guest: Guest): Promise<string[]> {
  const text = await guest.check('cat /sys/kernel/tracing/kprobe_events')
  return text.split('\n').filter((l) => /^[pr]\d*:kprobes\/bpfd_\d+_\d+ /.test(l))
}

/** Polls until `check` returns true; false after `ms`. */
async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return false
}

const skip = await guestSkipReason('x86_64')
describe('x86_64 guest probes', {skip}, () => {
  let guest: Guest

  before(async () => {
    guest = await Guest.start({arch: 'x86_64', log: (line) => process.stderr.write(`guest ${line}\n`)})
  }, {timeout: 180_000})

  after(async () => {
    await guest?.stop()
  })

  it('stackcount -K k:do_sys_openat2 counts guest stacks symbolised from its kallsyms', async () => {
    const r = await withCatLoop(guest, '/tmp/sc-k', ['stackcount', '--remote', guest.remote, '-K', '-D', '3', 'k:do_sys_openat2'])
    assert.equal(r.code, 0, explain(guest, r))
    const counts = stackCounts(r.stdout)
    assert.ok(counts.some((n) => n > 0), `no counts\n${explain(guest, r)}`)
    // Frames are whole lines; the header names the pattern too.
    assert.match(r.stdout, /^\s+do_sys_openat2$/m, explain(guest, r))
    assert.match(r.stdout, /^\s+(?:do_syscall_64|__x64_sys_openat2?)$/m, explain(guest, r))
  })

  it("stackcount 'k:do_sys_open*' attaches to every match and counts", async () => {
    const r = await withCatLoop(guest, '/tmp/sc-w', ['stackcount', '--remote', guest.remote, '-K', '-D', '3', 'k:do_sys_open*'])
    assert.equal(r.code, 0, explain(guest, r))
    const header = /Tracing (\d+) functions?/.exec(r.stdout + r.stderr)
    assert.ok(header, `no 'Tracing N functions' header\n${explain(guest, r)}`)
    assert.ok(Number(header[1]) >= 1, header[0])
    assert.ok(stackCounts(r.stdout).some((n) => n > 0), `no counts\n${explain(guest, r)}`)
  })

  it('bpftools run: a kretprobe on do_sys_openat2 counts returns into a map', async () => {
    const r = await withCatLoop(guest, '/tmp/kret', ['run', fixturePath('openat2_ret_count.bpf.c'), '--remote', guest.remote, '--json', '-d', '3'])
    assert.equal(r.code, 0, explain(guest, r))
    const map = ndjson(r.stdout).find((l) => l.map === 'counts') as {entries?: {key: unknown; value: unknown}[]} | undefined
    assert.ok(map?.entries, `no 'counts' map in the output\n${explain(guest, r)}`)
    const byKey = new Map(map.entries.map((e) => [Number(e.key), Number(e.value)]))
    assert.ok((byKey.get(0) ?? 0) > 0, `returns: ${JSON.stringify(map.entries)}`)
    assert.ok((byKey.get(1) ?? 0) > 0, `successful returns: ${JSON.stringify(map.entries)}`)
  })

  it('stackcount -U u:BINARY:bench_target counts user stacks of a static guest binary', async (t) => {
    const built = staticBinary('x86_64', 'probe_target.c', ['-O0', '-g', '-fno-omit-frame-pointer'])
    if (typeof built === 'string') return t.skip(built)
    try {
      await guest.push(built.path, '/tmp/probe-bin')
    } finally {
      rmSync(dirname(built.path), {recursive: true, force: true})
    }
    const pid = await guest.spawn('exec /tmp/probe-bin')
    let r: CliResult
    try {
      r = await bpftools(['stackcount', '--remote', guest.remote, '-U', '-D', '3', 'u:/tmp/probe-bin:bench_target'])
    } finally {
      await guest.sh(`kill ${pid}`)
    }
    assert.equal(r.code, 0, explain(guest, r))
    assert.ok(stackCounts(r.stdout).some((n) => n > 0), `no counts\n${explain(guest, r)}`)
    assert.match(r.stdout, /^\s+bench_target$/m, explain(guest, r))
    assert.match(r.stdout, /^\s+main$/m, explain(guest, r))
  })

  describe('with BPFD_NO_PMU=1 (no kprobe PMU for bpfd)', () => {
    before(async () => {
      // /init gives each bpfd it starts from now on this environment.
      await guest.check('echo BPFD_NO_PMU=1 > /tmp/bpfd.env')
    })

    after(async () => {
      await guest?.sh('rm -f /tmp/bpfd.env')
    })

    it('bpftools target reports kprobes through tracefs although the kernel has the PMU', async () => {
      await guest.check('test -e /sys/bus/event_source/devices/kprobe/type')
      const r = await bpftools(['target', '--remote', guest.remote, '--json'])
      assert.equal(r.code, 0, explain(guest, r))
      const info = JSON.parse(r.stdout) as {features: {kprobe: string; uprobe: string}}
      assert.equal(info.features.kprobe, 'tracefs')
      assert.equal(info.features.uprobe, 'tracefs')
    })

    it('a kprobe attaches through kprobe_events, counts, and its probe is removed when the CLI ends', async () => {
      const file = '/tmp/sc-nopmu'
      await guest.check(`echo x > ${file}`)
      const loop = await guest.spawn(`while :; do cat ${file}; sleep 0.1; done`)
      let r: CliResult
      let during: string[] = []
      try {
        const run = bpftools(['stackcount', '--remote', guest.remote, '-K', '-D', '4', 'k:do_sys_openat2'])
        // Seen from the guest's side while the tool runs: bpfd's own probe.
        await until(async () => (during = await bpfdKprobes(guest)).length > 0, 8000)
        r = await run
      } finally {
        await guest.sh(`kill ${loop}`)
      }
      assert.equal(r.code, 0, explain(guest, r))
      assert.equal(during.length, 1, `kprobe_events during the run: ${JSON.stringify(during)}`)
      assert.match(during[0], /^p:kprobes\/bpfd_\d+_\d+ do_sys_openat2$/)
      assert.ok(stackCounts(r.stdout).some((n) => n > 0), `no counts\n${explain(guest, r)}`)
      assert.match(r.stdout, /^\s+do_sys_openat2$/m, explain(guest, r))
      assert.ok(await until(async () => (await bpfdKprobes(guest)).length === 0, 5000), `left behind: ${await bpfdKprobes(guest)}`)
    })

    it('the tracefs probe is removed too when the CLI is killed mid-run', async () => {
      const abort = new AbortController()
      const run = bpftools(['stackcount', '--remote', guest.remote, '-K', '-D', '20', 'k:do_sys_openat2'], {signal: abort.signal})
      let during: string[] = []
      const attached = await until(async () => (during = await bpfdKprobes(guest)).length > 0, 8000)
      abort.abort()
      const r = await run
      assert.ok(attached, `no bpfd probe appeared in kprobe_events\n${explain(guest, r)}`)
      assert.equal(r.signal, 'SIGKILL')
      // The host's end of the port closed: the guest's bpfd reads its end of input and cleans up.
      assert.ok(await until(async () => (await bpfdKprobes(guest)).length === 0, 5000), `left behind: ${await bpfdKprobes(guest)}`)
      assert.ok(await until(async () => (await guest.sh('pidof bpfd')).status !== 0, 5000), 'bpfd still runs')
    })
  })
})
