/**
 * An in-process stand-in for bpfd over a pair of in-memory streams, for
 * testing the client's pipelining, demultiplexing and failure handling
 * without a kernel. Tests script its replies.
 */
import {PassThrough, Writable} from 'node:stream'
import type {Channel, EndReason, Transport} from '../../src/remote/transport.js'

export interface FakeRequest {
  readonly id: number
  readonly op: string
  readonly args: ReadonlyMap<string, string>
  readonly line: string
}

export const HELLO_FIELDS =
  'proto=1 bpfd=0.1.0 release=6.18.44 machine=x86_64 page_size=4096 cpus_possible=0-1 cpus_online=0-1 ' +
  'ncpus=2 uid=0 btf=1 btf_size=6012345 tracefs=/sys/kernel/tracing boot_id=4b3e ringbuf=1 batch=1 kprobe=none uprobe=pmu link=1'

export class FakeBpfd {
  /** Bytes to the host. */
  readonly toHost = new PassThrough()
  /** Every write the host made, as it made it. */
  readonly writes: string[] = []
  readonly requests: FakeRequest[] = []
  /** Replies lines for a request; return nothing to leave it unanswered. */
  onRequest: (request: FakeRequest, peer: FakeBpfd) => string | string[] | undefined = (request) =>
    request.op === 'hello' ? `ok ${request.id} ${HELLO_FIELDS}` : `ok ${request.id}`
  endReason: EndReason = {reason: 'fake bpfd exited with code 1', stderrTail: 'fake: fatal'}
  destroyed = false
  private partial = ''

  readonly fromHost = new Writable({
    write: (chunk: Buffer, _encoding, callback) => {
      const text = chunk.toString('latin1')
      this.writes.push(text)
      this.partial += text
      const lines = this.partial.split('\n')
      this.partial = lines.pop() ?? ''
      for (const line of lines) this.handle(line)
      callback()
    },
  })

  private handle(line: string): void {
    const [id, op, ...rest] = line.split(' ')
    const args = new Map(rest.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string]))
    const request = {id: Number(id), op, args, line}
    this.requests.push(request)
    const reply = this.onRequest(request, this)
    if (reply !== undefined) this.send(...(Array.isArray(reply) ? reply : [reply]))
    // Like bpfd: after answering quit, the stream ends.
    if (op === 'quit' && reply !== undefined) this.toHost.end()
  }

  send(...lines: string[]): void {
    this.toHost.write(lines.map((l) => l + '\n').join(''))
  }

  /** The peer vanishes: its output ends. */
  die(): void {
    this.toHost.end()
  }

  channel(authToken?: string): Channel {
    return {
      readable: this.toHost,
      writable: this.fromHost,
      authToken,
      endReason: async () => this.endReason,
      destroy: () => {
        this.destroyed = true
        if (!this.toHost.writableEnded) this.toHost.end()
      },
    }
  }

  transport(description = 'fake:1', authToken?: string): Transport {
    return {description, open: async () => this.channel(authToken)}
  }
}
