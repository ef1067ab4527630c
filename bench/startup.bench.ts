/**
 * Start-to-ready of each tool against the peers doing its job: from spawn
 * until the tool's first line after attaching (see READY_LINE), every tool
 * started fresh each run, the runs interleaved so load drift touches all.
 */
import {BPFTOOLS} from '../test/tools/helpers/programs.js'
import {interrupt, median, spawnUntilLine} from './measure.js'
import {bpfccTool, bpftrace, BPFTRACE_SCRIPTS, isRunnable, libbpfTool, peerFigure, READY_LINE, type PeerCommand, type ToolName} from './peers.js'
import type {BenchContext, Row} from './row.js'

const BENCH = 'startup'
const STACK_TRACEPOINT = 'syscalls:sys_enter_getppid'
const HELP = [BPFTOOLS, 'opensnoop', '--help']

type Contender = {tool: ToolName; ours: string[]; peers: PeerCommand[]}

async function contenders(): Promise<Contender[]> {
  return [
    {
      tool: 'opensnoop',
      ours: [BPFTOOLS, 'opensnoop'],
      peers: [libbpfTool('opensnoop', [], {lineBuffered: true}), bpftrace('opensnoop', BPFTRACE_SCRIPTS.opensnoop()), await bpfccTool('opensnoop', [])],
    },
    {
      tool: 'execsnoop',
      ours: [BPFTOOLS, 'execsnoop'],
      peers: [libbpfTool('execsnoop', [], {lineBuffered: true}), bpftrace('execsnoop', BPFTRACE_SCRIPTS.execsnoop()), await bpfccTool('execsnoop', [])],
    },
    {
      tool: 'biolatency',
      ours: [BPFTOOLS, 'biolatency'],
      peers: [libbpfTool('biolatency', [], {lineBuffered: true}), bpftrace('biolatency', BPFTRACE_SCRIPTS.biolatency()), await bpfccTool('biolatency', [])],
    },
    {
      tool: 'stackcount',
      ours: [BPFTOOLS, 'stackcount', '-K', `t:${STACK_TRACEPOINT}`],
      peers: [libbpfTool('stackcount', []), bpftrace('stackcount', BPFTRACE_SCRIPTS.stackcount(STACK_TRACEPOINT)), await bpfccTool('stackcount', ['-K', `t:${STACK_TRACEPOINT}`])],
    },
  ]
}

/** One start: spawn, wait for the ready line, interrupt. */
async function readyMs(argv: string[], ready: RegExp, env?: NodeJS.ProcessEnv): Promise<number> {
  const w = await spawnUntilLine(argv, ready, {env})
  try {
    return w.ms
  } finally {
    await interrupt(w)
  }
}

export default async function bench(ctx: BenchContext): Promise<Row[]> {
  if (process.getuid?.() !== 0) throw new Error('tracing needs root')
  const all = await contenders()
  const times = new Map<string, number[]>()
  const record = (key: string, ms: number) => times.set(key, [...(times.get(key) ?? []), ms])
  // One untimed start of each, so every tool starts with warm disk caches and ours with its compiled object cached.
  for (let i = -1; i < ctx.runs; i++) {
    const help = await readyMs(HELP, /^USAGE/)
    if (i >= 0) record('help', help)
    for (const c of all) {
      const ours = await readyMs(c.ours, READY_LINE[c.tool])
      if (i >= 0) record(`${c.tool}/ours`, ours)
      for (const p of c.peers.filter(isRunnable)) {
        const ms = await readyMs(p.argv, READY_LINE[c.tool], p.env)
        if (i >= 0) record(`${c.tool}/${p.name}`, ms)
      }
    }
  }
  const rows: Row[] = all.map((c) => ({
    bench: BENCH,
    metric: `${c.tool} start-to-ready`,
    ours: Math.round(median(times.get(`${c.tool}/ours`)!)),
    unit: 'ms',
    better: 'lower' as const,
    peers: c.peers.map((p) => peerFigure(p, () => Math.round(median(times.get(`${c.tool}/${p.name}`)!)))),
    note:
      `Spawn to the first line printed after attaching (see "Start-to-ready"); ${ctx.runs} fresh start${ctx.runs === 1 ? '' : 's'} of each after one untimed warm-up start, interleaved with the peers', each ended with SIGINT. ` +
      `Ours: ${all.map((x) => `\`bpftools ${x.ours.slice(1).join(' ')}\``).join(', ')}, over the local transport (each starts its own bpfd); ` +
      'libbpf-tools and bcc with the same options; bpftrace running the scripts in bench/peers.ts.',
  }))
  rows.push({
    bench: BENCH,
    metric: 'of which node + oclif, loading no tool',
    ours: Math.round(median(times.get('help')!)),
    unit: 'ms',
    better: 'lower',
    peers: [],
    note: `Spawn of \`bpftools ${HELP.slice(1).join(' ')}\` to its USAGE line: node starting and oclif loading the command, before any bpfd, compile or BPF; the floor under each of our start-to-ready times.`,
  })
  return rows
}
