// execsnoop on a target: the model the text, JSON and dashboard views share.
import type {Client} from '../../remote/client.js'
import {openEvents} from '../../loader/streams.js'
import {startTool} from '../bpf-tool.js'
import {pumpEvents, type PumpResult} from '../event-pump.js'
import type {EventRunContext} from '../../cli/run-events.js'
import {decodeExecEvent} from './event.js'
import {execsnoopHeader, execsnoopJson, execsnoopLine, execsnoopWants, type LineContext} from './format.js'
import {execsnoopGlobals, type ExecsnoopOptions} from './options.js'

export async function runExecsnoop(client: Client, o: ExecsnoopOptions, ctx: EventRunContext & {durationSec?: number}): Promise<PumpResult> {
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
    if (!ctx.json) await ctx.write(execsnoopHeader(o) + '\n')
    const result = await pumpEvents(stream, {
      durationSec: ctx.durationSec,
      signal: ctx.signal,
      write: ctx.write,
      render: (records) => {
        let out = ''
        // One clock reading per batch: its records arrived together.
        let lc: LineContext | undefined
        for (const r of records) {
          const e = decodeExecEvent(r)
          if (!execsnoopWants(e, o)) continue
          lc ??= {elapsedSec: Number(process.hrtime.bigint() - started) / 1e9, now: new Date()}
          out += (ctx.json ? JSON.stringify(execsnoopJson(e, lc)) : execsnoopLine(e, o, lc)) + '\n'
        }
        return out
      },
    })
    const dropped = (await c.readGlobal('lost_events').catch(() => undefined))?.readBigUInt64LE(0) ?? 0n
    return {records: result.records, lost: result.lost + Number(dropped)}
  } finally {
    await c.release()
  }
}
