// biolatency on a target: time block requests from the block tracepoints
// and print log2 histograms of their latency at each interval.
import type {Client} from '../../remote/client.js'
import {LoadError} from '../../loader/errors.js'
import {kernelBtf} from '../../loader/kernel-btf.js'
import {assumeNoBtf, startTool} from '../bpf-tool.js'
import {everyInterval} from '../intervals.js'
import {readDisks} from './disks.js'
import type {Extension} from './format.js'
import {histograms, total} from './hist.js'
import {biolatencyGlobals, biolatencyPrograms, checkOptions, type BiolatencyOptions, type RecordOffsets, type RequestArgs} from './options.js'
import {requestArgs} from './request-args.js'
import {biolatencyOutput, type BiolatencySink} from './sink.js'
import {fieldOffset, parseTracepointFormat, TracepointFormatError} from './tp-format.js'
import {chooseVariant, tracepointVariant, type BiolatencyVariant} from './variant.js'
import type {ModelContext, RunContext} from '../context.js'

export type BiolatencyResult = {
  /** Requests timed over the whole run. */
  requests: number
}

/** Where dev, sector and rwbs are in the block tracepoints' records, read from the target's tracefs (one round trip). */
export async function recordOffsets(client: Client): Promise<RecordOffsets> {
  const tracefs = client.hello.tracefs
  if (!tracefs) throw new LoadError(`${client.transport}: the target has no tracefs mounted, so biolatency cannot use the block tracepoints`)
  const read = (ev: string) => client.readWholeFile(`${tracefs}/events/block/${ev}/format`).then((b) => parseTracepointFormat(b.toString('utf8')))
  let issue, done
  try {
    ;[issue, done] = await Promise.all([read('block_rq_issue'), read('block_rq_complete')])
  } catch (e) {
    throw new LoadError(`cannot read the block tracepoints' formats on the target (${(e as Error).message}); does its kernel have CONFIG_BLOCK and tracepoints?`)
  }
  try {
    return {
      rqDev: fieldOffset(issue, 'dev', [4], 'block:block_rq_issue'),
      rqSector: fieldOffset(issue, 'sector', [8], 'block:block_rq_issue'),
      doneDev: fieldOffset(done, 'dev', [4], 'block:block_rq_complete'),
      doneSector: fieldOffset(done, 'sector', [8], 'block:block_rq_complete'),
      doneRwbs: fieldOffset(done, 'rwbs', [8, 10], 'block:block_rq_complete'),
    }
  } catch (e) {
    if (e instanceof TracepointFormatError) throw new LoadError(`the target's block tracepoints are not as biolatency expects: ${e.message}`)
    throw e
  }
}

/**
 * The variant to load and what it needs: where the request is among the
 * BTF tracepoints' arguments (from the target's BTF, which the load needs
 * for CO-RE anyway), or the tracepoint records' offsets (from tracefs).
 */
async function programFor(client: Client, ctx: ModelContext): Promise<{variant: BiolatencyVariant; requestArgs?: RequestArgs; offsets?: RecordOffsets}> {
  let variant = chooseVariant(client.hello, assumeNoBtf())
  if (variant.btf) {
    const args = requestArgs(await kernelBtf(client, {logger: ctx.logger}))
    if (typeof args !== 'string') return {variant, requestArgs: args}
    variant = tracepointVariant(args)
  }
  return {variant, offsets: await recordOffsets(client)}
}

/** biolatency with bcc's text (or JSON) output. */
export function runBiolatency(client: Client, o: BiolatencyOptions, ctx: RunContext): Promise<BiolatencyResult> {
  return timeRequests(client, o, ctx, biolatencyOutput(o, ctx))
}

/** Times block requests and hands each interval's histograms to `sink`. */
export async function timeRequests(client: Client, o: BiolatencyOptions, ctx: ModelContext, sink: BiolatencySink): Promise<BiolatencyResult> {
  checkOptions(o)
  const [{variant, requestArgs: args, offsets}, disks] = await Promise.all([
    programFor(client, ctx),
    o.perDisk || o.disk !== undefined ? readDisks(client) : new Map<number, string>(),
  ])
  let dev: number | undefined
  if (o.disk !== undefined) {
    const want = o.disk.replace(/^\/dev\//, '')
    dev = [...disks].find(([, name]) => name === want)?.[0]
    if (dev === undefined) throw new LoadError(`the target has no disk '${o.disk}' (it has ${[...disks.values()].sort().join(', ') || 'none'})`)
  }
  const programs = biolatencyPrograms(o, args)
  const c = await startTool(client, {
    program: 'biolatency',
    globals: biolatencyGlobals(o, dev, offsets),
    defines: variant.btf ? undefined : {BIOLATENCY_NO_BTF: true},
    skip: (p) => !programs.has(p.name),
    machine: ctx.machine,
    logger: ctx.logger,
  })
  const result: BiolatencyResult = {requests: 0}
  try {
    ctx.logger?.debug(`timing block requests from ${o.queued ? 'block_rq_insert' : 'block_rq_issue'} to block_rq_complete with ${variant.description}`)
    await sink.start?.()
    ctx.onReady?.()
    const hists = c.map('hists')
    const ext = c.map('ext')
    await everyInterval({intervalSec: o.intervalSec, count: o.count, signal: ctx.signal}, async (last, index) => {
      // Both maps in one round trip; cleared as bcc clears them each interval.
      const [entries, extEntries] = await Promise.all([hists.dumpAndClear(), o.extended ? ext.dumpAndClear() : Promise.resolve([])])
      const hs = histograms(entries, o.perDisk ? 'disk' : o.perFlag ? 'flags' : undefined, disks)
      const extension: Extension | undefined = o.extended
        ? {totalNs: extEntries[0]?.value.readBigUInt64LE(0) ?? 0n, count: extEntries[0]?.value.readBigUInt64LE(8) ?? 0n}
        : undefined
      for (const h of hs) result.requests += Number(total(h))
      await sink.interval({index, last, time: new Date(), histograms: hs, extension})
    })
    return result
  } finally {
    await c.release()
  }
}

