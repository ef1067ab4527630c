/**
 * What the fault tests and the soak read about a process from /proc: its
 * memory, its CPU time, and the bpfd a host process started.
 */
import {readdirSync, readFileSync} from 'node:fs'

const CLK_TCK = 100

export type Memory = {
  /** VmRSS: resident memory, file and shared mappings (such as a mapped ring buffer) included. */
  rssKiB: number
  /** RssAnon: resident private memory, where a process's own buffers live. */
  anonKiB: number
}

/** A process's resident memory; zeros once it is gone. */
export function memory(pid: number | undefined): Memory {
  if (!pid) return {rssKiB: 0, anonKiB: 0}
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? 0)
    return {rssKiB: kib('VmRSS'), anonKiB: kib('RssAnon')}
  } catch {
    return {rssKiB: 0, anonKiB: 0}
  }
}

/** `/proc/PID/stat` fields after the command name: [0] is the state, [1] the parent. */
function statFields(pid: number | string): {comm: string; fields: string[]} | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return {comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), fields: stat.slice(stat.lastIndexOf(')') + 2).split(' ')}
  } catch {
    return undefined
  }
}

/** User plus system CPU seconds of a process; 0 once it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  const s = pid ? statFields(pid) : undefined
  return s ? (Number(s.fields[11]) + Number(s.fields[12])) / CLK_TCK : 0
}

/** The child of `parent` whose name begins with `prefix` (the bpfd a `local` host started). */
export function childNamed(parent: number, prefix: string): number | undefined {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue
    const s = statFields(e)
    if (s && Number(s.fields[1]) === parent && s.comm.startsWith(prefix)) return Number(e)
  }
  return undefined
}
