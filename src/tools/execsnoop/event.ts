import {checkSize, cString, type RecordLayout} from '../record-layout.js'

/** struct exec_event in bpf-programs/execsnoop.h. */
export const EXEC_EVENT = {
  struct: 'exec_event',
  fields: {
    ts_ns: [0, 'u64'],
    pid: [8, 'u32'],
    ppid: [12, 'u32'],
    uid: [16, 'u32'],
    ret: [20, 's32'],
    filename_len: [24, 'u16'],
    args_len: [26, 'u16'],
    args_truncated: [28, 'u16'],
    comm: [32, {chars: 16}],
    data: [48, 'tail'],
  },
  headerSize: 48,
} as const satisfies RecordLayout

export type ExecEvent = {
  tsNs: bigint
  pid: number
  ppid: number
  uid: number
  /** 0, or -errno of a failed exec. */
  ret: number
  comm: string
  /** The executed file, then argv[1...], as bcc prints them. */
  argv: string[]
  /** The kernel's copy of the arguments was cut short. */
  truncated: boolean
}

export function decodeExecEvent(buf: Buffer): ExecEvent {
  const f = EXEC_EVENT.fields
  checkSize(EXEC_EVENT, buf)
  const filenameLen = buf.readUInt16LE(f.filename_len[0])
  const argsLen = buf.readUInt16LE(f.args_len[0])
  checkSize(EXEC_EVENT, buf, filenameLen + argsLen)
  const start = EXEC_EVENT.headerSize + filenameLen
  // Each argument ends in a NUL; dropping only the last one keeps empty arguments at the end.
  const text = buf.toString('utf8', start, start + argsLen)
  const all = argsLen === 0 ? [] : (text.endsWith('\0') ? text.slice(0, -1) : text).split('\0')
  const filename = buf.toString('utf8', EXEC_EVENT.headerSize, start)
  return {
    tsNs: buf.readBigUInt64LE(f.ts_ns[0]),
    pid: buf.readUInt32LE(f.pid[0]),
    ppid: buf.readUInt32LE(f.ppid[0]),
    uid: buf.readUInt32LE(f.uid[0]),
    ret: buf.readInt32LE(f.ret[0]),
    comm: cString(buf, f.comm[0], f.comm[1].chars),
    argv: [filename, ...argsAfterProgram(all, filename)],
    truncated: buf.readUInt16LE(f.args_truncated[0]) !== 0,
  }
}

/**
 * The arguments after the program, as bcc prints them: argv[1...]. For a
 * script the kernel rewrote argv to `interpreter [interpreter-arg] script
 * args...`; the script's path stands where the caller's argv[0] was.
 */
export function argsAfterProgram(argv: readonly string[], filename: string): string[] {
  if (argv[0]?.startsWith('/')) {
    if (argv[1] === filename) return argv.slice(2)
    if (argv[2] === filename) return argv.slice(3)
  }
  return argv.slice(1)
}
