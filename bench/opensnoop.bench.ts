/**
 * opensnoop against libbpf-tools' opensnoop, a bpftrace script doing its job
 * and (where it runs) bcc's, on one open() storm: 200k opens of one file as
 * fast as one process can, each tracer filtering by its pid and writing to a
 * file. Also where the memory goes: node host, bpfd, each peer.
 */
import {writeFileSync} from 'node:fs'
import {BPFTOOLS, Scratch} from '../test/tools/helpers/programs.js'
import {Bpfd} from '../test/tools/helpers/tool-process.js'
import {bpfccTool, bpftrace, BPFTRACE_SCRIPTS, libbpfTool} from './peers.js'
import type {BenchContext, Row} from './row.js'
import {buildStorm, peerTracer, PROBE_PATH, stormRows, type Storm, type Tracer} from './tracers.js'

const BENCH = 'opensnoop'

export default async function bench(ctx: BenchContext): Promise<Row[]> {
  const opens = ctx.short ? 20_000 : 200_000
  const s = new Scratch('bpftools-bench-')
  const bpfd = await Bpfd.start()
  try {
    const program = await buildStorm(s)
    const target = s.path('storm-target')
    writeFileSync(target, 'x\n')
    const storm: Storm = {
      command: `open-storm ${opens} ${target}`,
      events: opens,
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
    const bcc = await bpfccTool('opensnoop', [])
    const peers = [
      peerTracer((pid, lb) => libbpfTool('opensnoop', ['-p', String(pid)], {lineBuffered: lb})),
      peerTracer((pid) => bpftrace('opensnoop', BPFTRACE_SCRIPTS.opensnoop(pid))),
      peerTracer((pid) => ('argv' in bcc ? {...bcc, argv: [...bcc.argv, '-p', String(pid)]} : bcc)),
    ]
    return await stormRows(program, storm, s, {
      bench: BENCH,
      what: 'open()',
      plural: 'opens',
      unit: 'opens/s',
      events: opens,
      runs: ctx.runs,
      ours,
      oursTcp,
      peers,
      rss: true,
      method:
        `A C program opens and closes one file ${opens} times in a loop while each tracer, filtering on its pid (-p; the bpftrace script: /pid == N/ on sys_enter_openat, printing at sys_exit_openat), writes to a file; ` +
        'tracers and the untraced storm interleaved, each run with a fresh tracer.',
    })
  } finally {
    await bpfd.stop()
    s.remove()
  }
}
