/**
 * Event batches of one stream handle, buffered until the consumer reads them,
 * read as an async iterable by a single consumer.
 */

export interface EventBatch {
  /** The records of one `ev` frame, in order. */
  readonly records: Buffer[]
  /** Records lost since the previous batch of this stream. */
  readonly lost: number
}

function batchBytes(batch: EventBatch): number {
  let bytes = 0
  for (const record of batch.records) bytes += record.length
  return bytes
}

export class EventQueue implements AsyncIterable<EventBatch> {
  /** Record bytes waiting for the consumer. */
  bufferedBytes = 0
  private items: EventBatch[] = []
  private head = 0
  private ended = false
  private failure: Error | undefined
  private waiter: {resolve(r: IteratorResult<EventBatch>): void; reject(e: Error): void} | undefined
  private claimed = false

  /** `onRelease` hears of bytes leaving the buffer (read or dropped), for flow control. */
  constructor(private readonly onRelease: (bytes: number) => void = () => {}) {}

  /** Batches waiting for the consumer. */
  get buffered(): number {
    return this.items.length - this.head
  }

  get isEnded(): boolean {
    return this.ended
  }

  push(batch: EventBatch): void {
    if (this.ended) return
    if (this.waiter) {
      const waiter = this.waiter
      this.waiter = undefined
      waiter.resolve({value: batch, done: false})
      return
    }
    this.items.push(batch)
    this.bufferedBytes += batchBytes(batch)
  }

  /** No more batches; with an error, the consumer gets it after the buffered batches. */
  end(error?: Error): void {
    if (this.ended) return
    this.ended = true
    this.failure = error
    if (this.waiter) {
      const waiter = this.waiter
      this.waiter = undefined
      if (error) waiter.reject(error)
      else waiter.resolve({value: undefined, done: true})
    }
  }

  private next(): Promise<IteratorResult<EventBatch>> {
    if (this.head < this.items.length) {
      const value = this.items[this.head++]
      const bytes = batchBytes(value)
      this.bufferedBytes -= bytes
      this.onRelease(bytes)
      // Drop consumed entries now and then so a long-lived stream does not grow the array.
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head)
        this.head = 0
      }
      return Promise.resolve({value, done: false})
    }
    if (this.ended) {
      if (this.failure) {
        const failure = this.failure
        this.failure = undefined
        return Promise.reject(failure)
      }
      return Promise.resolve({value: undefined, done: true})
    }
    if (this.waiter) return Promise.reject(new Error('event stream is already being awaited'))
    return new Promise((resolve, reject) => {
      this.waiter = {resolve, reject}
    })
  }

  [Symbol.asyncIterator](): AsyncIterator<EventBatch> {
    if (this.claimed) throw new Error('event stream already has a consumer')
    this.claimed = true
    return {
      next: () => this.next(),
      return: () => {
        // The consumer stopped: drop what is buffered; later batches are discarded.
        const bytes = this.bufferedBytes
        this.bufferedBytes = 0
        this.onRelease(bytes)
        this.items = []
        this.head = 0
        this.ended = true
        this.failure = undefined
        return Promise.resolve({value: undefined, done: true})
      },
    }
  }
}
