// The loop every event tool runs: read batches from a stream, turn records
// into output, stop on Ctrl-C, on --duration or when the target goes away,
// and count what was lost on the way.
import type {EventStream} from '../loader/streams.js'

export type PumpOptions = {
  /** Seconds to run; forever when absent. */
  durationSec?: number
  /** Ends the pump (Ctrl-C). */
  signal?: AbortSignal
  /** Turns one batch of records into output text ('' for none). */
  render(records: Buffer[]): string | Promise<string>
  write(text: string): void | Promise<void>
}

export type PumpResult = {records: number; lost: number}

export async function pumpEvents(stream: EventStream, o: PumpOptions): Promise<PumpResult> {
  let records = 0
  let lost = 0
  let stopped = false
  const stop = () => {
    if (stopped) return
    stopped = true
    void stream.close()
  }
  const timer = o.durationSec === undefined ? undefined : setTimeout(stop, o.durationSec * 1000)
  o.signal?.addEventListener('abort', stop, {once: true})
  if (o.signal?.aborted) stop()
  try {
    for await (const batch of stream) {
      lost += batch.lost
      records += batch.records.length
      const text = await o.render(batch.records)
      if (text) await o.write(text)
      if (stopped) break
    }
  } finally {
    clearTimeout(timer)
    o.signal?.removeEventListener('abort', stop)
  }
  return {records, lost}
}
