// Event streams from a ring buffer or a perf event array: bpfd polls the
// kernel's buffers and pushes batches; this hands them out as an async
// iterable of records with lost counts. Decoding is the caller's.
import {MapType} from '../object/index.js'
import type {EventBatch} from '../remote/event-queue.js'
import type {Collection} from './collection.js'
import {LoadError} from './errors.js'

export type StreamOptions = {
  /** Data pages per CPU of a perf buffer (a power of two). */
  pages?: number
}

export type EventStream = AsyncIterable<EventBatch> & {handle: number; close(): Promise<void>}

export async function openEvents(c: Collection, mapName: string, options: StreamOptions = {}): Promise<EventStream> {
  const m = c.map(mapName)
  let handle: number
  if (m.spec.type === MapType.RINGBUF) handle = await c.client.ringbufOpen(m.handle)
  else if (m.spec.type === MapType.PERF_EVENT_ARRAY) handle = await c.client.perfbufOpen(m.handle, {pages: options.pages})
  else throw new LoadError(`map '${mapName}' is neither a ring buffer nor a perf event array`)
  return stream(c, handle)
}

/**
 * The target's trace pipe: `bpf_printk` output of every program on the
 * target (not only this collection's), one text line per record. Reading it
 * consumes it, so other readers of the pipe miss what this one reads.
 */
export async function openTracePipe(c: Collection): Promise<EventStream> {
  return stream(c, await c.client.tracePipeOpen())
}

function stream(c: Collection, handle: number): EventStream {
  c.own(handle)
  const events = c.client.events(handle)
  return {
    handle,
    [Symbol.asyncIterator]: () => events[Symbol.asyncIterator](),
    close: () => c.closeOwned(handle),
  }
}
