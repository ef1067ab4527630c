import type {ExecEvent} from './event.js'
import type {ExecsnoopOptions} from './options.js'

// Columns as bcc's execsnoop prints them.

export function execsnoopHeader(o: ExecsnoopOptions): string {
  let s = ''
  if (o.time) s += 'TIME'.padEnd(9)
  if (o.timestamp) s += 'TIME(s)'.padEnd(8)
  if (o.printUid) s += 'UID'.padEnd(6)
  return s + `${'PCOMM'.padEnd(16)} ${'PID'.padEnd(6)} ${'PPID'.padEnd(6)} ${'RET'.padStart(3)} ARGS`
}

/** Whether an event passes the filters bcc applies on the host side. */
export function execsnoopWants(e: ExecEvent, o: ExecsnoopOptions): boolean {
  if (e.ret !== 0 && !o.failed) return false
  if (o.name && !o.name.test(e.comm)) return false
  if (o.line && !o.line.test(e.argv.join(' '))) return false
  if (o.ppid !== undefined && e.ppid !== o.ppid) return false
  return true
}

/** The argument words as printed: at most maxArgs, quoted with -q. */
export function execsnoopArgs(e: ExecEvent, o: ExecsnoopOptions): string[] {
  let words = e.argv.slice(0, o.maxArgs)
  if (o.quote) words = words.map((w) => `"${w.replace(/"/g, '\\"')}"`)
  // bcc sends the ellipsis as one more argument, so -q quotes it too.
  if (e.argv.length > o.maxArgs || e.truncated) words.push(o.quote ? '"..."' : '...')
  return words
}

export type LineContext = {
  /** Seconds since the tool started, for -t. */
  elapsedSec: number
  /** Wall clock time of the event, for -T. */
  now: Date
}

export function execsnoopLine(e: ExecEvent, o: ExecsnoopOptions, ctx: LineContext): string {
  let s = ''
  if (o.time) s += ctx.now.toTimeString().slice(0, 8).padEnd(9)
  if (o.timestamp) s += ctx.elapsedSec.toFixed(3).padEnd(8)
  if (o.printUid) s += String(e.uid).padEnd(6)
  const ppid = e.ppid > 0 ? String(e.ppid) : '?'
  const args = execsnoopArgs(e, o).join(' ').replace(/\n/g, '\\n')
  return s + `${e.comm.padEnd(16)} ${String(e.pid).padEnd(6)} ${ppid.padEnd(6)} ${String(e.ret).padStart(3)} ${args}`
}

export function execsnoopJson(e: ExecEvent, ctx: LineContext): Record<string, unknown> {
  return {
    time: ctx.elapsedSec,
    ts_ns: e.tsNs.toString(),
    pid: e.pid,
    ppid: e.ppid,
    uid: e.uid,
    comm: e.comm,
    ret: e.ret,
    argv: e.argv,
    truncated: e.truncated,
  }
}
