// Fuzz cases for the host's side of the wire: the LineDeframer and
// decodeFrame, plus the Fields accessors and parseHello every reply goes
// through. The contract: whatever bytes arrive, these return or throw a
// ProtocolError; and a frame built by the protocol's rules decodes to exactly
// what was put in.

import {decodeFrame, encodeStr, type Frame} from '../../../src/remote/codec.js'
import {ProtocolError} from '../../../src/remote/errors.js'
import {parseHello} from '../../../src/remote/hello.js'
import {LineDeframer} from '../../../src/remote/line-deframer.js'
import {Finding} from './finding.js'
import {type Prng} from './prng.js'

/** What a well-formed line must decode to (byte values as hex). */
export interface ExpectedFrame {
  kind: 'ok' | 'err' | 'ev'
  id: number
  errname?: string
  errno?: number
  /** key → raw value text */
  raw?: Record<string, string>
  /** key → decoded bytes of a str value */
  str?: Record<string, string>
  /** key → decoded bytes of a b64 value */
  b64?: Record<string, string>
  records?: string[]
  lost?: number
}

/** One case: a byte stream as a transport might deliver it. JSON-serializable. */
export interface FrameCase {
  maxLineBytes: number
  /** The bytes, as latin1 text (one char per byte). */
  stream: string
  /** Where the transport cuts the stream into chunks. */
  cuts: number[]
  /** Index among the deframed lines → what that line must decode to. */
  expect: Record<string, ExpectedFrame>
}

// ------------------------------------------------------------- generation

const KEYS = [
  'h', 'id', 'n', 'lost', 'data', 'msg', 'log', 'line', 'value', 'key', 'keys', 'values', 'batch', 'eof',
  'entries', 'target', 'via', 'proto', 'bpfd', 'release', 'machine', 'page_size', 'cpus_possible',
  'cpus_online', 'ncpus', 'uid', 'btf', 'btf_size', 'tracefs', 'boot_id', 'ringbuf', 'kprobe', 'uprobe', 'link',
]
const ERRNAMES = ['ENOENT', 'EINVAL', 'EPERM', 'E2BIG', 'EBADF', 'ENOTSUPP', 'EACCES', 'EPROTO', 'EUNKNOWN']
const EDGE_INTS = [
  '0', '1', '-1', '9007199254740991', '9007199254740992', '-9007199254740991', '18446744073709551615',
  '99999999999999999999999999999', '0x0', '0xffffffffffffffff', '0x', '-0x1', '00', '-', '1e3', '1.5', ' ',
]
const JUNK = [
  ' ', '  ', '=', '==', '%', '%2', '%zz', '%25', ',', ',,', '\r', '\n', '\r\n', '\t', '\0', '\x7f', '\xff',
  'ok', 'err', 'ev', 'n=', 'lost=', 'data=', 'msg=', '0x', '-', 'A===', '====', 'AAAA', 'Zm9v', '\u00e9',
]

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}

function key(rng: Prng, used: Set<string>): string {
  for (;;) {
    const k = rng.chance(0.7)
      ? rng.pick(KEYS)
      : String.fromCharCode(97 + rng.below(26)) + rng.bytes(rng.below(8)).toString('hex').slice(0, rng.below(8))
    if (!used.has(k)) {
      used.add(k)
      return k
    }
  }
}

function randomInt(rng: Prng): string {
  switch (rng.below(4)) {
    case 0: return String(rng.below(10))
    case 1: return String(rng.u32())
    case 2: return '-' + String(rng.u32())
    default: return String(BigInt(rng.u32()) * 0x1_0000_0000n + BigInt(rng.u32()))
  }
}

function id(rng: Prng): number {
  return rng.pick([0, 1, 2, rng.u32(), rng.u32() * 2048 + rng.below(2048), Number.MAX_SAFE_INTEGER])
}

/** A valid ok or err frame with random fields, and what it must decode to. */
function validReply(rng: Prng): {line: string; expect: ExpectedFrame} {
  const used = new Set<string>()
  const exp: ExpectedFrame = {kind: rng.chance(0.7) ? 'ok' : 'err', id: id(rng), raw: {}, str: {}, b64: {}}
  let line: string
  if (exp.kind === 'ok') {
    line = `ok ${exp.id}`
  } else {
    exp.errname = rng.pick(ERRNAMES)
    exp.errno = rng.below(600)
    const msg = rng.bytes(rng.size(80))
    used.add('msg')
    line = `err ${exp.id} ${exp.errname} ${exp.errno} msg=${encodeStr(msg)}`
    exp.str!.msg = hex(msg)
  }
  const nfields = rng.size(12)
  for (let i = 0; i < nfields; i++) {
    const k = key(rng, used)
    let v: string
    switch (rng.below(4)) {
      case 0:
        v = randomInt(rng)
        break
      case 1: {
        const bytes = rng.bytes(rng.size(64))
        v = encodeStr(bytes)
        exp.str![k] = hex(bytes)
        break
      }
      case 2: {
        const bytes = rng.bytes(rng.size(200))
        v = bytes.toString('base64')
        exp.b64![k] = hex(bytes)
        break
      }
      default: {
        const items = Array.from({length: rng.size(6)}, () => (rng.chance(0.5) ? randomInt(rng) : encodeStr(rng.bytes(rng.size(10)))))
        v = items.join(',')
      }
    }
    exp.raw![k] = v
    line += ` ${k}=${v}`
  }
  return {line, expect: exp}
}

/** A valid ev frame: records of random bytes. */
function validEvent(rng: Prng): {line: string; expect: ExpectedFrame} {
  const records = Array.from({length: rng.size(8)}, () => rng.bytes(rng.size(64)))
  const parts: Buffer[] = []
  for (const r of records) {
    const len = Buffer.alloc(4)
    len.writeUInt32LE(r.length)
    parts.push(len, r)
  }
  const stream = rng.below(1000)
  const lost = rng.chance(0.8) ? 0 : rng.u32()
  const data = Buffer.concat(parts).toString('base64')
  return {
    line: `ev ${stream} n=${records.length} lost=${lost} data=${data}`,
    expect: {kind: 'ev', id: stream, records: records.map(hex), lost},
  }
}

/** A hello reply as bpfd sends it (docs/protocol.md), with varied values. */
function helloLine(rng: Prng): string {
  const cpus = rng.pick(['0', '0-3', '0-1,4-7', '0-255', '', '3-1', '0-70000', 'x', '0,,1'])
  const method = () => rng.pick(['pmu', 'tracefs', 'none', 'kprobe'])
  const bit = () => rng.pick(['0', '1', '1', '2'])
  return `ok ${id(rng)} proto=1 bpfd=0.1.0 release=6.18.44 machine=x86_64 page_size=4096 ` +
    `cpus_possible=${cpus} cpus_online=${cpus} ncpus=${rng.below(300)} uid=0 btf=${bit()} btf_size=${rng.u32()} ` +
    `tracefs=/sys/kernel/tracing boot_id=4b3e ringbuf=${bit()} batch=${bit()} kprobe=${method()} ` +
    `uprobe=${method()} link=${bit()}`
}

function randomLine(rng: Prng): string {
  const toks: string[] = []
  const n = rng.size(10)
  for (let i = 0; i < n; i++) {
    switch (rng.below(5)) {
      case 0: toks.push(rng.pick(['ok', 'err', 'ev', 'OK', 'e'])); break
      case 1: toks.push(rng.pick(EDGE_INTS)); break
      case 2: toks.push(`${rng.pick(KEYS)}=${rng.pick([...EDGE_INTS, ...JUNK])}`); break
      case 3: toks.push(rng.pick(JUNK)); break
      default: toks.push(rng.bytes(rng.size(20)).toString('latin1'))
    }
  }
  return toks.join(rng.chance(0.9) ? ' ' : rng.pick(['  ', '\t', '']))
}

/** One to four edits of a line: bytes, tokens, numbers, base64. */
function mutateLine(rng: Prng, line: string): string {
  const edits = 1 + rng.below(4)
  for (let e = 0; e < edits; e++) {
    const at = rng.below(line.length + 1)
    switch (rng.below(10)) {
      case 0:
        line = line.slice(0, at) + String.fromCharCode(rng.below(256)) + line.slice(at + 1)
        break
      case 1:
        line = line.slice(0, at) + line.slice(at + 1 + rng.size(20))
        break
      case 2:
        line = line.slice(0, at) + rng.pick(JUNK) + line.slice(at)
        break
      case 3:
        line = line.slice(0, at)
        break
      case 4: {
        const toks = line.split(' ')
        const i = rng.below(toks.length)
        const op = rng.below(3)
        if (op === 0) toks.splice(i, 1)
        else if (op === 1) toks.splice(rng.below(toks.length + 1), 0, toks[i]!)
        else [toks[i], toks[0]] = [toks[0]!, toks[i]!]
        line = toks.join(' ')
        break
      }
      case 5:
        line = line.replace(/-?\d+/g, (m) => (rng.chance(0.3) ? rng.pick(EDGE_INTS) : m))
        break
      case 6:
        line = line.replace(/\b(n|lost)=\d+/, (_m, k: string) => `${k}=${rng.pick(['0', '1', '2', '255', '4294967296', '-1'])}`)
        break
      case 7:
        // corrupt base64 so record lengths or padding go wrong
        line = line.replace(/data=([A-Za-z0-9+/]*)(=*)/, (_m, body: string, pad: string) => {
          const chars = body.split('')
          if (chars.length) chars[rng.below(chars.length)] = rng.pick(['A', '/', '+', '_', '=', 'z', '-'])
          return `data=${chars.join('')}${rng.chance(0.5) ? pad : rng.pick(['', '=', '==', '==='])}`
        })
        break
      case 8:
        line = line.slice(0, at) + rng.pick(KEYS) + '=' + line.slice(at)
        break
      default:
        line = line.slice(0, at) + line.slice(at).repeat(1 + rng.below(3))
    }
  }
  return line
}

function cutsFor(rng: Prng, length: number): number[] {
  const cuts: number[] = []
  const mode = rng.below(4)
  if (mode === 0) return cuts
  const step = mode === 1 ? 1 : mode === 2 ? 1 + rng.below(16) : 0
  for (let at = 0; at < length;) {
    at += step || 1 + rng.below(Math.max(1, length))
    if (at < length) cuts.push(at)
    if (cuts.length > 4096) break
  }
  return cuts
}

/** Case `rng` describes: valid streams (checked exactly), mutated ones and noise. */
export function frameCase(rng: Prng): FrameCase {
  const mode = rng.below(10)
  const lines: string[] = []
  const expect: Record<string, ExpectedFrame> = {}
  const count = 1 + rng.size(12)
  for (let i = 0; i < count; i++) {
    const kind = rng.below(6)
    const built = kind < 3 ? validReply(rng) : kind < 5 ? validEvent(rng) : {line: helloLine(rng), expect: undefined}
    if (mode < 3) {
      if (built.expect) expect[String(lines.length)] = built.expect
      lines.push(built.line)
    } else if (mode < 8) {
      lines.push(rng.chance(0.7) ? mutateLine(rng, built.line) : built.line)
    } else {
      lines.push(randomLine(rng))
    }
  }
  const eol = () => (rng.chance(0.8) ? '\n' : rng.pick(['\r\n', '\n\n', '\r\r\n', '', '\n\r']))
  let stream = ''
  for (let i = 0; i < lines.length; i++) {
    // A valid stream may only use separators that keep line numbering.
    stream += lines[i] + (mode < 3 ? rng.pick(['\n', '\r\n', '\n', '\n\n']) : eol())
  }
  if (mode >= 3 && rng.chance(0.1)) stream = stream.slice(0, rng.below(stream.length + 1))
  const maxLineBytes = mode < 3 || rng.chance(0.7) ? 400 * 1024 * 1024 : 1 + rng.size(300)
  return {maxLineBytes, stream, cuts: cutsFor(rng, stream.length), expect}
}

// ------------------------------------------------------------- checking

function expectProtocolError(e: unknown, where: string): void {
  if (e instanceof ProtocolError) return
  const err = e instanceof Error ? e : new Error(String(e))
  throw new Finding(`${where} threw ${err.name}, not ProtocolError: ${err.message}`, err)
}

function tryAccess(what: string, fn: () => unknown): void {
  try {
    fn()
  } catch (e) {
    expectProtocolError(e, what)
  }
}

/** Every accessor on every field: each returns or throws ProtocolError. */
function exercise(frame: Frame): void {
  if (frame.kind === 'ev') return
  const f = frame.fields
  for (const k of f.keys()) {
    tryAccess(`Fields.raw(${k})`, () => f.raw(k))
    tryAccess(`Fields.bigint(${k})`, () => f.bigint(k))
    tryAccess(`Fields.int(${k})`, () => f.int(k))
    tryAccess(`Fields.bool(${k})`, () => f.bool(k))
    tryAccess(`Fields.oneOf(${k})`, () => f.oneOf(k, ['pmu', 'tracefs', 'none']))
    tryAccess(`Fields.str(${k})`, () => f.str(k))
    tryAccess(`Fields.b64(${k})`, () => f.b64(k))
    tryAccess(`Fields.strList(${k})`, () => f.strList(k))
    tryAccess(`Fields.intList(${k})`, () => f.intList(k))
  }
  tryAccess('Fields.int(absent)', () => f.int('absent_key'))
  if (frame.kind === 'ok') tryAccess('parseHello', () => parseHello(f))
}

function mismatch(line: string, what: string): Finding {
  return new Finding(`valid frame decoded wrongly (${what}): ${line.slice(0, 200)}`)
}

function compare(line: string, frame: Frame, exp: ExpectedFrame): void {
  if (frame.kind !== exp.kind) throw mismatch(line, `kind ${frame.kind}`)
  if (frame.kind === 'ev') {
    if (frame.stream !== exp.id) throw mismatch(line, 'stream')
    if (frame.lost !== exp.lost) throw mismatch(line, 'lost')
    if (frame.records.map(hex).join(',') !== (exp.records ?? []).join(',')) throw mismatch(line, 'records')
    return
  }
  if (frame.id !== exp.id) throw mismatch(line, 'id')
  if (frame.kind === 'err' && (frame.errname !== exp.errname || frame.errno !== exp.errno)) throw mismatch(line, 'errno')
  for (const [k, v] of Object.entries(exp.raw ?? {})) if (frame.fields.raw(k) !== v) throw mismatch(line, `raw ${k}`)
  for (const [k, v] of Object.entries(exp.str ?? {})) if (hex(frame.fields.strBytes(k)) !== v) throw mismatch(line, `str ${k}`)
  for (const [k, v] of Object.entries(exp.b64 ?? {})) if (hex(frame.fields.b64(k)) !== v) throw mismatch(line, `b64 ${k}`)
}

/** Runs one case; throws a Finding when the contract is broken. */
export function checkFrameCase(c: FrameCase): void {
  const deframer = new LineDeframer(c.maxLineBytes)
  const bytes = Buffer.from(c.stream, 'latin1')
  const lines: string[] = []
  let clean = true
  let prev = 0
  for (const cut of [...c.cuts, bytes.length]) {
    if (cut < prev || cut > bytes.length) continue
    try {
      lines.push(...deframer.push(bytes.subarray(prev, cut)))
    } catch (e) {
      expectProtocolError(e, 'LineDeframer.push')
      clean = false
    }
    prev = cut
  }
  try {
    deframer.end()
  } catch (e) {
    expectProtocolError(e, 'LineDeframer.end')
    clean = false
  }
  if (clean && Object.keys(c.expect).length && lines.length < Object.keys(c.expect).length) {
    throw new Finding(`a valid stream deframed into ${lines.length} lines, fewer than its ${Object.keys(c.expect).length} frames`)
  }
  lines.forEach((line, i) => {
    const exp = clean ? c.expect[String(i)] : undefined
    let frame: Frame
    try {
      frame = decodeFrame(line)
    } catch (e) {
      expectProtocolError(e, 'decodeFrame')
      if (exp) throw new Finding(`valid frame rejected: ${(e as Error).message}: ${line.slice(0, 200)}`)
      return
    }
    if (exp) compare(line, frame, exp)
    exercise(frame)
  })
}
