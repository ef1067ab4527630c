// stackcount's output exactly as bcc's stackcount prints it, its folded
// form, and its NDJSON.
import {foldStacks, type StackSample} from '../../output/folded.js'

export type Frame = {address: bigint; name: string}

export type SymbolizedStack = {
  /** Undefined when every process's stacks were counted together. */
  pid?: number
  comm: string
  count: number
  /** Leaf first. */
  kernel: Frame[]
  user: Frame[]
}

export type TextOptions = {
  /** -v: each frame's address before its name. */
  verbose: boolean
  /** -d: `--` between the kernel and the user stack. */
  delimiter: boolean
  /** -p was given: the process is known, so its name is not printed. */
  pidGiven: boolean
}

export function stackcountHeader(matched: number, pattern: string, target?: string): string {
  return `Tracing ${matched} functions for "${pattern}"${target === undefined ? '' : ` on ${target}`}... Hit Ctrl-C to end.\n`
}

/** bcc's `%-8s` of strftime("%H:%M:%S"). */
export function clockTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0')
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

/** Ascending count, as bcc prints them (the most frequent last); ties in a fixed order. */
export function byCount(stacks: readonly SymbolizedStack[]): SymbolizedStack[] {
  const text = (s: SymbolizedStack) => `${s.pid ?? ''} ${s.comm} ${s.kernel.map((f) => f.name).join(';')} ${s.user.map((f) => f.name).join(';')}`
  return [...stacks].sort((a, b) => a.count - b.count || (text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0))
}

function frameLine(f: Frame, verbose: boolean): string {
  return `  ${verbose ? `${f.address.toString(16).padEnd(16)} ` : ''}${f.name}\n`
}

/** Each stack as bcc prints it: kernel frames, `--`, user frames, `comm [pid]`, the count, a blank line. */
export function formatStacks(stacks: readonly SymbolizedStack[], o: TextOptions): string {
  let out = ''
  for (const s of byCount(stacks)) {
    for (const f of s.kernel) out += frameLine(f, o.verbose)
    if (o.delimiter) out += '    --\n'
    for (const f of s.user) out += frameLine(f, o.verbose)
    if (!o.pidGiven && s.pid !== undefined) out += `    ${s.comm} [${s.pid}]\n`
    out += `    ${s.count}\n\n`
  }
  return out
}

/**
 * Stacks as folded-stack samples, the process name at the root as bcc's
 * stackcount puts it: an empty name when its key has none (kernel stacks
 * counted across processes), so the line starts with `;`.
 */
export function stackSamples(stacks: readonly SymbolizedStack[]): StackSample[] {
  return stacks.map((s) => ({
    frames: [...s.kernel.map((f) => f.name), ...s.user.map((f) => f.name), s.comm],
    count: s.count,
    kernelFrames: s.kernel.length,
  }))
}

/**
 * bcc's -f: `comm;user frames;-;kernel frames count`, root first, one line
 * per counted key (equal lines of two processes are not summed), ascending
 * count. With -d the `-` is there even when one side is empty.
 */
export function formatFolded(stacks: readonly SymbolizedStack[], delimiter: boolean): string {
  return foldStacks(stackSamples(stacks), {order: 'count', merge: false, delimiter: delimiter ? '-' : undefined})
}

/** One NDJSON object per stack; field names are documented in the README. */
export function stackJson(s: SymbolizedStack, time: string): Record<string, unknown> {
  const frames = (fs: Frame[]) => fs.map((f) => ({address: `0x${f.address.toString(16)}`, symbol: f.name}))
  return {
    time,
    ...(s.pid === undefined ? {} : {pid: s.pid, comm: s.comm}),
    count: s.count,
    kernel_stack: frames(s.kernel),
    user_stack: frames(s.user),
  }
}
