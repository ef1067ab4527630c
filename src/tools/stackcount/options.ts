// stackcount's options and event pattern, named as bcc's.

export type StackcountOptions = {
  /** bcc's event pattern: `t:CAT:NAME`, `k:FUNC` or `FUNC`, `u:LIB:FUNC`. */
  pattern: string
  pid?: number // -p
  cpu?: number // -c
  intervalSec?: number // -i
  durationSec?: number // -D
  timestamp: boolean // -T
  regexp: boolean // -r
  offset: boolean // -s
  perPid: boolean // -P
  kernelOnly: boolean // -K
  userOnly: boolean // -U
  verbose: boolean // -v
  delimited: boolean // -d
  folded: boolean // -f
  /** Write a flame graph of every stack counted to this host file. */
  svg?: string
  /** Entries of the count and stack maps (distinct stacks kept per interval). */
  maxStacks?: number
}

/** A pattern or option combination stackcount cannot use: a usage error. */
export class StackcountUsageError extends Error {
  override readonly name = 'StackcountUsageError'
}

export type ProbePattern =
  | {kind: 'tracepoint'; category: string; event: string}
  | {kind: 'kprobe'; func: string}
  | {kind: 'uprobe'; library: string; func: string}

/**
 * Parses an event pattern as bcc's stackcount does: `FUNC` and `k:FUNC`
 * (`p:FUNC`, `p::FUNC`) are kprobes, `t:CATEGORY:EVENT` a tracepoint,
 * `u:LIB:FUNC` and `LIB:FUNC` (`p:LIB:FUNC`) uprobes.
 */
export function parsePattern(pattern: string): ProbePattern {
  const parts = pattern.split(':')
  const bad = (why: string) => new StackcountUsageError(`bad event pattern '${pattern}': ${why}; use t:CATEGORY:EVENT, k:FUNCTION or u:LIBRARY:FUNCTION`)
  if (parts.some((p, i) => p === '' && !(i === 1 && parts.length === 3 && parts[0] === 'p'))) throw bad('an empty part')
  if (parts.length === 1) return {kind: 'kprobe', func: parts[0]!}
  if (parts.length === 2) {
    const [a, b] = parts as [string, string]
    if (a === 'k' || a === 'p') return {kind: 'kprobe', func: b}
    if (a === 't') throw bad('a tracepoint needs a category and an event')
    if (a === 'u') throw bad('a uprobe needs a library and a function')
    return {kind: 'uprobe', library: a, func: b}
  }
  if (parts.length === 3) {
    const [type, a, b] = parts as [string, string, string]
    if (type === 't') return {kind: 'tracepoint', category: a, event: b}
    if (type === 'u') return {kind: 'uprobe', library: a, func: b}
    if (type === 'p') return a === '' ? {kind: 'kprobe', func: b} : {kind: 'uprobe', library: a, func: b}
    throw bad(`the type must be t, k, p or u, not '${type}'`)
  }
  throw bad("too many ':'-separated parts")
}

/**
 * What a pattern part matches: as bcc, `*` is a wildcard and the part must
 * match whole; with -r it is a regular expression matched from the start.
 */
export function nameMatcher(part: string, regexp: boolean): (name: string) => boolean {
  let re: RegExp
  try {
    re = regexp ? new RegExp(`^(?:${part})`) : new RegExp(`^${part.split('*').map(escapeRegExp).join('.*')}$`)
  } catch (e) {
    throw new StackcountUsageError(`bad regular expression '${part}': ${(e as Error).message}`)
  }
  return (name) => re.test(name)
}

/** Whether a part matches more than the one name it spells. */
export function isWildcard(part: string, regexp: boolean): boolean {
  return regexp ? /[.*+?^${}()|[\]\\]/.test(part) : part.includes('*')
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Which stacks are recorded and how keys are split, as bcc decides. */
export type StackChoice = {kernel: boolean; user: boolean; perPid: boolean; delimiter: boolean}

export function stackChoice(o: StackcountOptions, probe: ProbePattern): StackChoice {
  if (o.kernelOnly && o.userOnly) throw new StackcountUsageError('-K and -U are mutually exclusive: without either, both stacks are counted')
  const kernel = !o.userOnly
  const user = !o.kernelOnly
  // User addresses mean something only within their process, and so do
  // uprobes. -p alone does not split keys: bcc's folded lines of -K -p start
  // with an empty process name.
  const perPid = o.perPid || user || probe.kind === 'uprobe'
  return {kernel, user, perPid, delimiter: o.delimited && kernel && user}
}

/** The const volatile globals of stackcount.bpf.c. */
export function stackcountGlobals(o: StackcountOptions, s: StackChoice): Record<string, number> {
  return {
    targ_tgid: o.pid ?? 0,
    targ_cpu: o.cpu ?? 0,
    targ_cpu_set: o.cpu === undefined ? 0 : 1,
    per_pid: s.perPid ? 1 : 0,
    kernel_stack: s.kernel ? 1 : 0,
    user_stack: s.user ? 1 : 0,
  }
}
