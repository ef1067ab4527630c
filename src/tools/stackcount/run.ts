// stackcount on a target: attach one program to every probe the pattern
// names, then at each interval read the count and stack maps (one pipelined
// round trip, whatever their size), name the frames and print them.
import {writeFile} from 'node:fs/promises'
import type {Collection} from '../../loader/collection.js'
import type {MapEntry} from '../../loader/live-map.js'
import {foldStacks, parseFolded, type StackSample} from '../../output/folded.js'
import {renderFlameGraph} from '../../output/flamegraph.js'
import type {Client} from '../../remote/client.js'
import {Symbolizer} from '../../symbols/symbolizer.js'
import {startTool} from '../bpf-tool.js'
import {everyInterval} from '../intervals.js'
import {stackSamples, type SymbolizedStack} from './format.js'
import {parsePattern, stackChoice, stackcountGlobals, type StackChoice, type StackcountOptions} from './options.js'
import {attachProbes, describeProbe, findProbes} from './probes.js'
import {stackcountOutput, type StackcountSink} from './sink.js'
import {countedStacks, missingStackIds, stackTable, type CountedStack} from './stacks.js'
import type {ModelContext as BaseModelContext, RunContext as BaseRunContext} from '../context.js'

/** What the model needs from whoever runs it, whatever shows the stacks. */
export type ModelContext = BaseModelContext & {
  /** Where symbol tables are cached (default: the compile cache). */
  cacheDir?: string
}

/** The text or NDJSON output. */
export type RunContext = ModelContext & Omit<BaseRunContext, keyof BaseModelContext>

export type StackcountResult = {
  /** Events counted over the whole run. */
  events: number
  /** Probes attached. */
  probes: number
}

const DEFAULT_MAX_STACKS = 16384

/** Reads the maps once: both dumps are pipelined into one round trip. */
async function readStacks(c: Collection, clear: boolean): Promise<CountedStack[]> {
  const stacksMap = c.map('stack_traces')
  const countsMap = c.map('counts')
  // The stack map first: a count stored in between refers to a stack that
  // is still in the map, and is looked up below.
  const [stackEntries, countEntries] = await Promise.all(
    clear ? [stacksMap.dumpAndClear(), countsMap.dumpAndClear()] : [stacksMap.dump(), countsMap.dump()],
  )
  const table = stackTable(stackEntries)
  const counted = countedStacks(countEntries, table)
  const missing = missingStackIds(counted, table)
  if (missing.length) {
    const values = await Promise.all(missing.map((id) => stacksMap.lookup(idKey(id)).catch(() => undefined)))
    const extra: MapEntry[] = []
    missing.forEach((id, i) => {
      const v = values[i]
      if (v) extra.push({key: idKey(id), value: v})
    })
    return countedStacks(countEntries, new Map([...table, ...stackTable(extra)]))
  }
  return counted
}

/** bpf_get_stackid's -EEXIST (another stack has its hash bucket) and -ENOMEM (the map is full); other errors mean there is no such stack (a kernel thread's user stack). */
const STACK_NOT_STORED = new Set([-17, -12])

/** Events whose requested stack the kernel could not store. */
function lostStackEvents(stacks: readonly CountedStack[], s: StackChoice): number {
  let n = 0
  for (const k of stacks) {
    if ((s.kernel && STACK_NOT_STORED.has(k.kernelStackId)) || (s.user && STACK_NOT_STORED.has(k.userStackId))) n += k.count
  }
  return n
}

function idKey(id: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(id)
  return b
}

/** Names every frame: kernel ones from kallsyms, user ones through each process's maps and ELF files. */
export async function symbolizeStacks(sym: Symbolizer, stacks: readonly CountedStack[], offset: boolean): Promise<SymbolizedStack[]> {
  const pids = new Set<number>()
  for (const s of stacks) if (s.user.length && s.pid !== undefined) pids.add(s.pid)
  const needKernel = stacks.some((s) => s.kernel.length > 0)
  await Promise.all([needKernel ? sym.kernel() : undefined, sym.loadProcesses(pids)])
  const k = needKernel ? await sym.kernel() : undefined
  return stacks.map((s) => ({
    pid: s.pid,
    comm: s.comm,
    count: s.count,
    kernel: s.kernel.map((a) => ({address: a, name: k!.symbolize(a, {offset})})),
    user: s.user.map((a) => ({address: a, name: s.pid === undefined ? '[unknown]' : sym.userFrame(s.pid, a, {offset})})),
  }))
}

/** stackcount with bcc's text (or folded, or NDJSON) output. */
export function runStackcount(client: Client, o: StackcountOptions, ctx: RunContext): Promise<StackcountResult> {
  return countStacks(client, o, ctx, stackcountOutput(o, ctx))
}

/** Counts stacks and hands each interval's symbolised stacks to `sink`. */
export async function countStacks(client: Client, o: StackcountOptions, ctx: ModelContext, sink: StackcountSink): Promise<StackcountResult> {
  const probe = parsePattern(o.pattern)
  const choice: StackChoice = stackChoice(o, probe)
  const targets = await findProbes(client, probe, {regexp: o.regexp, pid: o.pid})
  const program = probe.kind === 'tracepoint' ? 'stackcount_tp' : 'stackcount_probe'
  const maxStacks = o.maxStacks ?? DEFAULT_MAX_STACKS
  const sym = new Symbolizer(client, {logger: ctx.logger, cacheDir: ctx.cacheDir})
  // Kernel symbols download while the program compiles and loads.
  if (choice.kernel) sym.kernel().catch(() => undefined)
  const c = await startTool(client, {
    program: 'stackcount',
    globals: stackcountGlobals(o, choice),
    maxEntries: {counts: maxStacks, stack_traces: maxStacks},
    skip: (p) => p.name !== program,
    attachesItself: true,
    machine: ctx.machine,
    logger: ctx.logger,
  })
  let events = 0
  let lostStacks = 0
  try {
    const prog = c.programs.get(program)!
    const {attached, failed} = await attachProbes(c, prog, targets, probe.kind === 'uprobe' ? o.pid : undefined)
    for (const f of failed) ctx.logger?.info(`not counting ${describeProbe(f.target)}: ${f.reason}`)
    ctx.logger?.debug(`attached to ${attached} of ${targets.length} probes`)
    // Read the traced process's maps now, so its stacks resolve even after it exits.
    if (o.pid !== undefined && choice.user) await sym.loadProcesses([o.pid])

    await sink.start?.({probes: attached, choice})
    ctx.onReady?.()
    const all: StackSample[] = []
    await everyInterval({intervalSec: o.intervalSec, durationSec: o.durationSec, signal: ctx.signal}, async (last, index) => {
      // The last read may leave the maps as they are: they are freed next.
      const counted = await readStacks(c, o.intervalSec !== undefined && !last)
      lostStacks += lostStackEvents(counted, choice)
      // bcc's folded lines name frames without offsets, -s or not.
      const stacks = await symbolizeStacks(sym, counted, o.offset && !o.folded)
      for (const s of stacks) events += s.count
      if (o.svg) all.push(...stackSamples(stacks))
      await sink.interval({index, last, time: new Date(), stacks})
    })
    if (lostStacks > 0) {
      ctx.logger?.info(`${lostStacks} events were counted without their stack: the stack map was full or two stacks hashed alike (a larger --max-stacks helps)`)
    }
    if (o.svg) {
      // The flame graph is drawn from the folded text, as any folded-stack tool would read it.
      const folded = parseFolded(foldStacks(all, {delimiter: choice.delimiter ? '-' : undefined}))
      await writeFile(o.svg, renderFlameGraph(folded, {title: `stackcount ${o.pattern}`, countName: 'events'}))
      ctx.logger?.debug(`wrote ${o.svg}`)
    }
    return {events, probes: attached}
  } finally {
    await c.release()
  }
}
