// execsnoop on a target: the model the text, JSON and dashboard views share.
import type {Client} from '../../remote/client.js'
import {openEvents} from '../../loader/streams.js'
import {assumeNoBtf, startTool} from '../bpf-tool.js'
import {pumpEvents, type PumpResult} from '../event-pump.js'
import {decodeExecEvent, type ExecEvent} from './event.js'
import {execsnoopWants, type LineContext} from './format.js'
import {execsnoopGlobals, type ExecsnoopOptions} from './options.js'
import {execsnoopOutput, type ExecRecord, type ExecsnoopSink} from './sink.js'
import type {ModelContext, RunContext} from '../context.js'
import {Processes} from '../../symbols/processes.js'


/** execsnoop with bcc's text (or NDJSON) output. */
export function runExecsnoop(client: Client, o: ExecsnoopOptions, ctx: RunContext): Promise<PumpResult> {
  return traceExecs(client, o, ctx, execsnoopOutput(o, ctx))
}

/** Traces execs and hands each batch of decoded events that pass the filters to `sink`. */
export async function traceExecs(client: Client, o: ExecsnoopOptions, ctx: ModelContext, sink: ExecsnoopSink): Promise<PumpResult> {
  // Without the target's BTF there is no CO-RE: the parent pid comes from the
  // target's /proc and the arguments from the caller at entry.
  const noBtf = !client.hello.btf || assumeNoBtf()
  if (noBtf) ctx.logger?.info(`${client.transport} has no kernel BTF: parent pids are read from /proc/PID/status (? for a process already gone), arguments from the caller at exec entry`)
  const procs = new Processes(client)
  const c = await startTool(client, {
    program: 'execsnoop',
    globals: execsnoopGlobals(o),
    defines: noBtf ? {EXECSNOOP_NO_BTF: true} : undefined,
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
        const events = records.map(decodeExecEvent)
        if (noBtf) await fillParents(events, procs)
        const batch: ExecRecord[] = []
        // One clock reading per batch: its records arrived together.
        let lc: LineContext | undefined
        for (const e of events) {
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

/** Each event's parent pid, read from the target's /proc (pipelined: one round trip a batch). */
async function fillParents(events: ExecEvent[], procs: Processes): Promise<void> {
  const parents = await Promise.all(events.map((e) => procs.status(e.pid)))
  events.forEach((e, i) => (e.ppid = parents[i]?.ppid ?? 0))
}
