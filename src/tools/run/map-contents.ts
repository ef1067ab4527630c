// What `bpftools run` prints when it stops: every map's contents, decoded
// through the object's BTF, as a text table per map or one JSON line per map.
import type {Collection} from '../../loader/collection.js'
import type {LiveMap} from '../../loader/live-map.js'
import {enumName, MapType, type Btf} from '../../object/index.js'
import {decodeValue, formatValue, Symbolic, toJson, type Decoded} from './btf-value.js'

export type MapContents = {
  map: string
  /** `hash`, `percpu_array`, `global data` ... */
  type: string
  /** Values hold one slot per possible CPU. */
  perCpu?: boolean
  entries?: {key: Decoded; value: Decoded}[]
  /** All-zero array entries left out. */
  zeroEntries?: number
  /** Global data (.data, .bss): variables by name. */
  variables?: {name: string; value: Decoded}[]
  /** Why the map could not be read. */
  error?: string
}

/** Maps whose contents are not a table of entries: streams, options, kernel config, queues. */
function dumpable(m: LiveMap): boolean {
  const t = m.spec.type
  if (m.spec.kind === 'rodata' || m.spec.kind === 'kconfig') return false
  if (t === MapType.RINGBUF || t === MapType.USER_RINGBUF || t === MapType.PERF_EVENT_ARRAY || t === MapType.STRUCT_OPS || t === MapType.ARENA) return false
  return m.spec.keySize > 0
}

const ARRAYS = new Set<number>([MapType.ARRAY, MapType.PERCPU_ARRAY])

/** Reads every map that holds data (one pipelined round trip) and decodes it. */
export async function readMaps(c: Collection): Promise<MapContents[]> {
  const maps = [...c.maps.values()].filter(dumpable)
  const btf = c.spec.btf
  return Promise.all(maps.map(async (m) => {
    try {
      return m.spec.kind === 'btf-map' ? await readEntries(m, btf) : await readGlobals(m, btf)
    } catch (e) {
      return {map: m.name, type: typeName(m), error: (e as Error).message}
    }
  }))
}

function typeName(m: LiveMap): string {
  return m.spec.kind === 'btf-map' ? enumName(MapType, m.spec.type).toLowerCase() : 'global data'
}

async function readGlobals(m: LiveMap, btf: Btf | undefined): Promise<MapContents> {
  const data = (await m.lookup(Buffer.alloc(4))) ?? Buffer.alloc(m.spec.valueSize)
  const variables = (m.spec.variables ?? [])
    .filter((v) => !v.name.includes('.'))
    .map((v) => ({name: v.name, value: decodeValue(btf, v.btfTypeId, data.subarray(v.offset, v.offset + v.size))}))
  return {map: m.name, type: typeName(m), variables}
}

async function readEntries(m: LiveMap, btf: Btf | undefined): Promise<MapContents> {
  const raw = await m.dump()
  const isArray = ARRAYS.has(m.spec.type)
  const kept = isArray ? raw.filter((e) => e.value.some((b) => b !== 0)) : raw
  const value = (bytes: Buffer): Decoded => {
    if (m.spec.type === MapType.STACK_TRACE) return stack(bytes)
    if (m.perCpu) return m.slots(bytes).map((s) => decodeValue(btf, m.spec.btfValueTypeId, s))
    return decodeValue(btf, m.spec.btfValueTypeId, bytes)
  }
  // Array indexes and stack ids are u32 whether or not BTF says so.
  const indexed = m.spec.btfKeyTypeId === undefined && (isArray || m.spec.type === MapType.STACK_TRACE) && m.spec.keySize === 4
  const key = (bytes: Buffer): Decoded => (indexed ? BigInt(bytes.readUInt32LE(0)) : decodeValue(btf, m.spec.btfKeyTypeId, bytes))
  const entries = kept.map((e) => ({key: key(e.key), value: value(e.value)}))
  entries.sort((a, b) => (typeof a.key === 'bigint' && typeof b.key === 'bigint' ? (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) : 0))
  const out: MapContents = {map: m.name, type: typeName(m), entries}
  if (m.perCpu) out.perCpu = true
  if (isArray) out.zeroEntries = raw.length - kept.length
  return out
}

/** A stack trace map's value: its instruction addresses, up to the first zero. */
function stack(bytes: Buffer): Decoded {
  const out: Decoded[] = []
  for (let off = 0; off + 8 <= bytes.length; off += 8) {
    const a = bytes.readBigUInt64LE(off)
    if (a === 0n) break
    out.push(new Symbolic(`0x${a.toString(16)}`))
  }
  return out
}

/** One JSON object per map. */
export function mapContentsJson(c: MapContents): Record<string, unknown> {
  const out: Record<string, unknown> = {map: c.map, type: c.type}
  if (c.perCpu) out.perCpu = true
  if (c.entries) out.entries = c.entries.map((e) => ({key: toJson(e.key), value: toJson(e.value)}))
  if (c.zeroEntries) out.zeroEntries = c.zeroEntries
  if (c.variables) out.variables = Object.fromEntries(c.variables.map((v) => [v.name, toJson(v.value)]))
  if (c.error !== undefined) out.error = c.error
  return out
}

/** A titled two-column table per map. */
export function formatMapContents(c: MapContents): string {
  const zero = c.zeroEntries ? `, ${c.zeroEntries} zero ${c.zeroEntries === 1 ? 'entry' : 'entries'} not shown` : ''
  const count = c.entries ? `, ${c.entries.length} ${c.entries.length === 1 ? 'entry' : 'entries'}${zero}` : ''
  const title = `map ${c.map} (${c.type}${c.perCpu ? ', values per CPU' : ''}${count}):`
  if (c.error !== undefined) return `${title}\n  cannot read it: ${c.error}\n`
  const rows: [string, string][] = c.entries
    ? [['KEY', 'VALUE'], ...c.entries.map((e): [string, string] => [formatValue(e.key), formatValue(e.value)])]
    : [['NAME', 'VALUE'], ...(c.variables ?? []).map((v): [string, string] => [v.name, formatValue(v.value)])]
  if (rows.length === 1) return `${title}\n  (empty)\n`
  const width = Math.max(...rows.map(([k]) => k.length))
  return `${title}\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`.trimEnd()).join('\n')}\n`
}
