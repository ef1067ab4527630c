/**
 * execsnoop against libbpf-tools' execsnoop on one fork+exec storm: a process
 * forking children that exec /bin/true one after another, each tracer
 * writing to a file. Figures: the storm's rate while traced, events printed
 * of those caused, the tracer's CPU, and its start-to-ready time.
 */
import {BPFTOOLS, Scratch} from '../test/tools/helpers/programs.js'
import {Bpfd} from '../test/tools/helpers/tool-process.js'
import {buildStorm, compareTracers, type Storm, type Tracer} from '../test/tools/helpers/tracer-bench.js'
import type {Row} from './row.js'

const BENCH = 'execsnoop'
const EXECS = 3000
const REPEATS = 3
const PEER = '/usr/sbin/execsnoop'
const PEER_NAME = 'libbpf-tools execsnoop'

/** PCOMM, PPID and RET of an execsnoop line (both tools print bcc's fixed widths). */
function columns(line: string): {comm: string; ppid: number; ret: number} | undefined {
  const m = /^(.{16}) \d+ +(\d+) +(-?\d+) /.exec(line)
  return m ? {comm: m[1]!.trimEnd(), ppid: Number(m[2]), ret: Number(m[3])} : undefined
}

export default async function bench(): Promise<Row[]> {
  const s = new Scratch('bpftools-bench-')
  const bpfd = await Bpfd.start()
  try {
    const program = await buildStorm(s)
    const storm: Storm = {
      command: `exec-storm ${EXECS}`,
      events: EXECS,
      // Children failing to exec: both tracers show them with -x, and no other process makes them.
      probe: 'probe-exec 2',
      isProbe: (l, pid) => {
        const c = columns(l)
        return c !== undefined && c.ppid === pid && c.ret < 0
      },
      isStormEvent: (l, pid) => {
        const c = columns(l)
        return c !== undefined && c.ppid === pid && c.ret === 0 && c.comm === 'true'
      },
    }
    // Only libbpf-tools lacks a parent filter; ours filters on the host, so both do the same kernel work.
    const ours: Tracer = {name: 'bpftools execsnoop', argv: (pid) => [BPFTOOLS, 'execsnoop', '-x', '-P', String(pid)]}
    const oursTcp: Tracer = {
      name: 'bpftools execsnoop over tcp',
      argv: (pid) => [BPFTOOLS, 'execsnoop', '--remote', bpfd.remote, '-x', '-P', String(pid)],
      helpers: [bpfd.child.pid!],
    }
    const peer: Tracer = {
      name: PEER_NAME,
      argv: () => [PEER, '-x'],
      readyArgv: () => ['stdbuf', '-oL', PEER, '-x'],
    }
    const {untracedRate, figures} = await compareTracers(program, [ours, peer, oursTcp], storm, s, REPEATS)
    const rate = (t: Tracer) => figures(t).rate
    const worstPrinted = (t: Tracer) => figures(t).worstPrinted
    const worstLost = (t: Tracer) => figures(t).worstLost
    const cpu = (t: Tracer) => figures(t).cpuSec
    const readyMs = (t: Tracer) => figures(t).readyMs
    const row = (metric: string, unit: string, o: number, p: number | null, peerName = PEER_NAME): Row => ({bench: BENCH, metric, ours: o, peer: p, peerName, unit})
    const n = `${EXECS / 1000}k`
    return [
      row(`traced fork+exec rate, ${n} execs (median of ${REPEATS})`, 'execs/s', Math.round(rate(ours)), Math.round(rate(peer))),
      row(`events printed of ${n} caused (worst of ${REPEATS})`, 'events', worstPrinted(ours), worstPrinted(peer)),
      row(`events lost (worst of ${REPEATS})`, 'events', worstLost(ours), worstLost(peer)),
      row(`tracer CPU, user+sys (median of ${REPEATS})`, 's', cpu(ours), cpu(peer)),
      row(`start-to-ready (median of ${REPEATS})`, 'ms', Math.round(readyMs(ours)), Math.round(readyMs(peer))),
      row('untraced fork+exec rate (the storm alone)', 'execs/s', Math.round(untracedRate), null, ''),
      row(`traced fork+exec rate over tcp (median of ${REPEATS})`, 'execs/s', Math.round(rate(oursTcp)), Math.round(rate(peer)), `${PEER_NAME}, local`),
      row(`events lost over tcp (worst of ${REPEATS})`, 'events', worstLost(oursTcp), worstLost(peer), `${PEER_NAME}, local`),
      row(`tracer CPU over tcp, with bpfd (median of ${REPEATS})`, 's', cpu(oursTcp), cpu(peer), `${PEER_NAME}, local`),
    ]
  } finally {
    await bpfd.stop()
    s.remove()
  }
}
