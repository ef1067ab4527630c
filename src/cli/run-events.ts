// How an event tool runs in a terminal: data to stdout (respecting
// backpressure, so a slow pipe slows the reader rather than growing memory),
// status to stderr, Ctrl-C ends cleanly with a summary of lost events.
import type {Logger} from '../remote/transport.js'
import type {RunContext} from '../tools/context.js'
import type {PumpResult} from '../tools/event-pump.js'

export type EventRunContext = RunContext & {logger: Logger; signal: AbortSignal}

export function lostMessage(lost: number): string {
  return `${lost} events lost (the target produced them faster than they were read; a larger buffer may help)`
}

export async function runEventTool(
  base: {json: boolean; machine?: string; logger: Logger},
  run: (ctx: EventRunContext) => Promise<PumpResult>,
): Promise<PumpResult> {
  const abort = new AbortController()
  const onSignal = () => {
    // A second Ctrl-C while cleaning up means: stop now.
    if (abort.signal.aborted) process.exit(130)
    abort.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  // A reader that went away (`| head`) ends the trace like Ctrl-C does.
  let closed = false
  const onStdoutError = () => {
    closed = true
    process.stdout.emit('drain')
    abort.abort()
  }
  process.stdout.on('error', onStdoutError)
  const write = (text: string): void | Promise<void> => {
    if (closed || process.stdout.write(text)) return
    return new Promise((resolve) => process.stdout.once('drain', resolve))
  }
  try {
    const result = await run({...base, signal: abort.signal, write})
    if (result.lost > 0) base.logger.info(lostMessage(result.lost))
    base.logger.debug(`${result.records} events received`)
    return result
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.stdout.off('error', onStdoutError)
  }
}
