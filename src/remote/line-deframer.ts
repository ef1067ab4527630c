/**
 * Turns a byte stream into protocol lines: chunks in, complete lines out.
 * Pure: the caller feeds it whatever the transport delivered.
 */
import {ProtocolError} from './errors.js'

/**
 * Replies carry whole map dumps as base64 (bpfd allows 256 MiB of keys and
 * values, about 342 MiB encoded), so they can be far larger than requests;
 * this bounds memory when the peer is not bpfd at all.
 */
export const DEFAULT_MAX_LINE_BYTES = 400 * 1024 * 1024

const NEWLINE = 0x0a
const CR = 0x0d

export class LineDeframer {
  private parts: Buffer[] = []
  private partBytes = 0

  constructor(readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES) {}

  /** Bytes of an unfinished line held back, waiting for its newline. */
  get pending(): number {
    return this.partBytes
  }

  /**
   * Feeds one chunk; returns the lines it completed, without `\n` (and
   * without a `\r` before it). Empty lines are dropped, as the protocol says.
   */
  push(chunk: Buffer): string[] {
    const lines: string[] = []
    let start = 0
    for (;;) {
      const end = chunk.indexOf(NEWLINE, start)
      if (end < 0) break
      this.check(end - start)
      let line: Buffer
      if (this.parts.length === 0) {
        line = chunk.subarray(start, end)
      } else {
        this.parts.push(chunk.subarray(start, end))
        line = Buffer.concat(this.parts, this.partBytes + end - start)
        this.parts = []
        this.partBytes = 0
      }
      let length = line.length
      if (length > 0 && line[length - 1] === CR) length--
      if (length > 0) lines.push(line.toString('latin1', 0, length))
      start = end + 1
    }
    if (start < chunk.length) {
      this.check(chunk.length - start)
      // Copy: the transport may reuse its chunk buffers.
      const rest = Buffer.from(chunk.subarray(start))
      this.parts.push(rest)
      this.partBytes += rest.length
    }
    return lines
  }

  /** Call at end of stream: fails if a line was cut off without its newline. */
  end(): void {
    if (this.partBytes > 0) {
      const bytes = this.partBytes
      this.parts = []
      this.partBytes = 0
      throw new ProtocolError(`stream ended inside a line (${bytes} bytes without a newline)`)
    }
  }

  private check(extra: number): void {
    if (this.partBytes + extra > this.maxLineBytes) {
      const bytes = this.partBytes + extra
      this.parts = []
      this.partBytes = 0
      throw new ProtocolError(`line longer than ${this.maxLineBytes} bytes (at least ${bytes})`)
    }
  }
}
