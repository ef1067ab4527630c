// opensnoop on a target: the model the text, JSON and dashboard views share.
import type {Client} from '../../remote/client.js'
import {Processes} from '../../symbols/processes.js'
import {startTool, targetArch} from '../bpf-tool.js'
import {pumpEvents, type PumpResult} from '../event-pump.js'
import {openEvents} from '../../loader/streams.js'
import {decodeOpenEvent, type OpenEvent} from './event.js'
import {opensnoopGlobals, type OpensnoopOptions} from './options.js'
import {opensnoopOutput, type OpenRecord, type OpensnoopSink} from './sink.js'
import type {ModelContext, RunContext} from '../context.js'

/** Resolves the path to print for an event: as given, or absolute with -F. */
export function pathResolver(o: OpensnoopOptions, procs: Processes): (e: OpenEvent) => string | Promise<string> {
  if (!o.fullPath) return (e) => e.path
  return (e) => (e.path.startsWith('/') ? e.path : procs.absolutePath(e.pid, e.dfd, e.path))
}

/** opensnoop with bcc's text (or NDJSON) output. */
export function runOpensnoop(client: Client, o: OpensnoopOptions, ctx: RunContext): Promise<PumpResult> {
  return traceOpens(client, o, ctx, opensnoopOutput(o, ctx))
}

/** Traces opens and hands each batch of decoded events that pass the filters to `sink`. */
export async function traceOpens(client: Client, o: OpensnoopOptions, ctx: ModelContext, sink: OpensnoopSink): Promise<PumpResult> {
  const arch = targetArch(client, ctx.machine)
  const globals = opensnoopGlobals(o, arch)
  const ringBytes = o.bufferPages * client.hello.pageSize
  const c = await startTool(client, {
    program: 'opensnoop',
    globals,
    maxEntries: {events: ringBytes},
    // Not every architecture has open(2) (arm64 has only openat), nor every kernel openat2.
    optional: (p) => p.attach.kind === 'tracepoint' && p.attach.category === 'syscalls',
    machine: ctx.machine,
    logger: ctx.logger,
  })
  try {
    const stream = await openEvents(c, 'events')
    const procs = new Processes(client)
    const path = pathResolver(o, procs)
    let firstUs: bigint | undefined
    await sink.start?.()
    ctx.onReady?.()
    const result = await pumpEvents(stream, {
      durationSec: o.durationSec,
      signal: ctx.signal,
      // The sink does the writing.
      write: () => undefined,
      render: async (records) => {
        const batch: OpenRecord[] = []
        for (const r of records) {
          const e = decodeOpenEvent(r)
          if (o.name !== undefined && !e.comm.includes(o.name)) continue
          firstUs ??= e.tsNs / 1000n
          // Only -F waits for the target; awaiting every path would cost a microtask per event.
          const p = path(e)
          batch.push({event: e, line: {firstUs, arch, path: typeof p === 'string' ? p : await p}})
        }
        if (batch.length) await sink.events(batch)
        return ''
      },
    })
    const dropped = (await c.readGlobal('lost_events').catch(() => undefined))?.readBigUInt64LE(0) ?? 0n
    return {records: result.records, lost: result.lost + Number(dropped)}
  } finally {
    await c.release()
  }
}

