// Where stackcount's intervals go: bcc's text, folded stacks or NDJSON
// here; the dashboard is another sink over the same intervals.
import {clockTime, formatFolded, formatStacks, stackcountHeader, stackJson, type SymbolizedStack} from './format.js'
import type {StackChoice, StackcountOptions} from './options.js'
import type {TextOut} from '../context.js'

/** One interval's counts: cleared between intervals with -i, else the whole run. */
export type StackcountInterval = {
  index: number
  /** The final interval (Ctrl-C, the duration's end). */
  last: boolean
  time: Date
  stacks: SymbolizedStack[]
}

export interface StackcountSink {
  /** Once the probes are attached, before counting starts. */
  start?(info: {probes: number; choice: StackChoice}): void | Promise<void>
  interval(i: StackcountInterval): void | Promise<void>
}

/** One interval as bcc prints it: its stacks as text, folded lines or NDJSON. */
export function intervalText(o: StackcountOptions, json: boolean, delimiter: boolean, {index, last, time, stacks}: StackcountInterval): string {
  let text = ''
  if (json) {
    for (const s of stacks) text += JSON.stringify({...stackJson(s, time.toISOString()), ...(o.intervalSec === undefined ? {} : {interval: index})}) + '\n'
  } else {
    if (!o.folded) text += '\n'
    if (o.timestamp) text += `${clockTime(time).padEnd(8)}\n`
    text += o.folded ? formatFolded(stacks, delimiter) : formatStacks(stacks, {verbose: o.verbose, delimiter, pidGiven: o.pid !== undefined})
    if (last && !o.folded) text += 'Detaching...\n'
  }
  return text
}

/** bcc's output: the header, then each interval's stacks as text, folded lines or NDJSON. */
export function stackcountOutput(o: StackcountOptions, out: TextOut): StackcountSink {
  const textOut = !out.json && !o.folded
  let delimiter = false
  return {
    async start({probes, choice}) {
      delimiter = choice.delimiter
      if (textOut) await out.write(stackcountHeader(probes, o.pattern))
    },
    async interval(i) {
      const text = intervalText(o, out.json, delimiter, i)
      if (text) await out.write(text)
    },
  }
}

/** The stacks of several targets added up by their symbolised frames (addresses differ from target to target; the first target's are kept). */
export function mergeStacks(lists: readonly (readonly SymbolizedStack[])[]): SymbolizedStack[] {
  const merged = new Map<string, SymbolizedStack>()
  for (const list of lists) {
    for (const s of list) {
      const key = [s.pid === undefined ? '' : `${s.pid} ${s.comm}`, s.kernel.map((f) => f.name).join(';'), s.user.map((f) => f.name).join(';')].join('\0')
      const into = merged.get(key)
      if (into) into.count += s.count
      else merged.set(key, {...s})
    }
  }
  return [...merged.values()]
}

export type TargetsOutput = {
  /** Target `index` has attached its probes. */
  start(index: number, info: {probes: number; choice: StackChoice}): Promise<void>
  /** One interval of every target, in target order (undefined: a target that has none, having failed or finished). */
  intervals(parts: readonly (StackcountInterval | undefined)[]): Promise<void>
}

/**
 * Several targets: a header line per target naming it; each interval prints
 * every target's stacks under a `target = NAME` line (folded: the name as the
 * root frame; NDJSON: a leading "target" field), or with `merge` their sum,
 * printed as one target's would be.
 */
export function stackcountTargetsOutput(o: StackcountOptions, out: TextOut, names: readonly string[], merge: boolean): TargetsOutput {
  const textOut = !out.json && !o.folded
  let delimiter = false
  return {
    async start(index, {probes, choice}) {
      delimiter = choice.delimiter
      // A line per target: how many probes matched differs from target to target.
      if (textOut) await out.write(stackcountHeader(probes, o.pattern, names[index]))
    },
    async intervals(parts) {
      const present = parts.flatMap((p, i) => (p ? [{name: names[i]!, p}] : []))
      if (!present.length) return
      const {index, time} = present[0]!.p
      const last = present.every(({p}) => p.last)
      let text = ''
      if (merge) {
        text = intervalText(o, out.json, delimiter, {index, last, time, stacks: mergeStacks(present.map(({p}) => p.stacks))})
      } else if (out.json) {
        for (const {name, p} of present) {
          for (const s of p.stacks) text += JSON.stringify({target: name, ...stackJson(s, p.time.toISOString()), ...(o.intervalSec === undefined ? {} : {interval: p.index})}) + '\n'
        }
      } else if (o.folded) {
        for (const {name, p} of present) text += formatFolded(p.stacks, delimiter).replace(/^(?=.)/gm, `${name};`)
      } else {
        text += '\n'
        if (o.timestamp) text += `${clockTime(time).padEnd(8)}\n`
        for (const {name, p} of present) text += `target = ${name}\n` + formatStacks(p.stacks, {verbose: o.verbose, delimiter, pidGiven: o.pid !== undefined})
        if (last) text += 'Detaching...\n'
      }
      if (text) await out.write(text)
    },
  }
}
