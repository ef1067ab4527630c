// stackcount's maps as data: the count map's keys (struct stack_key in
// bpf-programs/stackcount.h) and the stack map's address arrays.
import type {MapEntry} from '../../loader/live-map.js'
import {checkSize, cString, type RecordLayout} from '../record-layout.js'

/** struct stack_key in bpf-programs/stackcount.h. */
export const STACK_KEY = {
  struct: 'stack_key',
  fields: {
    tgid: [0, 'u32'],
    kernel_stack_id: [4, 's32'],
    user_stack_id: [8, 's32'],
    comm: [12, {chars: 16}],
  },
  headerSize: 28,
} as const satisfies RecordLayout

/** STACKCOUNT_ANY_PID: the key aggregates every process. */
export const ANY_PID = 0xffffffff

export type StackKey = {
  /** Undefined when stacks of every process are counted together. */
  pid?: number
  comm: string
  kernelStackId: number
  userStackId: number
}

export function decodeStackKey(buf: Buffer): StackKey {
  const f = STACK_KEY.fields
  checkSize(STACK_KEY, buf)
  const tgid = buf.readUInt32LE(f.tgid[0])
  const key: StackKey = {
    comm: cString(buf, f.comm[0], f.comm[1].chars),
    kernelStackId: buf.readInt32LE(f.kernel_stack_id[0]),
    userStackId: buf.readInt32LE(f.user_stack_id[0]),
  }
  if (tgid !== ANY_PID) key.pid = tgid
  return key
}

/** The addresses of one stack map value, leaf first; the kernel ends a shorter stack with zeros. */
export function stackAddresses(value: Buffer): bigint[] {
  const out: bigint[] = []
  for (let off = 0; off + 8 <= value.length; off += 8) {
    const a = value.readBigUInt64LE(off)
    if (a === 0n) break
    out.push(a)
  }
  return out
}

export type CountedStack = StackKey & {
  count: number
  /** Leaf first; empty when there is no stack of that kind. */
  kernel: bigint[]
  user: bigint[]
}

/** Stack id → addresses, from a dump of the stack map. */
export function stackTable(entries: readonly MapEntry[]): Map<number, bigint[]> {
  const table = new Map<number, bigint[]>()
  for (const e of entries) table.set(e.key.readUInt32LE(0), stackAddresses(e.value))
  return table
}

/** Stack ids the counts use that the table does not have (stored after the stack map was read). */
export function missingStackIds(keys: readonly StackKey[], table: ReadonlyMap<number, bigint[]>): number[] {
  const missing = new Set<number>()
  for (const k of keys) {
    if (k.kernelStackId >= 0 && !table.has(k.kernelStackId)) missing.add(k.kernelStackId)
    if (k.userStackId >= 0 && !table.has(k.userStackId)) missing.add(k.userStackId)
  }
  return [...missing]
}

/** Joins counts to their stacks. Counts are u64 on the target. */
export function countedStacks(counts: readonly MapEntry[], table: ReadonlyMap<number, bigint[]>): CountedStack[] {
  return counts.map((e) => {
    const k = decodeStackKey(e.key)
    return {
      ...k,
      count: Number(e.value.readBigUInt64LE(0)),
      kernel: k.kernelStackId >= 0 ? (table.get(k.kernelStackId) ?? []) : [],
      user: k.userStackId >= 0 ? (table.get(k.userStackId) ?? []) : [],
    }
  })
}
