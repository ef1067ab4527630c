import {checkSize, cString, type RecordLayout} from '../record-layout.js'

/** struct open_event in bpf-programs/opensnoop.h. */
export const OPEN_EVENT = {
  struct: 'open_event',
  fields: {
    ts_ns: [0, 'u64'],
    pid: [8, 'u32'],
    tid: [12, 'u32'],
    uid: [16, 'u32'],
    ret: [20, 's32'],
    flags: [24, 'u64'],
    mode: [32, 'u32'],
    dfd: [36, 's32'],
    path_len: [40, 'u16'],
    syscall: [42, 'u16'],
    comm: [44, {chars: 16}],
    path: [60, 'tail'],
  },
  headerSize: 60,
} as const satisfies RecordLayout

const SYSCALLS = ['open', 'openat', 'openat2'] as const

export type OpenEvent = {
  tsNs: bigint
  pid: number
  tid: number
  uid: number
  /** The syscall's return: a file descriptor, or -errno. */
  ret: number
  flags: number
  mode: number
  dfd: number
  syscall: (typeof SYSCALLS)[number]
  comm: string
  path: string
}

export function decodeOpenEvent(buf: Buffer): OpenEvent {
  const f = OPEN_EVENT.fields
  checkSize(OPEN_EVENT, buf)
  const pathLen = buf.readUInt16LE(f.path_len[0])
  checkSize(OPEN_EVENT, buf, pathLen)
  return {
    tsNs: buf.readBigUInt64LE(f.ts_ns[0]),
    pid: buf.readUInt32LE(f.pid[0]),
    tid: buf.readUInt32LE(f.tid[0]),
    uid: buf.readUInt32LE(f.uid[0]),
    ret: buf.readInt32LE(f.ret[0]),
    // Open flags fit in 32 bits on every architecture; openat2 widens them to 64.
    flags: Number(buf.readBigUInt64LE(f.flags[0]) & 0xffffffffn),
    mode: buf.readUInt32LE(f.mode[0]),
    dfd: buf.readInt32LE(f.dfd[0]),
    syscall: SYSCALLS[buf.readUInt16LE(f.syscall[0])] ?? 'openat',
    comm: cString(buf, f.comm[0], f.comm[1].chars),
    path: buf.toString('utf8', OPEN_EVENT.headerSize, OPEN_EVENT.headerSize + pathLen),
  }
}
