/**
 * The host's handle on one bpfd: connects over any transport, says hello,
 * and offers every protocol operation as a typed method. All methods can be
 * called without awaiting the previous one; they are pipelined.
 */
import type {Args, Fields} from './codec.js'
import {Connection, type ConnectionOptions, type ConnectionStats} from './connection.js'
import {BpfdError, PermissionError, ProtocolError, ProtocolVersionError, TransportError} from './errors.js'
import type {EventBatch} from './event-queue.js'
import {type Hello, parseHello, PROTOCOL_VERSION} from './hello.js'
import type {OpenOptions, Transport} from './transport.js'

export interface ClientOptions extends OpenOptions, ConnectionOptions {
  /** How long to wait for bpfd's hello before giving up. */
  readonly helloTimeoutMs?: number
}

export interface MapCreateSpec {
  /** `enum bpf_map_type` number. */
  readonly type: number
  readonly keySize: number
  readonly valueSize: number
  readonly maxEntries: number
  readonly flags?: number
  readonly name?: string
  /** BTF describing key and value. */
  readonly btf?: {readonly handle: number; readonly keyTypeId: number; readonly valueTypeId: number}
  /** Template map for array/hash of maps. */
  readonly inner?: number
  readonly ifindex?: number
}

export interface MapDumpOptions {
  /** At most this many entries (default: the map's max_entries). */
  readonly max?: number
  /** Remove the returned entries. */
  readonly delete?: boolean
  /** Bytes per key; derived from the reply when absent. */
  readonly keySize?: number
  /** Bytes per value as returned (per-CPU maps: ncpus slots rounded to 8); derived when absent. */
  readonly valueSize?: number
}

export interface MapDump {
  readonly keys: Buffer[]
  readonly values: Buffer[]
  /** bpfd used the kernel's batch operations (not its next-key loop). */
  readonly batched: boolean
}

export interface ProgLoadSpec {
  /** `enum bpf_prog_type` number. */
  readonly type: number
  /** Raw `struct bpf_insn`s, map handles already in their immediates. */
  readonly insns: Uint8Array
  readonly license: string
  readonly name?: string
  readonly attachType?: number
  readonly btf?: {
    readonly handle: number
    readonly funcInfo: Uint8Array
    readonly funcInfoRecSize: number
    readonly lineInfo: Uint8Array
    readonly lineInfoRecSize: number
  }
  readonly attachBtfId?: number
  readonly kernVersion?: number
  readonly logLevel?: number
  readonly logSize?: number
  readonly flags?: number
}

export interface ProgLoadResult {
  readonly handle: number
  /** The verifier log, when one was asked for. */
  readonly log?: string
}

export type ProbeVia = 'pmu' | 'tracefs'

export interface ProbeAttachment {
  readonly handle: number
  readonly via: ProbeVia
}

/** Give exactly one of `period` and `freq`. */
export interface PerfEventSpec {
  readonly type: number
  readonly config: number | bigint
  readonly cpu: number
  readonly pid?: number
  readonly period?: number | bigint
  readonly freq?: number
}

export interface FileChunk {
  readonly data: Buffer<ArrayBuffer>
  /** The file ended within this read. */
  readonly eof: boolean
}

export type DirEntryType = 'dir' | 'file' | 'link' | 'other'

/** What `stat` says about a file (symbolic links followed). */
export interface FileStat {
  readonly type: 'dir' | 'file' | 'other'
  /** Permission bits. */
  readonly mode: number
  /** The device holding the file. */
  readonly major: number
  readonly minor: number
  readonly ino: bigint
  readonly size: number
  readonly mtimeNs: bigint
  readonly ctimeNs: bigint
}

const STAT_TYPES: Record<string, FileStat['type']> = {d: 'dir', f: 'file', o: 'other'}

export interface DirEntry {
  readonly type: DirEntryType
  readonly name: string
}

const ENTRY_TYPES: Record<string, DirEntryType> = {d: 'dir', f: 'file', l: 'link', o: 'other'}

/** bpfd's default and largest `read` sizes. */
const DEFAULT_CHUNK = 4 * 1024 * 1024

function isErrno(error: unknown, errname: string): boolean {
  return error instanceof BpfdError && error.errname === errname
}

function decodeLog(fields: Fields): string | undefined {
  return fields.optB64('log')?.toString('utf8').replace(/\0+$/, '')
}

/** Splits back-to-back fixed-size entries. */
function splitFixed(fields: Fields, key: string, data: Buffer, n: number, size: number | undefined): Buffer[] {
  if (n === 0) {
    if (data.length !== 0) throw fields.fail(key, `has ${data.length} bytes for 0 entries`)
    return []
  }
  const each = size ?? data.length / n
  if (!Number.isInteger(each) || data.length !== each * n) {
    throw fields.fail(key, `has ${data.length} bytes, not ${n} entries${size === undefined ? ' of one size' : ` of ${size} bytes`}`)
  }
  const out: Buffer[] = []
  for (let i = 0; i < n; i++) out.push(data.subarray(i * each, (i + 1) * each))
  return out
}

export class Client {
  private constructor(
    private readonly connection: Connection,
    /** What bpfd said about the target. */
    readonly hello: Hello,
  ) {}

  /** Opens the transport, authenticates where it carries a token, and says hello. */
  static async connect(transport: Transport, options: ClientOptions = {}): Promise<Client> {
    const channel = await transport.open(options)
    const connection = new Connection(channel, transport.description, options)
    const name = transport.description
    // auth and hello go out together: one round trip.
    const auth = channel.authToken === undefined ? undefined : connection.request('auth', {token: channel.authToken})
    const hello = connection.request('hello', {proto: PROTOCOL_VERSION})
    let timer: NodeJS.Timeout | undefined
    const helloTimeoutMs = options.helloTimeoutMs ?? 30_000
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TransportError(name, `${name}: no reply to hello within ${helloTimeoutMs / 1000} s (is bpfd at the other end?)`)),
        helloTimeoutMs,
      )
    })
    try {
      const [authResult, helloResult] = await Promise.race([Promise.allSettled([auth, hello]), timeout])
      if (authResult.status === 'rejected') {
        const error = authResult.reason as Error
        if (error instanceof BpfdError) throw new PermissionError(name, `bpfd rejected the token: ${error.detail}`)
        throw error
      }
      if (helloResult.status === 'rejected') {
        const error = helloResult.reason as Error
        if (error instanceof BpfdError && error.errname === 'EPROTO') {
          throw new ProtocolVersionError(name, PROTOCOL_VERSION, undefined, error.detail)
        }
        throw error
      }
      const fields = helloResult.value
      const info = parseHello(fields)
      if (info.proto !== PROTOCOL_VERSION) {
        throw new ProtocolVersionError(name, PROTOCOL_VERSION, info.proto, 'hello reply')
      }
      return new Client(connection, info)
    } catch (error) {
      connection.destroy()
      throw error
    } finally {
      clearTimeout(timer)
    }
  }

  /** How the user named the target. */
  get transport(): string {
    return this.connection.transport
  }

  /** Requests and round trips so far. */
  get stats(): ConnectionStats {
    return this.connection.stats
  }

  /** Sends any request; resolves with the reply's fields or rejects with a BpfdError. */
  request(op: string, args?: Args): Promise<Fields> {
    return this.connection.request(op, args)
  }

  /** Event batches of a stream handle (ringbuf/perfbuf/trace pipe), until it is closed. */
  events(handle: number): AsyncIterable<EventBatch> {
    return this.connection.events(handle)
  }

  /** Says `quit`, waits for bpfd to release everything, and ends the connection. */
  close(): Promise<void> {
    return this.connection.close()
  }

  /** Ends the connection at once; bpfd still releases everything when it sees the end. */
  destroy(): void {
    this.connection.destroy()
  }

  // ------------------------------------------------------------ maps

  async mapCreate(spec: MapCreateSpec): Promise<number> {
    const reply = await this.request('map_create', {
      type: spec.type,
      key: spec.keySize,
      value: spec.valueSize,
      max: spec.maxEntries,
      flags: spec.flags,
      name: spec.name,
      btf: spec.btf?.handle,
      btf_key: spec.btf?.keyTypeId,
      btf_value: spec.btf?.valueTypeId,
      inner: spec.inner,
      ifindex: spec.ifindex,
    })
    return reply.int('h')
  }

  /** The value under `key`, or undefined when there is none. */
  async mapLookup(handle: number, key: Uint8Array, flags?: number | bigint): Promise<Buffer<ArrayBuffer> | undefined> {
    try {
      return (await this.request('map_lookup', {h: handle, key, flags})).b64('value')
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined
      throw error
    }
  }

  async mapUpdate(handle: number, key: Uint8Array, value: Uint8Array, flags?: number | bigint): Promise<void> {
    await this.request('map_update', {h: handle, key, value, flags})
  }

  /** Deletes `key`; false when it was not there. */
  async mapDelete(handle: number, key: Uint8Array): Promise<boolean> {
    try {
      await this.request('map_delete', {h: handle, key})
      return true
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return false
      throw error
    }
  }

  /** The key after `key` (the first key without one), or undefined past the last. */
  async mapNextKey(handle: number, key?: Uint8Array): Promise<Buffer<ArrayBuffer> | undefined> {
    try {
      return (await this.request('map_next', {h: handle, key})).b64('key')
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined
      throw error
    }
  }

  /** Up to `max` entries in one request (lookup-and-delete with `delete`). */
  async mapDump(handle: number, options: MapDumpOptions = {}): Promise<MapDump> {
    const reply = await this.request('map_dump', {h: handle, max: options.max, delete: options.delete})
    const n = reply.int('n')
    if (n < 0) throw reply.fail('n', `is negative (${n})`)
    return {
      keys: splitFixed(reply, 'keys', reply.b64('keys'), n, options.keySize),
      values: splitFixed(reply, 'values', reply.b64('values'), n, options.valueSize),
      batched: reply.bool('batch'),
    }
  }

  // ------------------------------------------------------------ BTF and programs

  /** Loads BTF; a rejection is a BpfdError whose `log` holds the kernel's complaint. */
  async btfLoad(data: Uint8Array, options: {logLevel?: number} = {}): Promise<number> {
    return (await this.request('btf_load', {data, log_level: options.logLevel})).int('h')
  }

  /** Loads a program; a rejection is a BpfdError whose `log` holds the verifier log. */
  async progLoad(spec: ProgLoadSpec): Promise<ProgLoadResult> {
    const reply = await this.request('prog_load', {
      type: spec.type,
      insns: spec.insns,
      license: spec.license,
      name: spec.name,
      attach_type: spec.attachType,
      btf: spec.btf?.handle,
      func_info: spec.btf?.funcInfo,
      func_info_rec: spec.btf?.funcInfoRecSize,
      line_info: spec.btf?.lineInfo,
      line_info_rec: spec.btf?.lineInfoRecSize,
      attach_btf_id: spec.attachBtfId,
      kern_version: spec.kernVersion,
      log_level: spec.logLevel,
      log_size: spec.logSize,
      flags: spec.flags,
    })
    return {handle: reply.int('h'), log: decodeLog(reply)}
  }

  // ------------------------------------------------------------ attaching

  async attachTracepoint(prog: number, category: string, name: string): Promise<{handle: number; id: number}> {
    const reply = await this.request('attach_tracepoint', {prog, category, name})
    return {handle: reply.int('h'), id: reply.int('id')}
  }

  async attachRawTracepoint(prog: number, name: string): Promise<number> {
    return (await this.request('attach_raw_tracepoint', {prog, name})).int('h')
  }

  async attachKprobe(
    prog: number,
    func: string,
    options: {offset?: number; ret?: boolean; maxactive?: number} = {},
  ): Promise<ProbeAttachment> {
    const reply = await this.request('attach_kprobe', {prog, func, offset: options.offset, ret: options.ret, maxactive: options.maxactive})
    return {handle: reply.int('h'), via: reply.oneOf('via', ['pmu', 'tracefs'])}
  }

  async attachUprobe(
    prog: number,
    path: string,
    offset: number | bigint,
    options: {ret?: boolean; pid?: number} = {},
  ): Promise<ProbeAttachment> {
    const reply = await this.request('attach_uprobe', {prog, path, offset, ret: options.ret, pid: options.pid})
    return {handle: reply.int('h'), via: reply.oneOf('via', ['pmu', 'tracefs'])}
  }

  async attachPerfEvent(prog: number, spec: PerfEventSpec): Promise<number> {
    const reply = await this.request('attach_perf_event', {
      prog,
      type: spec.type,
      config: spec.config,
      cpu: spec.cpu,
      pid: spec.pid,
      period: spec.period,
      freq: spec.freq,
    })
    return reply.int('h')
  }

  /** fentry/fexit/tp_btf programs loaded with an attach_btf_id. */
  async attachTracing(prog: number): Promise<number> {
    return (await this.request('attach_tracing', {prog})).int('h')
  }

  // ------------------------------------------------------------ streams

  async ringbufOpen(map: number, options: {batchBytes?: number} = {}): Promise<number> {
    return (await this.request('ringbuf_open', {map, batch_bytes: options.batchBytes})).int('h')
  }

  async perfbufOpen(
    map: number,
    options: {pages?: number; cpus?: readonly number[]; batchBytes?: number} = {},
  ): Promise<number> {
    const args = {map, pages: options.pages, cpus: options.cpus, batch_bytes: options.batchBytes}
    return (await this.request('perfbuf_open', args)).int('h')
  }

  async tracePipeOpen(): Promise<number> {
    return (await this.request('trace_pipe_open')).int('h')
  }

  /** Frees any handle; a stream's `events()` ends. */
  async closeHandle(handle: number): Promise<void> {
    await this.request('close', {h: handle})
  }

  // ------------------------------------------------------------ files

  async readFile(path: string, options: {offset?: number; len?: number} = {}): Promise<FileChunk> {
    const reply = await this.request('read', {path, offset: options.offset, len: options.len})
    return {data: reply.b64('data'), eof: reply.bool('eof')}
  }

  /**
   * Reads a whole file. With a known `size` (e.g. hello's btf_size) every
   * chunk is requested at once; otherwise chunk after chunk until the end.
   */
  async readWholeFile(path: string, options: {size?: number; chunkSize?: number} = {}): Promise<Buffer<ArrayBuffer>> {
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK
    const parts: Buffer<ArrayBuffer>[] = []
    let offset = 0
    if (options.size !== undefined && options.size > 0) {
      // One request per chunk up to the size, plus one at the size itself when
      // it falls on a chunk boundary, so the last reply can say eof.
      const requests: Promise<FileChunk>[] = []
      for (let at = 0; at <= options.size; at += chunkSize) {
        requests.push(this.readFile(path, {offset: at, len: chunkSize}))
      }
      const chunks = await Promise.all(requests)
      for (const chunk of chunks) {
        parts.push(chunk.data)
        offset += chunk.data.length
        if (chunk.eof) return Buffer.concat(parts)
        // A short read before the end: the later chunks are not contiguous; go on one by one.
        if (chunk.data.length < chunkSize) break
      }
    }
    for (;;) {
      const chunk = await this.readFile(path, {offset, len: chunkSize})
      parts.push(chunk.data)
      offset += chunk.data.length
      if (chunk.eof) return Buffer.concat(parts)
      if (chunk.data.length === 0) {
        throw new ProtocolError(`${this.transport}: read of ${path} at offset ${offset} returned no data and no eof`)
      }
    }
  }

  async listDir(path: string): Promise<DirEntry[]> {
    const reply = await this.request('list', {path})
    return reply.strList('entries').map((entry, i) => {
      const colon = entry.indexOf(':')
      const type = colon < 0 ? undefined : ENTRY_TYPES[entry.slice(0, colon)]
      if (!type) throw reply.fail('entries', `item ${i} '${entry}' is not TYPE:NAME`)
      return {type, name: entry.slice(colon + 1)}
    })
  }

  async readlink(path: string): Promise<string> {
    return (await this.request('readlink', {path})).str('target')
  }

  /** A file's identity, size and times, without reading it. Concurrent calls share one round trip. */
  async stat(path: string): Promise<FileStat> {
    const reply = await this.request('stat', {path})
    const t = reply.str('type')
    const type = STAT_TYPES[t]
    if (!type) throw reply.fail('type', `'${t}' is not f, d or o`)
    return {
      type,
      mode: reply.int('mode'),
      major: reply.int('major'),
      minor: reply.int('minor'),
      ino: reply.bigint('ino'),
      size: reply.int('size'),
      mtimeNs: reply.bigint('mtime_ns'),
      ctimeNs: reply.bigint('ctime_ns'),
    }
  }
}
