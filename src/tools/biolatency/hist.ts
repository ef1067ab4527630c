// biolatency's histogram map as data: struct hist_key in
// bpf-programs/biolatency.h → one log2 histogram per disk or per flags.
import type {MapEntry} from '../../loader/live-map.js'
import {checkSize, cString, type RecordLayout} from '../record-layout.js'
import {devName} from './disks.js'
import {flagsFromRwbs} from './flags.js'

/** struct hist_key in bpf-programs/biolatency.h. */
export const HIST_KEY = {
  struct: 'hist_key',
  fields: {
    dev: [0, 'u32'],
    slot: [4, 'u32'],
    rwbs: [8, {chars: 8}],
  },
  headerSize: 16,
} as const satisfies RecordLayout

/** Buckets as bcc's bpf_log2l fills them: index 1 holds 0 and 1, index 64 the largest u64s. */
export const BUCKETS = 65

export type HistKey = {dev: number; slot: number; rwbs: string}

export function decodeHistKey(buf: Buffer): HistKey {
  const f = HIST_KEY.fields
  checkSize(HIST_KEY, buf)
  return {dev: buf.readUInt32LE(f.dev[0]), slot: buf.readUInt32LE(f.slot[0]), rwbs: cString(buf, f.rwbs[0], f.rwbs[1].chars)}
}

export type Histogram = {
  /** `disk` or `flags` with -D / -F; absent for the single histogram. */
  section?: {name: 'disk' | 'flags'; value: string}
  buckets: bigint[]
}

/** The histograms in a dump of the map, sections in name order. */
export function histograms(entries: readonly MapEntry[], by: 'disk' | 'flags' | undefined, disks: ReadonlyMap<number, string>): Histogram[] {
  const sections = new Map<string, bigint[]>()
  for (const e of entries) {
    const k = decodeHistKey(e.key)
    const label = by === 'disk' ? (disks.get(k.dev) ?? devName(k.dev)) : by === 'flags' ? flagsFromRwbs(k.rwbs) : ''
    let b = sections.get(label)
    if (!b) sections.set(label, (b = new Array<bigint>(BUCKETS).fill(0n)))
    if (k.slot < BUCKETS) b[k.slot] = b[k.slot]! + e.value.readBigUInt64LE(0)
  }
  return [...sections.keys()].sort().map((label) => (by === undefined ? {buckets: sections.get(label)!} : {section: {name: by, value: label}, buckets: sections.get(label)!}))
}

/** The total of a histogram's counts. */
export function total(h: Histogram): bigint {
  return h.buckets.reduce((a, b) => a + b, 0n)
}
