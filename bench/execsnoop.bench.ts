/**
 * execsnoop against libbpf-tools' execsnoop, a bpftrace script doing its job
 * and (where it runs) bcc's, on one fork+exec storm: a process forking
 * children that exec /bin/true one after another, each tracer writing to a
 * file.
 */
import {BPFTOOLS, Scratch} from '../test/tools/helpers/programs.js'
import {Bpfd} from '../test/tools/helpers/tool-process.js'
import {bpfccTool, bpftrace, BPFTRACE_SCRIPTS, libbpfTool} from './peers.js'
import type {BenchContext, Row} from './row.js'
import {buildStorm, peerTracer, stormRows, type Storm, type Tracer} from './tracers.js'

const BENCH = 'execsnoop'

/** PCOMM, PPID and RET of an execsnoop line (every tracer here prints bcc's fixed widths). */
function columns(line: string): {comm: string; ppid: number; ret: number} | undefined {
  const m = /^(.{16}) \d+ +(\d+) +(-?\d+) /.exec(line)
  return m ? {comm: m[1]!.trimEnd(), ppid: Number(m[2]), ret: Number(m[3])} : undefined
}

export default async function bench(ctx: BenchContext): Promise<Row[]> {
  const execs = ctx.short ? 500 : 3000
  const s = new Scratch('bpftools-bench-')
  const bpfd = await Bpfd.start()
  try {
    const program = await buildStorm(s)
    const storm: Storm = {
      command: `exec-storm ${execs}`,
      events: execs,
      // Children failing to exec: every tracer shows them (-x), and no other process makes them.
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
    // libbpf-tools has no parent filter; ours filters on the host, so all do the same kernel work.
    const ours: Tracer = {name: 'bpftools execsnoop', argv: (pid) => [BPFTOOLS, 'execsnoop', '-x', '-P', String(pid)]}
    const oursTcp: Tracer = {
      name: 'bpftools execsnoop over tcp',
      argv: (pid) => [BPFTOOLS, 'execsnoop', '--remote', bpfd.remote, '-x', '-P', String(pid)],
      helpers: [bpfd.child.pid!],
    }
    const bcc = await bpfccTool('execsnoop', ['-x'])
    const peers = [
      peerTracer((_pid, lb) => libbpfTool('execsnoop', ['-x'], {lineBuffered: lb})),
      peerTracer(() => bpftrace('execsnoop', BPFTRACE_SCRIPTS.execsnoop())),
      peerTracer(() => bcc),
    ]
    return await stormRows(program, storm, s, {
      bench: BENCH,
      what: 'fork+exec',
      plural: 'execs',
      unit: 'execs/s',
      events: execs,
      runs: ctx.runs,
      ours,
      oursTcp,
      peers,
      rss: false,
      method:
        `A C program forks ${execs} children one after another, each exec()ing /bin/true, while each tracer writes every exec on the machine (with failed ones, -x) to a file; ` +
        'ours filters on the parent pid (-P) on the host, after the same kernel work. Tracers and the untraced storm interleaved, each run with a fresh tracer.',
    })
  } finally {
    await bpfd.stop()
    s.remove()
  }
}
