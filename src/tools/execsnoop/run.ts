// execsnoop on a target: the model the text, JSON and dashboard views share.
import type {Client} from '../../remote/client.js'
import {openEvents} from '../../loader/streams.js'
import {startTool} from '../bpf-tool.js'
import {pumpEvents, type PumpResult} from '../event-pump.js'
import {decodeExecEvent} from './event.js'
import {execsnoopWants, type LineContext} from './format.js'
import {execsnoopGlobals, type ExecsnoopOptions} from './options.js'
import {execsnoopOutput, type ExecRecord, type ExecsnoopSink} from './sink.js'
import type {ModelContext, RunContext} from '../context.js'

/** execsnoop with bcc's text (or NDJSON) output. */
export function runExecsnoop(client: Client, o: ExecsnoopOptions, ctx: RunContext): Promise<PumpResult> {
  return traceExecs(client, o, ctx, execsnoopOutput(o, ctx))
}

/** Traces execs and hands each batch of decoded events that pass the filters to `sink`. */
export async function traceExecs(client: Client, o: ExecsnoopOptions, ctx: ModelContext, sink: ExecsnoopSink): Promise<PumpResult> {
  const c = await startTool(client, {
    program: 'execsnoop',
    globals: execsnoopGlobals(o),
    // execveat(2) is missing on old kernels; execve is what matters.
    optional: (p) => p.attach.kind === 'tracepoint' && p.attach.name.includes('execveat'),
    machine: ctx.machine,
    logger: ctx.logger,
  })
  try {
    const stream = await openEvents(c, 'events')
    const started = process.hrtime.bigint()
    await sink.start?.()
    ctx.onReady?.()
    const result = await pumpEvents(stream, {
      durationSec: ctx.durationSec,
      signal: ctx.signal,
      // The sink does the writing.
      write: () => undefined,
      render: async (records) => {
        const batch: ExecRecord[] = []
        // One clock reading per batch: its records arrived together.
        let lc: LineContext | undefined
        for (const r of records) {
          const e = decodeExecEvent(r)
          if (!execsnoopWants(e, o)) continue
          lc ??= {elapsedSec: Number(process.hrtime.bigint() - started) / 1e9, now: new Date()}
          batch.push({event: e, line: lc})
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

