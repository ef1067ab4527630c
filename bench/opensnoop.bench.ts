/**
 * opensnoop against libbpf-tools' opensnoop on one open() storm: 200k opens
 * of one file as fast as one process can, each tracer filtering by its pid
 * and writing to a file. Figures: the storm's rate while traced, events
 * printed of those caused, the tracer's CPU, and its start-to-ready time.
 */
import {writeFileSync} from 'node:fs'
import {BPFTOOLS, Scratch} from '../test/tools/helpers/programs.js'
import {Bpfd} from '../test/tools/helpers/tool-process.js'
import {buildStorm, median, PROBE_PATH, startToReady, tracedRun, untracedRate, type Storm, type Tracer, type TracedRun} from '../test/tools/helpers/tracer-bench.js'
import type {Row} from './row.js'

const BENCH = 'opensnoop'
const OPENS = 200_000
const REPEATS = 3
const PEER = '/usr/sbin/opensnoop'
const PEER_NAME = 'libbpf-tools opensnoop'

export default async function bench(): Promise<Row[]> {
  const s = new Scratch('bpftools-bench-')
  const bpfd = await Bpfd.start()
  try {
    const program = await buildStorm(s)
    const target = s.path('storm-target')
    writeFileSync(target, 'x\n')
    const storm: Storm = {
      command: `open-storm ${OPENS} ${target}`,
      events: OPENS,
      probe: 'probe-open 20',
      isProbe: (l) => l.endsWith(` ${PROBE_PATH}`),
      isStormEvent: (l, pid) => l.startsWith(`${pid} `) && l.endsWith(` ${target}`),
    }
    const ours: Tracer = {name: 'bpftools opensnoop', argv: (pid) => [BPFTOOLS, 'opensnoop', '-p', String(pid)]}
    const oursTcp: Tracer = {
      name: 'bpftools opensnoop over tcp',
      argv: (pid) => [BPFTOOLS, 'opensnoop', '--remote', bpfd.remote, '-p', String(pid)],
      helpers: [bpfd.child.pid!],
    }
    const peer: Tracer = {
      name: PEER_NAME,
      argv: (pid) => [PEER, '-p', String(pid)],
      // Its stdout is block-buffered into a file: the ready time is measured line-buffered.
      readyArgv: (pid) => ['stdbuf', '-oL', PEER, '-p', String(pid)],
    }
    const runs = new Map<Tracer, TracedRun[]>([[ours, []], [peer, []], [oursTcp, []]])
    const ready = new Map<Tracer, number[]>([[ours, []], [peer, []], [oursTcp, []]])
    const untraced: number[] = []
    // Interleaved, so drift in the machine's load touches every tracer alike.
    for (let i = 0; i < REPEATS; i++) {
      untraced.push(await untracedRate(program, storm))
      for (const t of runs.keys()) {
        runs.get(t)!.push(await tracedRun(program, t, storm, s.path('out.txt')))
        ready.get(t)!.push(await startToReady(program, t, storm, s.path('ready.txt')))
      }
    }
    const rate = (t: Tracer) => median(runs.get(t)!.map((r) => r.rate))
    const worstPrinted = (t: Tracer) => Math.min(...runs.get(t)!.map((r) => r.printed))
    const worstLost = (t: Tracer) => Math.max(...runs.get(t)!.map((r) => r.lost))
    const cpu = (t: Tracer) => Math.round(median(runs.get(t)!.map((r) => r.cpuSec)) * 100) / 100
    const readyMs = (t: Tracer) => median(ready.get(t)!)
    const row = (metric: string, unit: string, o: number, p: number | null, peerName = PEER_NAME): Row => ({bench: BENCH, metric, ours: o, peer: p, peerName, unit})
    const n = `${OPENS / 1000}k`
    return [
      row(`traced open() rate, ${n} opens (median of ${REPEATS})`, 'opens/s', Math.round(rate(ours)), Math.round(rate(peer))),
      row(`events printed of ${n} caused (worst of ${REPEATS})`, 'events', worstPrinted(ours), worstPrinted(peer)),
      row(`events lost (worst of ${REPEATS})`, 'events', worstLost(ours), worstLost(peer)),
      row(`tracer CPU, user+sys (median of ${REPEATS})`, 's', cpu(ours), cpu(peer)),
      row(`start-to-ready (median of ${REPEATS})`, 'ms', Math.round(readyMs(ours)), Math.round(readyMs(peer))),
      row('untraced open() rate (the storm alone)', 'opens/s', Math.round(median(untraced)), null, ''),
      row(`traced open() rate over tcp (median of ${REPEATS})`, 'opens/s', Math.round(rate(oursTcp)), Math.round(rate(peer)), `${PEER_NAME}, local`),
      row(`events lost over tcp (worst of ${REPEATS})`, 'events', worstLost(oursTcp), worstLost(peer), `${PEER_NAME}, local`),
      row(`tracer CPU over tcp, with bpfd (median of ${REPEATS})`, 's', cpu(oursTcp), cpu(peer), `${PEER_NAME}, local`),
    ]
  } finally {
    await bpfd.stop()
    s.remove()
  }
}
