/**
 * The bpfd wire format (docs/protocol.md): request lines out, reply and event
 * lines in. Pure functions over strings and Buffers; no I/O.
 */
import {ProtocolError} from './errors.js'

/** A value the host can send as a request argument. */
export type ArgValue = number | bigint | string | Uint8Array | boolean | readonly (string | number)[]

/** Request arguments; `undefined` values are left out so optional ones read naturally. */
export type Args = Readonly<Record<string, ArgValue | undefined>>

export interface OkFrame {
  readonly kind: 'ok'
  readonly id: number
  readonly fields: Fields
}

export interface ErrFrame {
  readonly kind: 'err'
  readonly id: number
  readonly errname: string
  readonly errno: number
  /** Holds `msg`, and `log` / `line` where bpfd sent them. */
  readonly fields: Fields
}

export interface EventFrame {
  readonly kind: 'ev'
  readonly stream: number
  readonly n: number
  readonly lost: number
  readonly records: Buffer[]
}

export type Frame = OkFrame | ErrFrame | EventFrame

/** Largest request id the protocol allows (2^53-1). */
export const MAX_ID = Number.MAX_SAFE_INTEGER

const KEY_RE = /^[a-z_][a-z0-9_]*$/
const OP_RE = /^[a-z_][a-z0-9_]*$/
const INT_RE = /^-?(?:0x[0-9a-fA-F]+|[0-9]+)$/
const ERRNAME_RE = /^E[A-Z0-9]+$/

// ---------------------------------------------------------------- strings

const HEX = '0123456789ABCDEF'

function mustEscape(byte: number): boolean {
  // Outside the printable range, plus the bytes that are syntax in a token.
  return byte < 0x21 || byte > 0x7e || byte === 0x25 /* % */ || byte === 0x3d /* = */ || byte === 0x2c /* , */
}

/** Percent-encodes a str value: UTF-8 bytes, escaping per the protocol. */
export function encodeStr(value: string | Uint8Array): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
  let plain = true
  for (const b of bytes) {
    if (mustEscape(b)) {
      plain = false
      break
    }
  }
  if (plain) return Buffer.from(bytes).toString('latin1')
  let out = ''
  for (const b of bytes) {
    out += mustEscape(b) ? '%' + HEX[b >> 4] + HEX[b & 15] : String.fromCharCode(b)
  }
  return out
}

function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10
  return -1
}

/**
 * Decodes a percent-encoded str value into its bytes. Returns a reason string
 * instead of throwing so callers can name the field in their error.
 */
export function decodeStrBytes(text: string): Buffer | string {
  const out = Buffer.allocUnsafe(text.length)
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x25) {
      const complete = i + 2 < text.length
      const hi = complete ? hexDigit(text.charCodeAt(i + 1)) : -1
      const lo = complete ? hexDigit(text.charCodeAt(i + 2)) : -1
      if (hi < 0 || lo < 0) return `bad percent escape at offset ${i}`
      out[n++] = (hi << 4) | lo
      i += 2
    } else if (mustEscape(c)) {
      return `unescaped byte 0x${c.toString(16).padStart(2, '0')} at offset ${i}`
    } else {
      out[n++] = c
    }
  }
  return out.subarray(0, n)
}

// ---------------------------------------------------------------- base64

const B64_ALPHABET = new Uint8Array(128)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') B64_ALPHABET[c.charCodeAt(0)] = 1

/**
 * Strict standard base64 with padding. A loop, not a regular expression:
 * payloads reach hundreds of MiB, where a regex overflows its stack.
 */
export function isBase64(text: string): boolean {
  const n = text.length
  if (n % 4 !== 0) return false
  let end = n
  if (n > 0 && text.charCodeAt(n - 1) === 0x3d) end -= text.charCodeAt(n - 2) === 0x3d ? 2 : 1
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c > 127 || B64_ALPHABET[c] === 0) return false
  }
  return true
}

// ---------------------------------------------------------------- requests

function encodeInt(key: string, value: number | bigint): string {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new TypeError(`argument ${key}: ${value} is not a safe integer (pass a bigint for 64-bit values)`)
  }
  return value.toString(10)
}

function encodeValue(key: string, value: ArgValue): string {
  if (typeof value === 'number' || typeof value === 'bigint') return encodeInt(key, value)
  if (typeof value === 'boolean') return value ? '1' : '0'
  if (typeof value === 'string') return encodeStr(value)
  if (Buffer.isBuffer(value)) return value.toString('base64')
  if (value instanceof Uint8Array) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
  }
  if (Array.isArray(value)) {
    return value.map((item) => (typeof item === 'number' ? encodeInt(key, item) : encodeStr(item))).join(',')
  }
  throw new TypeError(`argument ${key}: unsupported value type ${typeof value}`)
}

// Names already checked; requests repeat the same few, often 100k times.
const checkedNames = new Set<string>()

function checkName(name: string, re: RegExp, what: string): void {
  if (checkedNames.has(name)) return
  if (!re.test(name)) throw new TypeError(`invalid ${what} '${name}'`)
  checkedNames.add(name)
}

/** Encodes one request line, newline included. */
export function encodeRequest(id: number, op: string, args: Args = {}): string {
  if (!Number.isSafeInteger(id) || id < 1) throw new RangeError(`request id ${id} is outside 1..2^53-1`)
  checkName(op, OP_RE, 'operation name')
  let line = `${id} ${op}`
  for (const key in args) {
    const value = args[key]
    if (value === undefined) continue
    checkName(key, KEY_RE, 'argument name')
    line += ` ${key}=${encodeValue(key, value)}`
  }
  return line + '\n'
}

// ---------------------------------------------------------------- replies

function excerpt(line: string): string {
  return line.length > 120 ? line.slice(0, 117) + '...' : line
}

/** Parses an int token (decimal or 0x hex, optionally negative) as a bigint, or undefined. */
export function parseIntToken(text: string): bigint | undefined {
  if (!INT_RE.test(text)) return undefined
  const negative = text.startsWith('-')
  const magnitude = BigInt(negative ? text.slice(1) : text)
  return negative ? -magnitude : magnitude
}

/**
 * The key=value fields of a frame, with decoding accessors. Every accessor
 * throws a ProtocolError naming the field when it is missing or malformed.
 */
export class Fields {
  /** Describes the frame for error messages, e.g. `reply to map_dump (id 5)`. */
  context: string

  constructor(
    private readonly values: ReadonlyMap<string, string>,
    context = 'frame',
  ) {
    this.context = context
  }

  has(key: string): boolean {
    return this.values.has(key)
  }

  keys(): string[] {
    return [...this.values.keys()]
  }

  /** The undecoded value. */
  raw(key: string): string {
    const value = this.values.get(key)
    if (value === undefined) throw this.fail(key, 'is missing')
    return value
  }

  optRaw(key: string): string | undefined {
    return this.values.get(key)
  }

  bigint(key: string): bigint {
    const text = this.raw(key)
    const value = parseIntToken(text)
    if (value === undefined) throw this.fail(key, `is not an int: '${excerpt(text)}'`)
    return value
  }

  int(key: string): number {
    const value = this.bigint(key)
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw this.fail(key, `${value} does not fit a safe integer`)
    }
    return Number(value)
  }

  optInt(key: string): number | undefined {
    return this.values.has(key) ? this.int(key) : undefined
  }

  /** A 0|1 flag. */
  bool(key: string): boolean {
    const text = this.raw(key)
    if (text !== '0' && text !== '1') throw this.fail(key, `is not 0 or 1: '${excerpt(text)}'`)
    return text === '1'
  }

  optBool(key: string): boolean | undefined {
    return this.values.has(key) ? this.bool(key) : undefined
  }

  /** One of a fixed set of words. */
  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const text = this.raw(key)
    if (!(allowed as readonly string[]).includes(text)) {
      throw this.fail(key, `is '${excerpt(text)}', expected one of ${allowed.join('|')}`)
    }
    return text as T
  }

  strBytes(key: string): Buffer {
    const decoded = decodeStrBytes(this.raw(key))
    if (typeof decoded === 'string') throw this.fail(key, `is not a valid str: ${decoded}`)
    return decoded
  }

  /** A str value decoded as UTF-8 text. */
  str(key: string): string {
    return this.strBytes(key).toString('utf8')
  }

  optStr(key: string): string | undefined {
    return this.values.has(key) ? this.str(key) : undefined
  }

  b64(key: string): Buffer<ArrayBuffer> {
    const text = this.raw(key)
    if (!isBase64(text)) throw this.fail(key, 'is not valid base64')
    return Buffer.from(text, 'base64')
  }

  optB64(key: string): Buffer<ArrayBuffer> | undefined {
    return this.values.has(key) ? this.b64(key) : undefined
  }

  /** A list of str items. The empty value is the empty list. */
  strList(key: string): string[] {
    const text = this.raw(key)
    if (text === '') return []
    return text.split(',').map((item, i) => {
      const decoded = decodeStrBytes(item)
      if (typeof decoded === 'string') throw this.fail(key, `item ${i} is not a valid str: ${decoded}`)
      return decoded.toString('utf8')
    })
  }

  /** A list of int items. The empty value is the empty list. */
  intList(key: string): number[] {
    const text = this.raw(key)
    if (text === '') return []
    return text.split(',').map((item, i) => {
      const value = parseIntToken(item)
      if (value === undefined || value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw this.fail(key, `item ${i} is not an int: '${excerpt(item)}'`)
      }
      return Number(value)
    })
  }

  fail(key: string, problem: string): ProtocolError {
    return new ProtocolError(`${this.context}: field ${key} ${problem}`, key)
  }
}

/** Splits `key=value` tokens into a map, rejecting malformed and repeated keys. */
function parseFields(tokens: string[], start: number, line: string, context: string): Fields {
  const values = new Map<string, string>()
  for (let i = start; i < tokens.length; i++) {
    const token = tokens[i]
    const eq = token.indexOf('=')
    const key = eq < 0 ? token : token.slice(0, eq)
    if (eq <= 0 || !KEY_RE.test(key)) {
      throw new ProtocolError(`${context}: token '${excerpt(token)}' is not key=value`, undefined, excerpt(line))
    }
    if (values.has(key)) throw new ProtocolError(`${context}: field ${key} is repeated`, key, excerpt(line))
    values.set(key, token.slice(eq + 1))
  }
  return new Fields(values, context)
}

function parseId(text: string | undefined, line: string, what: string): number {
  if (text === undefined || !/^[0-9]+$/.test(text)) {
    throw new ProtocolError(`${what} '${text ?? ''}' is not a decimal integer`, undefined, excerpt(line))
  }
  const value = Number(text)
  if (!Number.isSafeInteger(value)) throw new ProtocolError(`${what} ${text} is out of range`, undefined, excerpt(line))
  return value
}

/**
 * Splits an event payload into records: `n` times a 32-bit little-endian
 * length and that many bytes, with nothing left over. Records are views into
 * `data`, not copies.
 */
export function splitRecords(data: Buffer, n: number): Buffer[] | string {
  const records: Buffer[] = []
  let offset = 0
  for (let i = 0; i < n; i++) {
    if (offset + 4 > data.length) return `record ${i} of ${n}: length runs past the payload end`
    const length = data.readUInt32LE(offset)
    offset += 4
    if (offset + length > data.length) return `record ${i} of ${n}: ${length} bytes run past the payload end`
    records.push(data.subarray(offset, offset + length))
    offset += length
  }
  if (offset !== data.length) return `${data.length - offset} bytes follow the ${n} records`
  return records
}

/** Decodes one line from bpfd (without its newline) into a frame. */
export function decodeFrame(line: string): Frame {
  const tokens = line.split(' ').filter((t) => t !== '')
  const kind = tokens[0]
  switch (kind) {
    case 'ok': {
      const id = parseId(tokens[1], line, 'reply id')
      return {kind: 'ok', id, fields: parseFields(tokens, 2, line, `reply ${id}`)}
    }
    case 'err': {
      const id = parseId(tokens[1], line, 'reply id')
      const errname = tokens[2]
      if (errname === undefined || !ERRNAME_RE.test(errname)) {
        throw new ProtocolError(`error reply ${id}: '${errname ?? ''}' is not an errno name`, undefined, excerpt(line))
      }
      const errnoText = tokens[3]
      if (errnoText === undefined || !/^[0-9]+$/.test(errnoText)) {
        throw new ProtocolError(`error reply ${id}: errno '${errnoText ?? ''}' is not a number`, undefined, excerpt(line))
      }
      const fields = parseFields(tokens, 4, line, `error reply ${id}`)
      return {kind: 'err', id, errname, errno: Number(errnoText), fields}
    }
    case 'ev': {
      const stream = parseId(tokens[1], line, 'event stream')
      const fields = parseFields(tokens, 2, line, `event frame for stream ${stream}`)
      const n = fields.int('n')
      const lost = fields.int('lost')
      if (n < 0) throw fields.fail('n', `is negative (${n})`)
      if (lost < 0) throw fields.fail('lost', `is negative (${lost})`)
      const records = splitRecords(fields.b64('data'), n)
      if (typeof records === 'string') throw fields.fail('data', `does not hold n=${n} records: ${records}`)
      return {kind: 'ev', stream, n, lost, records}
    }
    default:
      throw new ProtocolError(`unknown frame '${excerpt(kind ?? '')}'`, undefined, excerpt(line))
  }
}
