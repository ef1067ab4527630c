/**
 * One protocol session over a Channel: numbers requests, pipelines them
 * (requests issued in the same tick go out in one write), matches replies to
 * requests by id, routes event frames to per-stream queues, and fails
 * everything outstanding with one TransportError when the peer dies.
 */
import {type Args, decodeFrame, encodeRequest, type ErrFrame, type Fields, type Frame} from './codec.js'
import {BpfdError, ProtocolError, TransportError} from './errors.js'
import {type EventBatch, EventQueue} from './event-queue.js'
import {LineDeframer} from './line-deframer.js'
import type {Channel} from './transport.js'

export interface ConnectionOptions {
  /** Longest line accepted from bpfd. */
  readonly maxLineBytes?: number
  /**
   * Unread event bytes at which the host stops reading from bpfd (while no
   * reply is awaited), so a slow consumer leaves records in the kernel's
   * buffers, where losses are counted, rather than in host memory.
   */
  readonly eventHighWaterBytes?: number
  /** How long `close()` waits for bpfd to finish before killing the channel. */
  readonly closeTimeoutMs?: number
}

export interface ConnectionStats {
  /** Requests sent. */
  readonly requests: number
  /** Times the host sent requests while none were outstanding, i.e. had to wait a full round trip. */
  readonly roundTrips: number
  readonly bytesSent: number
  readonly bytesReceived: number
  /** Event frames received. */
  readonly eventFrames: number
}

interface Pending {
  readonly op: string
  /** For `close`: the handle whose event stream ends with the reply. */
  readonly closes?: number
  resolve(fields: Fields): void
  reject(error: Error): void
}

/** bpfd's limit on a request line (docs/protocol.md), newline excluded. */
const MAX_REQUEST_LINE = 64 * 1024 * 1024

/** Writes larger than this are split so no single string gets huge. */
const MAX_WRITE_CHARS = 16 * 1024 * 1024

/** How long the stream may take to end after bpfd answered quit. */
const QUIT_GRACE_MS = 200

export class Connection {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly streams = new Map<number, EventQueue>()
  private readonly deframer: LineDeframer
  private queue: string[] = []
  private flushScheduled = false
  /** Requests written and not yet answered. */
  private inFlight = 0
  private stat = {requests: 0, roundTrips: 0, bytesSent: 0, bytesReceived: 0, eventFrames: 0}
  /** Set once the session is over; every later request fails with it (undefined after a clean close). */
  private finished: Promise<Error | undefined> | undefined
  private closing: Promise<void> | undefined
  private readableEnded!: Promise<void>
  private readonly closeTimeoutMs: number
  private readonly eventHighWater: number
  private bufferedEventBytes = 0
  private paused = false

  constructor(
    private readonly channel: Channel,
    /** How the user named the target, for error messages. */
    readonly transport: string,
    options: ConnectionOptions = {},
  ) {
    this.deframer = new LineDeframer(options.maxLineBytes)
    this.closeTimeoutMs = options.closeTimeoutMs ?? 3000
    this.eventHighWater = options.eventHighWaterBytes ?? 64 * 1024 * 1024
    this.readableEnded = new Promise((resolve) => {
      const {readable, writable} = channel
      readable.on('data', (chunk: Buffer) => this.onData(chunk))
      readable.once('end', () => {
        resolve()
        this.onEnd()
      })
      readable.once('error', (error: Error) => {
        resolve()
        this.peerGone(error)
      })
      readable.once('close', () => {
        resolve()
        this.peerGone()
      })
      // A write to a dead peer (EPIPE) shows up here; the readable side reports the death.
      writable.on('error', (error: Error) => this.peerGone(error))
    })
  }

  get stats(): ConnectionStats {
    return {...this.stat}
  }

  /** True once the session has ended, cleanly or not. */
  get isFinished(): boolean {
    return this.finished !== undefined
  }

  /**
   * Sends one request; resolves with the reply's fields, rejects with a
   * BpfdError for an `err` reply, or a TransportError / ProtocolError when
   * the session failed.
   */
  request(op: string, args: Args = {}): Promise<Fields> {
    if (this.finished) return this.finished.then((error) => Promise.reject(error ?? this.closedError(op)))
    if (this.closing && op !== 'quit') return Promise.reject(this.closedError(op))
    const id = this.nextId
    const line = encodeRequest(id, op, args)
    if (line.length - 1 > MAX_REQUEST_LINE) {
      return Promise.reject(
        new ProtocolError(`${op}: request of ${line.length - 1} bytes is longer than the protocol's ${MAX_REQUEST_LINE} byte line limit`),
      )
    }
    // Ids double as line numbers (bpfd's `line=`), so only lines sent take one.
    this.nextId++
    // A reply must be able to arrive past unread events.
    this.resumeReading()
    return new Promise<Fields>((resolve, reject) => {
      const closes = op === 'close' && typeof args.h === 'number' ? args.h : undefined
      this.pending.set(id, {op, closes, resolve, reject})
      this.enqueue(line)
    })
  }

  /**
   * The event batches of a stream handle, buffered until read. Ends when the
   * handle is closed or the session ends; throws the TransportError if the
   * session died.
   */
  events(handle: number): AsyncIterable<EventBatch> {
    return this.queueFor(handle)
  }

  /**
   * Ends the session: sends `quit`, waits for bpfd to answer and end the
   * stream (so it can release every kernel object), kills it after a timeout.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing
    if (this.finished) return Promise.resolve()
    const quit = this.request('quit').catch(() => undefined)
    this.closing = (async () => {
      let timer: NodeJS.Timeout | undefined
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.closeTimeoutMs)
      })
      const done = (async () => {
        // bpfd answers quit only once it has freed everything, so after the
        // reply the end of the stream is a courtesy: wait for it briefly
        // (a child process to exit), not for the full timeout.
        if ((await quit) !== undefined) {
          const ended = Promise.all([this.readableEnded, this.channel.endReason()]).then(() => false)
          return Promise.race([ended, new Promise<boolean>((resolve) => setTimeout(() => resolve(true), QUIT_GRACE_MS))])
        }
        await this.readableEnded
        await this.channel.endReason()
        return false
      })()
      const killed = await Promise.race([done, timedOut])
      clearTimeout(timer)
      if (killed) this.channel.destroy()
      this.finish(undefined)
    })()
    return this.closing
  }

  /** Kills the channel without the `quit` handshake; bpfd still frees everything when it sees the end. */
  destroy(): void {
    if (!this.finished) {
      this.finish(new TransportError(this.transport, `connection to ${this.transport} was closed by the host`))
    }
    this.channel.destroy()
  }

  // ------------------------------------------------------------ writing

  private enqueue(line: string): void {
    this.queue.push(line)
    this.stat.requests++
    if (!this.flushScheduled) {
      this.flushScheduled = true
      // setImmediate rather than a microtask: requests issued across several
      // awaits of already-settled promises still share one write.
      setImmediate(() => this.flush())
    }
  }

  private flush(): void {
    this.flushScheduled = false
    if (this.queue.length === 0 || this.finished) return
    if (this.inFlight === 0) this.stat.roundTrips++
    this.inFlight += this.queue.length
    const lines = this.queue
    this.queue = []
    let batch: string[] = []
    let chars = 0
    const write = () => {
      const text = batch.join('')
      this.stat.bytesSent += text.length
      this.channel.writable.write(text, 'latin1')
      batch = []
      chars = 0
    }
    for (const line of lines) {
      if (chars + line.length > MAX_WRITE_CHARS && batch.length > 0) write()
      batch.push(line)
      chars += line.length
    }
    if (batch.length > 0) write()
  }

  // ------------------------------------------------------------ reading

  private onData(chunk: Buffer): void {
    if (this.finished) return
    this.stat.bytesReceived += chunk.length
    try {
      for (const line of this.deframer.push(chunk)) this.dispatch(decodeFrame(line))
    } catch (error) {
      this.protocolFailure(error as Error)
      return
    }
    if (this.bufferedEventBytes > this.eventHighWater && this.pending.size === 0 && !this.paused) {
      this.paused = true
      this.channel.readable.pause()
    }
  }

  private resumeReading(): void {
    if (!this.paused) return
    this.paused = false
    this.channel.readable.resume()
  }

  private eventsReleased(bytes: number): void {
    this.bufferedEventBytes -= bytes
    if (this.bufferedEventBytes <= this.eventHighWater / 2) this.resumeReading()
  }

  private onEnd(): void {
    let cut: Error | undefined
    try {
      this.deframer.end()
    } catch (error) {
      cut = error as Error
    }
    // A line cut off by the end of the stream is a peer that died mid-write
    // (killed, or its link cut), not a malformed frame.
    this.peerGone(cut)
  }

  private dispatch(frame: Frame): void {
    if (frame.kind === 'ev') {
      this.stat.eventFrames++
      const queue = this.queueFor(frame.stream)
      const before = queue.bufferedBytes
      queue.push({records: frame.records, lost: frame.lost})
      this.bufferedEventBytes += queue.bufferedBytes - before
      return
    }
    const id = frame.id === 0 ? this.unreadableLineId(frame) : frame.id
    const entry = id === undefined ? undefined : this.pending.get(id)
    if (id === undefined || !entry) {
      throw new ProtocolError(`${frame.kind} reply for id ${frame.id}, which has no outstanding request`)
    }
    this.pending.delete(id)
    this.inFlight--
    if (frame.kind === 'ok') {
      frame.fields.context = `reply to ${entry.op} (id ${id})`
      if (entry.closes !== undefined) this.endStream(entry.closes)
      entry.resolve(frame.fields)
    } else {
      entry.reject(toBpfdError(entry.op, frame))
    }
  }

  /**
   * The request an `err 0` (a line bpfd could not read an id from) is about.
   * Each request is one line and ids count lines from 1, so bpfd's `line=`
   * is the id; without it, bpfd answers in order, so it is the oldest.
   */
  private unreadableLineId(frame: Frame & {kind: 'ok' | 'err'}): number | undefined {
    let line: number | undefined
    try {
      line = frame.fields.optInt('line')
    } catch {
      line = undefined
    }
    if (line !== undefined && this.pending.has(line)) return line
    return this.pending.keys().next().value
  }

  private queueFor(handle: number): EventQueue {
    let queue = this.streams.get(handle)
    if (!queue) {
      queue = new EventQueue((bytes) => this.eventsReleased(bytes))
      this.streams.set(handle, queue)
      if (this.finished) void this.finished.then((error) => queue!.end(error))
    }
    return queue
  }

  private endStream(handle: number): void {
    const queue = this.streams.get(handle)
    if (queue) {
      this.streams.delete(handle)
      queue.end()
    }
  }

  // ------------------------------------------------------------ failure

  private closedError(op: string): TransportError {
    return new TransportError(this.transport, `${op}: connection to ${this.transport} is closed`)
  }

  private protocolFailure(error: Error): void {
    if (this.finished) return
    const failure =
      error instanceof ProtocolError
        ? new ProtocolError(`${this.transport}: ${error.message}`, error.field, error.frame)
        : error
    this.channel.destroy()
    this.finish(failure)
  }

  /** The peer went away (EOF, error, child exit). */
  private peerGone(cause?: Error): void {
    if (this.finished) return
    if (this.closing && this.pending.size === 0) {
      // The expected end after `quit`.
      this.finish(undefined)
      return
    }
    this.finish(
      this.channel.endReason().then(
        ({reason, stderrTail}) =>
          new TransportError(this.transport, `connection to ${this.transport} closed: ${reason}`, {
            cause,
            stderrTail,
          }),
      ),
    )
  }

  private finish(outcome: Error | undefined | Promise<Error>): void {
    if (this.finished) return
    this.finished = Promise.resolve(outcome)
    this.queue = []
    void this.finished.then((error) => {
      const pending = [...this.pending.values()]
      this.pending.clear()
      this.inFlight = 0
      for (const entry of pending) entry.reject(error ?? this.closedError(entry.op))
      const streams = [...this.streams.values()]
      this.streams.clear()
      for (const queue of streams) queue.end(error)
    })
  }
}

function toBpfdError(op: string, frame: ErrFrame): BpfdError {
  const {fields} = frame
  let detail: string
  try {
    detail = fields.optStr('msg') ?? ''
  } catch {
    detail = fields.optRaw('msg') ?? ''
  }
  let log: string | undefined
  try {
    log = fields.optB64('log')?.toString('utf8').replace(/\0+$/, '')
  } catch {
    log = undefined
  }
  let line: number | undefined
  try {
    line = fields.optInt('line')
  } catch {
    line = undefined
  }
  return new BpfdError(op, frame.errname, frame.errno, detail, log, line)
}
