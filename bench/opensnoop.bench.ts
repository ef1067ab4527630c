/**
 * opensnoop against libbpf-tools' opensnoop on one open() storm: 200k opens
 * of one file as fast as one process can, each tracer filtering by its pid
 * and writing to a file. Figures: the storm's rate while traced, events
 * printed of those caused, the tracer's CPU, and its start-to-ready time.
 */
import {writeFileSync} from 'node:fs'
import {BPFTOOLS, Scratch} from '../test/tools/helpers/programs.js'
import {Bpfd} from '../test/tools/helpers/tool-process.js'
import {buildStorm, compareTracers, PROBE_PATH, type Storm, type Tracer} from '../test/tools/helpers/tracer-bench.js'
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
    const {untracedRate, figures} = await compareTracers(program, [ours, peer, oursTcp], storm, s, REPEATS)
    const rate = (t: Tracer) => figures(t).rate
    const worstPrinted = (t: Tracer) => figures(t).worstPrinted
    const worstLost = (t: Tracer) => figures(t).worstLost
    const cpu = (t: Tracer) => figures(t).cpuSec
    const readyMs = (t: Tracer) => figures(t).readyMs
    const row = (metric: string, unit: string, o: number, p: number | null, peerName = PEER_NAME): Row => ({bench: BENCH, metric, ours: o, peer: p, peerName, unit})
    const n = `${OPENS / 1000}k`
    return [
      row(`traced open() rate, ${n} opens (median of ${REPEATS})`, 'opens/s', Math.round(rate(ours)), Math.round(rate(peer))),
      row(`events printed of ${n} caused (worst of ${REPEATS})`, 'events', worstPrinted(ours), worstPrinted(peer)),
      row(`events lost (worst of ${REPEATS})`, 'events', worstLost(ours), worstLost(peer)),
      row(`tracer CPU, user+sys (median of ${REPEATS})`, 's', cpu(ours), cpu(peer)),
      row(`start-to-ready (median of ${REPEATS})`, 'ms', Math.round(readyMs(ours)), Math.round(readyMs(peer))),
      row('untraced open() rate (the storm alone)', 'opens/s', Math.round(untracedRate), null, ''),
      row(`traced open() rate over tcp (median of ${REPEATS})`, 'opens/s', Math.round(rate(oursTcp)), Math.round(rate(peer)), `${PEER_NAME}, local`),
      row(`events lost over tcp (worst of ${REPEATS})`, 'events', worstLost(oursTcp), worstLost(peer), `${PEER_NAME}, local`),
      row(`tracer CPU over tcp, with bpfd (median of ${REPEATS})`, 's', cpu(oursTcp), cpu(peer), `${PEER_NAME}, local`),
    ]
  } finally {
    await bpfd.stop()
    s.remove()
  }
}
