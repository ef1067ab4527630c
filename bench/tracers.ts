/**
 * Measuring tracers against a storm of the events they trace: the storm
 * program (test/tools/helpers/storm.c) runs while a tracer writes to a file,
 * as a user would redirect it. A run starts only once the storm program's
 * probe events reach that file, so no storm runs before its tracer sees.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {closeSync, fstatSync, openSync, readFileSync, readSync} from 'node:fs'
import {Scratch} from '../test/tools/helpers/programs.js'
import {Workload} from '../test/tools/helpers/workload.js'
import {interrupt, median, peakRssKb, sleep, treeCpuSeconds} from './measure.js'
import {isRunnable, type PeerCommand} from './peers.js'
import type {NotRun, PeerFigure, Row} from './row.js'

export const PROBE_PATH = '/nonexistent/bpftools-bench-probe'

export type Tracer = {
  name: string
  /** The command line tracing the storm process `pid`. */
  argv(pid: number): string[]
  /** The command line for the start-to-first-event run, where output must not sit in a stdio buffer. */
  readyArgv?(pid: number): string[]
  env?: NodeJS.ProcessEnv
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
  /** Peak RSS of each of the tracer's processes (and helpers), by comm. */
  peakKb: Map<string, number>
  stderr: string
}

export async function buildStorm(s: Scratch): Promise<string> {
  return s.compile('storm', 'bpft-storm')
}

/** A tracer started with its stdout in a file. */
class RunningTracer {
  private readonly fd: number
  private scanned = 0
  private partial = ''
  readonly exited: Promise<void>
  stderr = ''

  constructor(
    readonly child: ChildProcess,
    readonly file: string,
    readonly argv: string[],
  ) {
    this.fd = openSync(file, 'r')
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (d: string) => (this.stderr += d))
    this.exited = new Promise((r) => child.once('close', () => r()))
  }

  static start(argv: string[], file: string, env?: NodeJS.ProcessEnv): RunningTracer {
    const out = openSync(file, 'w')
    const child = spawn(argv[0]!, argv.slice(1), {stdio: ['ignore', out, 'pipe'], env: env ?? process.env})
    closeSync(out)
    return new RunningTracer(child, file, argv)
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
      await interrupt(this)
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
export async function startToFirstEvent(program: string, tracer: Tracer, storm: Storm, file: string): Promise<number> {
  const {w} = await Workload.start(program, 'storm')
  const spawnedAt = performance.now()
  const t = RunningTracer.start((tracer.readyArgv ?? tracer.argv)(w.pid), file, tracer.env)
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
  const t = RunningTracer.start(tracer.argv(w.pid), file, tracer.env)
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
    const peakKb = peakRssKb(counted)
    await t.stop()
    const printed = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => storm.isStormEvent(l, w.pid)).length
    return {rate, printed, lost: storm.events - printed, cpuSec, peakKb, stderr: t.stderr}
  } finally {
    await t.stop()
    await w.end()
  }
}

/** Per-tracer figures over several interleaved runs of one storm. */
export type TracerFigures = {
  rate: number
  worstPrinted: number
  worstLost: number
  cpuSec: number
  firstEventMs: number
  /** The highest peak RSS over the runs, by comm, and all processes together. */
  peakKb: Map<string, number>
  peakTotalKb: number
}

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
  const firstEvent = new Map<Tracer, number[]>(tracers.map((t) => [t, []]))
  const untraced: number[] = []
  for (let i = 0; i < repeats; i++) {
    untraced.push(await untracedRate(program, storm))
    for (const t of tracers) {
      process.stderr.write(`bench:   ${t.name}, run ${i + 1} of ${repeats}\n`)
      runs.get(t)!.push(await tracedRun(program, t, storm, s.path('out.txt')))
      firstEvent.get(t)!.push(await startToFirstEvent(program, t, storm, s.path('ready.txt')))
    }
  }
  return {
    untracedRate: median(untraced),
    figures: (t) => {
      const r = runs.get(t)
      if (!r) throw new Error(`${t.name} was not among the tracers compared`)
      const peakKb = new Map<string, number>()
      for (const x of r) for (const [comm, kb] of x.peakKb) peakKb.set(comm, Math.max(peakKb.get(comm) ?? 0, kb))
      return {
        rate: median(r.map((x) => x.rate)),
        worstPrinted: Math.min(...r.map((x) => x.printed)),
        worstLost: Math.max(...r.map((x) => x.lost)),
        cpuSec: Math.round(median(r.map((x) => x.cpuSec)) * 100) / 100,
        firstEventMs: median(firstEvent.get(t)!),
        peakKb,
        peakTotalKb: Math.max(...r.map((x) => [...x.peakKb.values()].reduce((a, b) => a + b, 0))),
      }
    },
  }
}

/** A peer in a storm comparison, or why it cannot run here. */
export type Contestant = Tracer | NotRun

export function isTracer(c: Contestant): c is Tracer {
  return 'argv' in c
}

/** A peer command made for each storm pid, as a tracer (line-buffered where its first event is timed). */
export function peerTracer(make: (pid: number, lineBuffered: boolean) => PeerCommand): Contestant {
  const first = make(0, false)
  if (!isRunnable(first)) return first
  const argv = (pid: number, lb: boolean) => {
    const p = make(pid, lb)
    if (!isRunnable(p)) throw new Error(`${p.name}: ${p.notRun}`)
    return p.argv
  }
  return {name: first.name, argv: (pid) => argv(pid, false), readyArgv: (pid) => argv(pid, true), env: first.env}
}

/** bpfd's processes by comm (bpfd-x86_64, ...), the rest are the host's. */
function split(kb: Map<string, number>): {host: number; bpfd: number} {
  let host = 0
  let bpfd = 0
  for (const [comm, v] of kb) {
    if (comm.startsWith('bpfd')) bpfd += v
    else host += v
  }
  return {host, bpfd}
}

export type StormReport = {
  bench: string
  /** The event, as in "traced open() rate", and what the storm makes of them ("opens"). */
  what: string
  plural: string
  unit: string
  events: number
  runs: number
  ours: Tracer
  oursTcp: Tracer
  peers: Contestant[]
  /** How the storm and each tracer were run, for the notes. */
  method: string
  /** Also report peak RSS. */
  rss: boolean
}

/** Runs the comparison and makes the storm's rows: rate, lost, CPU, first event, and RSS. */
export async function stormRows(program: string, storm: Storm, s: Scratch, r: StormReport): Promise<Row[]> {
  const running = r.peers.filter(isTracer)
  const {untracedRate, figures} = await compareTracers(program, [r.ours, ...running, r.oursTcp], storm, s, r.runs)
  const of = (c: Contestant, f: (x: TracerFigures) => number): PeerFigure => (isTracer(c) ? {name: c.name, value: f(figures(c))} : c)
  const row = (metric: string, unit: string, better: Row['better'], f: (x: TracerFigures) => number, note: string, peers = r.peers, ours = r.ours): Row => ({
    bench: r.bench,
    metric,
    ours: f(figures(ours)),
    unit,
    better,
    peers: peers.map((p) => of(p, f)),
    note,
  })
  const n = `${r.events / 1000}k`
  const rounded = (f: (x: TracerFigures) => number) => (x: TracerFigures) => Math.round(f(x))
  const rows: Row[] = [
    row(`traced ${r.what} rate, ${n} ${r.plural}`, r.unit, 'higher', rounded((x) => x.rate), `${r.method} Rate: the storm program's own count over its own clock, median of ${r.runs}.`),
    row(`events lost of ${n} (worst of ${r.runs})`, 'events', 'lower', (x) => x.worstLost, 'Events the storm caused that are missing from the tracer\'s output file once it stopped growing (its own lost-event reports are not trusted), the worst run.'),
    row(
      'tracer CPU, user+sys',
      's',
      'lower',
      (x) => x.cpuSec,
      'CPU time (/proc/PID/stat utime+stime) of the tracer and its child processes from the storm\'s start until its output stopped growing: for ours the node host and bpfd, for a peer its one process. BPF programs run in the storm\'s context and are not in it.',
    ),
    row('start to first traced event', 'ms', 'lower', rounded((x) => x.firstEventMs), 'From spawn until an event the storm program causes after the spawn (repeated every 5 ms) shows in the tracer\'s output; libbpf-tools under `stdbuf -oL`.'),
    {bench: r.bench, metric: `untraced ${r.what} rate (the storm alone)`, ours: Math.round(untracedRate), unit: r.unit, better: 'higher', peers: [], note: 'The same storm with no tracer, median of the runs, interleaved with the traced runs.'},
  ]
  if (r.rss) {
    const rssNote =
      'Peak RSS (VmHWM) read just before the tracer is stopped, highest of the runs. Ours runs as the node host plus the bpfd it starts; a peer is one process. Peers\' figures are their whole process.'
    rows.push(
      row('host (node) peak RSS during the storm', 'KB', 'lower', (x) => split(x.peakKb).host, rssNote),
      row('bpfd peak RSS during the storm', 'KB', 'lower', (x) => split(x.peakKb).bpfd, rssNote, []),
      row('all our processes (node + bpfd) peak RSS', 'KB', 'lower', (x) => x.peakTotalKb, rssNote),
    )
  }
  const local = r.peers.filter(isTracer).slice(0, 1)
  const tcpNote = 'Ours with --remote tcp: to a bpfd --listen on 127.0.0.1 started once for all runs; its CPU counted with the host\'s. Against the first peer running locally.'
  rows.push(
    row(`traced ${r.what} rate over tcp`, r.unit, 'higher', rounded((x) => x.rate), tcpNote, local, r.oursTcp),
    row(`events lost over tcp (worst of ${r.runs})`, 'events', 'lower', (x) => x.worstLost, tcpNote, local, r.oursTcp),
    row('tracer CPU over tcp, host + bpfd', 's', 'lower', (x) => x.cpuSec, tcpNote, local, r.oursTcp),
  )
  return rows
}
