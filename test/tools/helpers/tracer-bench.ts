/**
 * Measuring a tracer against a storm of the events it traces: the storm
 * program (storm.c) runs while the tracer writes to a file, as a user would
 * redirect it. A tracer counts as ready once the storm program's probe
 * events reach that file, so no run starts before its tracer sees.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync} from 'node:fs'
import {Scratch} from './programs.js'
import {Workload} from './workload.js'

/** /proc/PID/stat times are in clock ticks; USER_HZ is 100 on every Linux architecture. */
const TICKS_PER_SECOND = 100

export const PROBE_PATH = '/nonexistent/bpftools-bench-probe'

export type Tracer = {
  name: string
  /** The command line tracing the storm process `pid`. */
  argv(pid: number): string[]
  /** The command line for the start-to-ready run, where output must not sit in a stdio buffer. */
  readyArgv?(pid: number): string[]
  /** Processes outside the tracer's own tree that work for it (a bpfd it connects to). */
  helpers?: number[]
}

export type Storm = {
  /** The storm command (storm.c) and how many events it causes. */
  command: string
  events: number
  /** A storm.c command causing a few probe events. */
  probe: string
  isProbe(line: string, pid: number): boolean
  isStormEvent(line: string, pid: number): boolean
}

export type TracedRun = {
  /** Events per second the storm program achieved while traced. */
  rate: number
  printed: number
  lost: number
  /** User + system CPU of the tracer's processes during the storm and until its output settled. */
  cpuSec: number
  stderr: string
}

export async function buildStorm(s: Scratch): Promise<string> {
  return s.compile('storm', 'bpft-storm')
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export {median}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The CPU time of processes with all their descendants, in seconds. */
function treeCpuSeconds(roots: number[]): number {
  const stats = new Map<number, {ppid: number; ticks: number}>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let text: string
    try {
      text = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue
    }
    // Fields after the parenthesised comm: state ppid ... utime(14) stime(15).
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    stats.set(Number(name), {ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12])})
  }
  let ticks = 0
  const todo = [...roots]
  while (todo.length) {
    const pid = todo.pop()!
    ticks += stats.get(pid)?.ticks ?? 0
    for (const [child, s] of stats) if (s.ppid === pid) todo.push(child)
  }
  return ticks / TICKS_PER_SECOND
}

/** A tracer started with its stdout in a file. */
class RunningTracer {
  private readonly fd: number
  private scanned = 0
  private partial = ''
  readonly exited: Promise<void>
  stderr = ''

  constructor(readonly child: ChildProcess, readonly file: string) {
    this.fd = openSync(file, 'r')
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (d: string) => (this.stderr += d))
    this.exited = new Promise((r) => child.once('close', () => r()))
  }

  static start(argv: string[], file: string): RunningTracer {
    const out = openSync(file, 'w')
    const child = spawn(argv[0]!, argv.slice(1), {stdio: ['ignore', out, 'pipe']})
    closeSync(out)
    return new RunningTracer(child, file)
  }

  get size(): number {
    return fstatSync(this.fd).size
  }

  /** Whether a line written since the last call satisfies `test`. */
  newLineMatches(test: (line: string) => boolean): boolean {
    const size = this.size
    if (size <= this.scanned) return false
    const buf = Buffer.alloc(size - this.scanned)
    readSync(this.fd, buf, 0, buf.length, this.scanned)
    this.scanned = size
    const lines = (this.partial + buf.toString('utf8')).split('\n')
    this.partial = lines.pop()!
    return lines.some(test)
  }

  private stopped?: Promise<void>

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGINT')
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 15000)
      await this.exited
      clearTimeout(timer)
      closeSync(this.fd)
    })()
    return this.stopped
  }
}

/** Sends probes until one reaches the tracer's file; returns the ms from spawn to then. */
async function awaitProbe(t: RunningTracer, w: Workload, storm: Storm, spawnedAt: number, pollMs: number): Promise<number> {
  const deadline = spawnedAt + 60000
  for (;;) {
    await w.ask(storm.probe)
    const until = performance.now() + pollMs
    do {
      if (t.newLineMatches((l) => storm.isProbe(l, w.pid))) return performance.now() - spawnedAt
      await sleep(2)
    } while (performance.now() < until)
    if (performance.now() > deadline || t.child.exitCode !== null) {
      throw new Error(`the tracer showed no probe event (exit ${t.child.exitCode}): ${t.stderr}`)
    }
  }
}

/** The storm, untraced: the events per second the storm program reaches alone. */
export async function untracedRate(program: string, storm: Storm): Promise<number> {
  const {w} = await Workload.start(program, 'storm')
  try {
    return parseDone(await w.ask(storm.command))
  } finally {
    await w.end()
  }
}

function parseDone(answer: string): number {
  const m = /^done (\d+) (\d+)$/.exec(answer)
  if (!m) throw new Error(`storm: ${answer}`)
  return Number(m[1]) / (Number(m[2]) / 1e9)
}

/** Milliseconds from starting the tracer until it shows the first probe event. */
export async function startToReady(program: string, tracer: Tracer, storm: Storm, file: string): Promise<number> {
  const {w} = await Workload.start(program, 'storm')
  const spawnedAt = performance.now()
  const t = RunningTracer.start((tracer.readyArgv ?? tracer.argv)(w.pid), file)
  try {
    return await awaitProbe(t, w, storm, spawnedAt, 5)
  } finally {
    await t.stop()
    await w.end()
  }
}

/** One storm under the tracer, its output in `file`. */
export async function tracedRun(program: string, tracer: Tracer, storm: Storm, file: string): Promise<TracedRun> {
  const {w} = await Workload.start(program, 'storm')
  const spawnedAt = performance.now()
  const t = RunningTracer.start(tracer.argv(w.pid), file)
  try {
    // Output may sit in the tracer's stdio buffer: poll longer between probes.
    await awaitProbe(t, w, storm, spawnedAt, 100)
    const counted = [t.child.pid!, ...(tracer.helpers ?? [])]
    const cpu0 = treeCpuSeconds(counted)
    const rate = parseDone(await w.ask(storm.command))
    // The tracer is done when its output stops growing.
    let size = -1
    let still = 0
    for (const started = performance.now(); still < 500 && performance.now() - started < 120000; ) {
      await sleep(50)
      const now = t.size
      still = now === size ? still + 50 : 0
      size = now
    }
    const cpuSec = treeCpuSeconds(counted) - cpu0
    await t.stop()
    const printed = readFileSync(file, 'utf8').split('\n').filter((l) => storm.isStormEvent(l, w.pid)).length
    return {rate, printed, lost: storm.events - printed, cpuSec, stderr: t.stderr}
  } finally {
    await t.stop()
    await w.end()
  }
}

/** Per-tracer figures over several interleaved runs of one storm. */
export type TracerFigures = {rate: number; worstPrinted: number; worstLost: number; cpuSec: number; readyMs: number}

/**
 * Runs every tracer `repeats` times against the storm, interleaved so drift
 * in the machine's load touches each alike, plus the storm untraced.
 */
export async function compareTracers(
  program: string,
  tracers: readonly Tracer[],
  storm: Storm,
  s: Scratch,
  repeats: number,
): Promise<{untracedRate: number; figures: (t: Tracer) => TracerFigures}> {
  const runs = new Map<Tracer, TracedRun[]>(tracers.map((t) => [t, []]))
  const ready = new Map<Tracer, number[]>(tracers.map((t) => [t, []]))
  const untraced: number[] = []
  for (let i = 0; i < repeats; i++) {
    untraced.push(await untracedRate(program, storm))
    for (const t of tracers) {
      runs.get(t)!.push(await tracedRun(program, t, storm, s.path('out.txt')))
      ready.get(t)!.push(await startToReady(program, t, storm, s.path('ready.txt')))
    }
  }
  return {
    untracedRate: median(untraced),
    figures: (t) => {
      const r = runs.get(t)!
      return {
        rate: median(r.map((x) => x.rate)),
        worstPrinted: Math.min(...r.map((x) => x.printed)),
        worstLost: Math.max(...r.map((x) => x.lost)),
        cpuSec: Math.round(median(r.map((x) => x.cpuSec)) * 100) / 100,
        readyMs: median(ready.get(t)!),
      }
    },
  }
}
