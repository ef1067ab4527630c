// A host that stops reading while events pour in: bpfd must not buffer them
// (it stops draining the ring buffer, whose overflow the BPF program counts),
// and when the host reads again every open is either printed or reported lost,
// and the trace ends cleanly. Once with the host's stdout not read (local),
// once with the host process stopped outright (tcp).
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {Scratch, BPFTOOLS, toolsUnavailable} from '../tools/helpers/programs.js'
import {Bpfd} from '../tools/helpers/tool-process.js'
import {childNamed, memory, type Memory} from './procfs.js'

const OPENS = 200_000
/** Enough opens of a long path to fill the host's event buffer (64 MiB of records) past its high-water. */
const HOST_OPENS = 400_000
/** The host process may hold that buffer, but not more. */
const HOST_LIMIT_KIB = 400 * 1024
/** -b 64: a 256 KiB ring, a few thousand records, so the storm overflows it many times. */
const PAGES = 64
/** bpfd's private memory may not grow past this: it buffers one batch (256 KiB, in base64) at most. */
const ANON_LIMIT_KIB = 4 * 1024

/** The storm helper: "open-storm N PATH" opens PATH N times. */
class Storm {
  private buf = ''
  private constructor(readonly child: ChildProcess, readonly pid: number) {}

  static async start(exe: string): Promise<Storm> {
    const child = spawn(exe, [], {stdio: ['pipe', 'pipe', 'inherit']})
    child.stdout!.setEncoding('utf8')
    const pid = await new Promise<number>((resolve, reject) => {
      let out = ''
      child.stdout!.on('data', function first(d: string) {
        out += d
        const m = /^ready (\d+)\n/.exec(out)
        if (m) {
          child.stdout!.off('data', first)
          resolve(Number(m[1]))
        }
      })
      child.once('exit', () => reject(new Error('storm helper exited')))
    })
    const s = new Storm(child, pid)
    child.stdout!.on('data', (d: string) => (s.buf += d))
    return s
  }

  async open(n: number, path: string): Promise<void> {
    this.buf = ''
    this.child.stdin!.write(`open-storm ${n} ${path}\n`)
    while (!/^done \d+ \d+\n/m.test(this.buf)) await new Promise((r) => setTimeout(r, 20))
  }

  stop(): void {
    this.child.kill('SIGKILL')
  }
}

/** opensnoop as a user runs it, with its stdout counted but readable on demand. */
class Host {
  stderr = ''
  lines = 0
  private carry = ''
  readonly closed: Promise<number | null>

  constructor(readonly child: ChildProcess, private readonly path: string) {
    child.stdout!.setEncoding('utf8')
    child.stderr!.setEncoding('utf8')
    child.stdout!.on('data', (d: string) => {
      const text = this.carry + d
      const cut = text.lastIndexOf('\n') + 1
      for (const l of text.slice(0, cut).split('\n')) if (l.endsWith(` ${this.path}`)) this.lines++
      this.carry = text.slice(cut)
    })
    child.stderr!.on('data', (d: string) => (this.stderr += d))
    this.closed = new Promise((r) => child.once('close', (code) => r(code)))
  }

  static async start(args: string[], path: string): Promise<Host> {
    const h = new Host(spawn(BPFTOOLS, ['opensnoop', ...args], {stdio: ['ignore', 'pipe', 'pipe']}), path)
    let header = false
    h.child.stdout!.once('data', () => (header = true))
    for (let t = 0; !header; t += 50) {
      if (t > 30_000 || h.child.exitCode !== null) throw new Error(`opensnoop did not start: ${h.stderr}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    return h
  }

  /** Waits until no output has come for `quietMs`. */
  async drained(quietMs = 1500): Promise<void> {
    for (let last = -1, still = 0; still * 100 < quietMs; await new Promise((r) => setTimeout(r, 100))) {
      still = this.lines === last ? still + 1 : 0
      last = this.lines
    }
  }
}

/** Samples a process's memory every 50 ms until stopped; returns the largest figures seen. */
function sampleMemory(pid: number): () => Memory {
  const max: Memory = memory(pid)
  const timer = setInterval(() => {
    const m = memory(pid)
    max.rssKiB = Math.max(max.rssKiB, m.rssKiB)
    max.anonKiB = Math.max(max.anonKiB, m.anonKiB)
  }, 50)
  return () => {
    clearInterval(timer)
    return max
  }
}

/** The events opensnoop reported lost at its end; 0 when it reported none. */
function lostReported(stderr: string): number {
  const m = /^bpftools: (\d+) events lost \(the target produced them faster than they were read; a larger buffer may help\)$/m.exec(stderr)
  return m ? Number(m[1]) : 0
}

describe('a host that reads slower than events arrive', {skip: toolsUnavailable()}, () => {
  let s: Scratch
  let storm: Storm
  let target: string
  let longTarget: string

  before(async () => {
    s = new Scratch('bpftools-slow-')
    target = s.path('slow-target')
    writeFileSync(target, '')
    // About 250 bytes: a 300-byte record per open.
    const dir = s.path('d'.repeat(100), 'e'.repeat(100))
    mkdirSync(dir, {recursive: true})
    longTarget = join(dir, 'f'.repeat(250 - dir.length - 1))
    writeFileSync(longTarget, '')
    storm = await Storm.start(await s.compile('storm'))
  })

  after(() => {
    storm?.stop()
    s?.remove()
  })

  it('stdout not read: the host holds its bounded buffer, bpfd stays small, the overflow is reported lost, and printed + lost = opens', {timeout: 120_000}, async (t) => {
    const host = await Host.start(['-b', String(PAGES), '-p', String(storm.pid)], longTarget)
    try {
      const bpfd = childNamed(host.child.pid!, 'bpfd')
      assert.ok(bpfd, 'no bpfd below the host')
      const before = memory(bpfd)
      host.child.stdout!.pause()
      const peak = sampleMemory(bpfd)
      const hostPeak = sampleMemory(host.child.pid!)
      await storm.open(HOST_OPENS, longTarget)
      await new Promise((r) => setTimeout(r, 1000))
      const max = peak()
      const hostMax = hostPeak()
      const whileStalled = host.lines
      host.child.stdout!.resume()
      await host.drained()
      host.child.kill('SIGINT')
      assert.equal(await host.closed, 0, host.stderr)
      const lost = lostReported(host.stderr)
      t.diagnostic(`${host.lines} printed, ${lost} lost; bpfd RSS ${before.rssKiB} -> ${max.rssKiB} KiB, private ${before.anonKiB} -> ${max.anonKiB} KiB; host RSS max ${hostMax.rssKiB} KiB`)
      assert.ok(whileStalled < HOST_OPENS / 100, `${whileStalled} lines arrived while stdout was not read`)
      assert.ok(lost > HOST_OPENS / 10, 'more than the host buffers and the ring holds must be lost')
      assert.equal(host.lines + lost, HOST_OPENS, `${host.lines} printed + ${lost} lost`)
      assert.ok(hostMax.rssKiB < HOST_LIMIT_KIB, `the host's RSS reached ${hostMax.rssKiB} KiB`)
      assert.ok(max.anonKiB - before.anonKiB < ANON_LIMIT_KIB, `bpfd's private memory grew from ${before.anonKiB} to ${max.anonKiB} KiB`)
      // VmRSS also counts the mapped ring; it must not grow past it and the batch.
      assert.ok(max.rssKiB - before.rssKiB < ANON_LIMIT_KIB + PAGES * 4, `bpfd's RSS grew from ${before.rssKiB} to ${max.rssKiB} KiB`)
      assert.doesNotMatch(host.stderr, /\n\s+at /)
    } finally {
      host.child.kill('SIGKILL')
    }
  })

  it('host stopped (SIGSTOP) behind tcp: bpfd stays small; after SIGCONT the loss is reported and printed + lost = opens', {timeout: 120_000}, async (t) => {
    const bpfd = await Bpfd.start()
    try {
      const host = await Host.start(['-b', String(PAGES), '-p', String(storm.pid), '--remote', bpfd.remote], target)
      try {
        const pid = bpfd.child.pid!
        const before = memory(pid)
        process.kill(host.child.pid!, 'SIGSTOP')
        const peak = sampleMemory(pid)
        await storm.open(OPENS, target)
        await new Promise((r) => setTimeout(r, 1000))
        const max = peak()
        process.kill(host.child.pid!, 'SIGCONT')
        await host.drained()
        host.child.kill('SIGINT')
        assert.equal(await host.closed, 0, host.stderr)
        const lost = lostReported(host.stderr)
        t.diagnostic(`${host.lines} printed, ${lost} lost; bpfd RSS ${before.rssKiB} -> ${max.rssKiB} KiB, private ${before.anonKiB} -> ${max.anonKiB} KiB`)
        assert.ok(lost > 0, 'the storm overflowed a 256 KiB ring while the host was stopped')
        assert.equal(host.lines + lost, OPENS, `${host.lines} printed + ${lost} lost`)
        assert.ok(max.anonKiB - before.anonKiB < ANON_LIMIT_KIB, `bpfd's private memory grew from ${before.anonKiB} to ${max.anonKiB} KiB`)
        assert.ok(max.rssKiB - before.rssKiB < ANON_LIMIT_KIB + PAGES * 4, `bpfd's RSS grew from ${before.rssKiB} to ${max.rssKiB} KiB`)
      } finally {
        host.child.kill('SIGKILL')
      }
    } finally {
      await bpfd.stop()
    }
  })
  it('bpfd blocked writing to a stopped host still ends on SIGTERM within 2 s; the host then fails naming it', {timeout: 120_000}, async () => {
    const bpfd = await Bpfd.start()
    const host = await Host.start(['-b', String(PAGES), '-p', String(storm.pid), '--remote', bpfd.remote], target)
    try {
      process.kill(host.child.pid!, 'SIGSTOP')
      await storm.open(OPENS, target)
      // Blocked in a write to the socket the stopped host does not read (waiting for send buffer space).
      assert.match(readFileSync(`/proc/${bpfd.child.pid}/wchan`, 'utf8'), /^(wait_woken|sk_stream_wait_memory)$/)
      const t0 = Date.now()
      const exited = new Promise((r) => bpfd.child.once('exit', r))
      bpfd.child.kill('SIGTERM')
      await exited
      const ms = Date.now() - t0
      assert.ok(ms < 2000, `bpfd took ${ms} ms to end`)
      process.kill(host.child.pid!, 'SIGCONT')
      // bpfd may stop mid-frame: a cut line is a dead connection too (3), not a malformed frame.
      const code = await host.closed
      assert.equal(code, 3, host.stderr)
      assert.match(host.stderr, /^bpftools: connection to tcp:127\.0\.0\.1:\d+ closed: /m)
      assert.doesNotMatch(host.stderr, /\n\s+at /)
    } finally {
      host.child.kill('SIGCONT')
      host.child.kill('SIGKILL')
      await bpfd.stop()
    }
  })
})
