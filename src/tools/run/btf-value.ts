// Map keys and values as plain data, read through the object's BTF: integers
// and enums as numbers (or enumerator names), char arrays as strings, structs
// as objects, arrays as arrays. What BTF does not describe stays bytes.
import type {Btf} from '../../object/index.js'

/** Text that is not a string in the data: an enumerator's name, a pointer. */
export class Symbolic {
  constructor(readonly text: string) {}
}

/**
 * A decoded value: integers are bigint, floats number, char arrays string,
 * undescribed bytes Buffer.
 */
export type Decoded = bigint | number | boolean | string | Symbolic | Buffer | Decoded[] | {[field: string]: Decoded}

/** As JSON allows: integers beyond 2^53 become decimal strings, bytes hex strings. */
export type JsonValue = number | string | boolean | JsonValue[] | {[field: string]: JsonValue}

const MAX_DEPTH = 16

/** Bytes as `0a 0b 0c`. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex').replace(/(..)(?!$)/g, '$1 ')
}

function integer(buf: Buffer, off: number, size: number, signed: boolean): bigint {
  let n = 0n
  for (let i = size - 1; i >= 0; i--) n = (n << 8n) | BigInt(buf[off + i] ?? 0)
  return signed && size > 0 ? BigInt.asIntN(size * 8, n) : n
}

/** Printable text in a char array up to its first NUL, or undefined when the bytes are not text. */
function text(bytes: Buffer): string | undefined {
  let end = bytes.indexOf(0)
  if (end < 0) end = bytes.length
  const s = bytes.toString('utf8', 0, end)
  return /^[\P{Cc}\t\n]*$/u.test(s) && !s.includes('\uFFFD') ? s : undefined
}

/** Decodes `buf` (at least the type's size) as BTF type `id`; without BTF, `hex`. */
export function decodeValue(btf: Btf | undefined, id: number | undefined, buf: Buffer): Decoded {
  if (!btf || id === undefined) return buf
  try {
    return decode(btf, id, buf, 0, 0)
  } catch {
    return buf
  }
}

function decode(btf: Btf, id: number, buf: Buffer, off: number, depth: number): Decoded {
  const t = btf.type(btf.resolve(id))
  const size = t.kind === 'void' || t.kind === 'func_proto' || t.kind === 'fwd' || t.kind === 'func' ? 0 : btf.sizeof(t.id)
  if (depth > MAX_DEPTH || off + size > buf.length) return buf.subarray(off, off + size)
  switch (t.kind) {
    case 'int':
      if (t.bool) return buf[off] !== 0
      return integer(buf, off, t.size, t.signed)
    case 'enum':
    case 'enum64': {
      const n = integer(buf, off, t.size, t.signed)
      const named = t.values.find((v) => BigInt(v.value) === n)
      return named ? new Symbolic(named.name) : n
    }
    case 'float':
      return t.size === 4 ? buf.readFloatLE(off) : t.size === 8 ? buf.readDoubleLE(off) : hex(buf.subarray(off, off + t.size))
    case 'ptr':
      return new Symbolic(`0x${buf.readBigUInt64LE(off).toString(16)}`)
    case 'array': {
      const elem = btf.type(btf.resolve(t.type))
      const each = btf.sizeof(t.type)
      if (elem.kind === 'int' && elem.size === 1 && !elem.bool && (elem.char || /char/.test(elem.name))) {
        const s = text(buf.subarray(off, off + t.nelems))
        if (s !== undefined) return s
      }
      const out: Decoded[] = []
      for (let i = 0; i < t.nelems; i++) out.push(decode(btf, t.type, buf, off + i * each, depth + 1))
      return out
    }
    case 'struct':
    case 'union': {
      const out: {[field: string]: Decoded} = {}
      t.members.forEach((m, i) => {
        const name = m.name || `(anon ${i})`
        if (m.bitfieldSize) {
          const mt = btf.type(btf.resolve(m.type))
          const signed = (mt.kind === 'int' || mt.kind === 'enum') && mt.signed
          out[name] = bitfield(buf, off, m.bitOffset, m.bitfieldSize, signed)
        } else {
          out[name] = decode(btf, m.type, buf, off + Math.floor(m.bitOffset / 8), depth + 1)
        }
      })
      return out
    }
    default:
      return buf.subarray(off, off + size)
  }
}

function bitfield(buf: Buffer, off: number, bitOffset: number, bits: number, signed: boolean): bigint {
  const first = off + Math.floor(bitOffset / 8)
  const shift = bitOffset % 8
  let n = 0n
  for (let i = Math.ceil((shift + bits) / 8) - 1; i >= 0; i--) n = (n << 8n) | BigInt(buf[first + i] ?? 0)
  n = (n >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n)
  return signed ? BigInt.asIntN(bits, n) : n
}

export function toJson(v: Decoded): JsonValue {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()
  if (v instanceof Symbolic) return v.text
  if (Buffer.isBuffer(v)) return hex(v)
  if (Array.isArray(v)) return v.map(toJson)
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]))
  return v
}

/** A value on one line: `{pid: 12, comm: "bash"}`, `[1, 2]`, `0a 0b`. */
export function formatValue(v: Decoded): string {
  if (typeof v === 'string') return JSON.stringify(v)
  if (v instanceof Symbolic) return v.text
  if (Buffer.isBuffer(v)) return hex(v)
  if (Array.isArray(v)) return `[${v.map(formatValue).join(', ')}]`
  if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${k}: ${formatValue(x)}`).join(', ')}}`
  return String(v)
}
