/**
 * Start-to-ready of each tool against the peers doing its job: from spawn
 * until the tool's first line after attaching (see READY_LINE), every tool
 * started fresh each run, the runs interleaved so load drift touches all.
 */
import {BPFTOOLS} from '../test/tools/helpers/programs.js'
import {Bpfd} from '../test/tools/helpers/tool-process.js'
import {interrupt, median, spawnUntilLine} from './measure.js'
import {bpfccTool, bpftrace, BPFTRACE_SCRIPTS, isRunnable, libbpfTool, peerFigure, READY_LINE, type PeerCommand, type ToolName} from './peers.js'
import type {BenchContext, Row} from './row.js'

const BENCH = 'startup'
const STACK_TRACEPOINT = 'syscalls:sys_enter_getppid'
const HELP = [BPFTOOLS, 'opensnoop', '--help']

type Contender = {tool: ToolName; label: string; ours: string[]; peers: PeerCommand[]}

async function contenders(remote: string): Promise<Contender[]> {
  return [
    {
      tool: 'opensnoop',
      label: 'opensnoop',
      ours: [BPFTOOLS, 'opensnoop'],
      peers: [libbpfTool('opensnoop', [], {lineBuffered: true}), bpftrace('opensnoop', BPFTRACE_SCRIPTS.opensnoop()), await bpfccTool('opensnoop', [])],
    },
    {
      tool: 'execsnoop',
      label: 'execsnoop',
      ours: [BPFTOOLS, 'execsnoop'],
      peers: [libbpfTool('execsnoop', [], {lineBuffered: true}), bpftrace('execsnoop', BPFTRACE_SCRIPTS.execsnoop()), await bpfccTool('execsnoop', [])],
    },
    {
      tool: 'biolatency',
      label: 'biolatency',
      ours: [BPFTOOLS, 'biolatency'],
      peers: [libbpfTool('biolatency', [], {lineBuffered: true}), bpftrace('biolatency', BPFTRACE_SCRIPTS.biolatency()), await bpfccTool('biolatency', [])],
    },
    {
      tool: 'stackcount',
      label: 'stackcount',
      ours: [BPFTOOLS, 'stackcount', '-K', `t:${STACK_TRACEPOINT}`],
      peers: [libbpfTool('stackcount', []), bpftrace('stackcount', BPFTRACE_SCRIPTS.stackcount(STACK_TRACEPOINT)), await bpfccTool('stackcount', ['-K', `t:${STACK_TRACEPOINT}`])],
    },
    // No peer traces another machine; this is what --remote costs at start against the local figure above.
    {tool: 'opensnoop', label: 'opensnoop --remote tcp (bpfd listening)', ours: [BPFTOOLS, 'opensnoop', '--remote', remote], peers: []},
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
  const bpfd = await Bpfd.start()
  try {
    return await measure(ctx, await contenders(bpfd.remote))
  } finally {
    await bpfd.stop()
  }
}

async function measure(ctx: BenchContext, all: Contender[]): Promise<Row[]> {
  const times = new Map<string, number[]>()
  const record = (key: string, ms: number) => times.set(key, [...(times.get(key) ?? []), ms])
  // One untimed start of each, so every tool starts with warm disk caches and ours with its compiled object cached.
  for (let i = -1; i < ctx.runs; i++) {
    const help = await readyMs(HELP, /^USAGE/)
    if (i >= 0) record('help', help)
    for (const c of all) {
      const ours = await readyMs(c.ours, READY_LINE[c.tool])
      if (i >= 0) record(`${c.label}/ours`, ours)
      for (const p of c.peers.filter(isRunnable)) {
        const ms = await readyMs(p.argv, READY_LINE[c.tool], p.env)
        if (i >= 0) record(`${c.label}/${p.name}`, ms)
      }
    }
  }
  const rows: Row[] = all.map((c) => ({
    bench: BENCH,
    metric: `${c.label} start-to-ready`,
    ours: Math.round(median(times.get(`${c.label}/ours`)!)),
    unit: 'ms',
    better: 'lower' as const,
    peers: c.peers.map((p) => peerFigure(p, () => Math.round(median(times.get(`${c.label}/${p.name}`)!)))),
    note:
      `Spawn to the first line printed after attaching (see "Start-to-ready"); ${ctx.runs} fresh start${ctx.runs === 1 ? '' : 's'} of each after one untimed warm-up start, interleaved with the peers', each ended with SIGINT. ` +
      `Ours: ${all.filter((x) => x.peers.length).map((x) => `\`bpftools ${x.ours.slice(1).join(' ')}\``).join(', ')}, over the local transport (each starts its own bpfd), and opensnoop over tcp to a bpfd --listen on 127.0.0.1 started once; ` +
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
