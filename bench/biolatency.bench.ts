/**
 * biolatency's cost to the I/O it times: a storm of 4 KiB O_DIRECT reads
 * (bench/dio-storm.c) untraced and under ours, libbpf-tools' biolatency, a
 * bpftrace script on the same block tracepoints and (where it runs) bcc's,
 * interleaved run by run.
 */
import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {closeSync, fsyncSync, openSync, writeSync} from 'node:fs'
import {promisify} from 'node:util'
import {BPFTOOLS, Scratch} from '../test/tools/helpers/programs.js'
import {compileBenchC, interrupt, median, spawnUntilLine, treeCpuSeconds} from './measure.js'
import {bpfccTool, bpftrace, BPFTRACE_SCRIPTS, isRunnable, libbpfTool, peerFigure, READY_LINE, type PeerCommand} from './peers.js'
import type {BenchContext, Row} from './row.js'

const run = promisify(execFile)

const BENCH = 'biolatency'
const FILE_MIB = 64

type Traced = {rate: number; cpuSec: number; timed: number}

/** Sum of a histogram's counts: bcc's `lo -> hi : count |...|` rows, or bpftrace's `[lo, hi) count |...|`. */
export function histogramTotal(text: string): number {
  let n = 0
  for (const m of text.matchAll(/^\s*\d+ -> \d+\s*: (\d+)\s/gm)) n += Number(m[1])
  for (const m of text.matchAll(/^\[[^\])]*[\])]\s+(\d+)\s/gm)) n += Number(m[1])
  return n
}

async function storm(program: string, file: string, seconds: number): Promise<number> {
  const {stdout} = await run(program, [file, String(seconds)])
  const m = /^done (\d+) (\d+)$/m.exec(stdout)
  if (!m) throw new Error(`dio-storm: ${stdout}`)
  return Number(m[1]) / (Number(m[2]) / 1e9)
}

async function traced(program: string, file: string, seconds: number, argv: string[], env?: NodeJS.ProcessEnv): Promise<Traced> {
  const w = await spawnUntilLine(argv, READY_LINE.biolatency, {env})
  try {
    const cpu0 = treeCpuSeconds([w.child.pid!])
    const rate = await storm(program, file, seconds)
    const cpuSec = treeCpuSeconds([w.child.pid!]) - cpu0
    await interrupt(w)
    const timed = histogramTotal(w.stdout())
    if (timed === 0) throw new Error(`${argv.join(' ')} printed no histogram: ${w.stdout().slice(-300)} ${w.stderr().slice(-300)}`)
    return {rate, cpuSec, timed}
  } finally {
    await interrupt(w)
  }
}

function dataFile(path: string): void {
  const fd = openSync(path, 'w')
  try {
    for (let i = 0; i < FILE_MIB; i++) writeSync(fd, randomBytes(1 << 20))
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

export default async function bench(ctx: BenchContext): Promise<Row[]> {
  if (process.getuid?.() !== 0) throw new Error('tracing needs root')
  const seconds = ctx.short ? 1 : 3
  const s = new Scratch('bpftools-bench-')
  try {
    const program = await compileBenchC('dio-storm', s.path('dio-storm'))
    // In the scratch directory under /tmp, which must be on a disk (not tmpfs) for O_DIRECT.
    const file = s.path('data')
    dataFile(file)
    const ours: PeerCommand = {name: 'ours', argv: [BPFTOOLS, 'biolatency']}
    const peers: PeerCommand[] = [
      libbpfTool('biolatency', [], {lineBuffered: true}),
      bpftrace('biolatency', BPFTRACE_SCRIPTS.biolatency()),
      await bpfccTool('biolatency', []),
    ]
    const untraced: number[] = []
    const runs = new Map<string, Traced[]>()
    for (let i = 0; i < ctx.runs; i++) {
      untraced.push(await storm(program, file, seconds))
      for (const t of [ours, ...peers].filter(isRunnable)) {
        process.stderr.write(`bench:   ${t.name}, run ${i + 1} of ${ctx.runs}\n`)
        runs.set(t.name, [...(runs.get(t.name) ?? []), await traced(program, file, seconds, t.argv, t.env)])
      }
    }
    const base = median(untraced)
    const fig = (name: string, f: (t: Traced) => number) => median(runs.get(name)!.map(f))
    const slowdown = (name: string) => Math.round((1 - fig(name, (t) => t.rate) / base) * 1000) / 10
    const method =
      `A C program reads 4 KiB blocks at scattered offsets of a ${FILE_MIB} MiB file with O_DIRECT, one at a time, for ${seconds} s, untraced and under each tracer started and ready beforehand (each biolatency with no options, ` +
      'the bpftrace script on block:block_rq_issue and block:block_rq_complete as ours and libbpf-tools use them); all interleaved run by run.'
    const row = (metric: string, unit: string, better: Row['better'], f: (name: string) => number, note: string): Row => ({
      bench: BENCH,
      metric,
      ours: f(ours.name),
      unit,
      better,
      peers: peers.map((p) => peerFigure(p, () => f(p.name))),
      note,
    })
    return [
      {bench: BENCH, metric: 'untraced O_DIRECT 4 KiB reads', ours: Math.round(base), unit: 'reads/s', better: 'higher', peers: [], note: method},
      row('traced O_DIRECT 4 KiB reads', 'reads/s', 'higher', (n) => Math.round(fig(n, (t) => t.rate)), method),
      row('slowdown vs untraced', '%', 'lower', slowdown, '1 - traced/untraced, from the median read rates of the storm above; within a few % it is noise on a busy machine.'),
      row('tracer CPU during the storm', 's', 'lower', (n) => Math.round(fig(n, (t) => t.cpuSec) * 100) / 100, 'CPU time (/proc/PID/stat, 10 ms ticks) of the tracer\'s processes during the storm above, for ours node and bpfd. Every biolatency aggregates in the kernel and reads its map at Ctrl-C, so this is near 0 for all; the BPF programs\' own cost shows in the read rate.'),
      row('requests in the histogram', 'requests', undefined, (n) => Math.round(fig(n, (t) => t.timed)), 'The counts each tracer printed at Ctrl-C, summed: the storm\'s reads plus whatever else the machine read or wrote meanwhile; a tracer missing requests shows here.'),
    ]
  } finally {
    s.remove()
  }
}
