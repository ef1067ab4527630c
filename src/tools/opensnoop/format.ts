import {modeApplies} from './open-flags.js'
import type {OpensnoopOptions} from './options.js'
import type {OpenEvent} from './event.js'

// Columns exactly as bcc's opensnoop prints them.

export function opensnoopHeader(o: OpensnoopOptions): string {
  let s = ''
  if (o.timestamp) s += 'TIME(s)'.padEnd(14)
  if (o.printUid) s += 'UID'.padEnd(6)
  s += `${(o.tid === undefined ? 'PID' : 'TID').padEnd(6)} ${'COMM'.padEnd(16)} ${'FD'.padStart(4)} ${'ERR'.padStart(3)} `
  if (o.extended) s += `${'FLAGS'.padEnd(8)} ${'MODE'.padEnd(4)} `
  return s + 'PATH'
}

export type LineContext = {
  /** Microseconds of the first event, the zero of TIME(s). */
  firstUs: bigint
  arch: string
  /** The path to print (resolved with -F). */
  path: string
}

export function opensnoopLine(e: OpenEvent, o: OpensnoopOptions, ctx: LineContext): string {
  const fd = e.ret >= 0 ? e.ret : -1
  const err = e.ret >= 0 ? 0 : -e.ret
  let s = ''
  if (o.timestamp) s += (Number(e.tsNs / 1000n - ctx.firstUs) / 1e6).toFixed(9).padEnd(14)
  if (o.printUid) s += String(e.uid).padEnd(6)
  s += `${String(o.tid === undefined ? e.pid : e.tid).padEnd(6)} ${e.comm.padEnd(16)} ${String(fd).padStart(4)} ${String(err).padStart(3)} `
  if (o.extended) {
    const flags = e.flags.toString(8).padStart(8, '0')
    s += e.mode === 0 && !modeApplies(e.flags, ctx.arch) ? `${flags} n/a  ` : `${flags} ${e.mode.toString(8).padStart(4, '0')} `
  }
  return s + ctx.path
}

/** The NDJSON object of one event; field names are documented in the README. */
export function opensnoopJson(e: OpenEvent, ctx: LineContext): Record<string, unknown> {
  return {
    time: Number(e.tsNs / 1000n - ctx.firstUs) / 1e6,
    ts_ns: e.tsNs.toString(),
    pid: e.pid,
    tid: e.tid,
    uid: e.uid,
    comm: e.comm,
    fd: e.ret >= 0 ? e.ret : -1,
    err: e.ret >= 0 ? 0 : -e.ret,
    flags: e.flags,
    mode: e.mode,
    syscall: e.syscall,
    path: ctx.path,
  }
}
