// Where stackcount's intervals go: bcc's text, folded stacks or NDJSON
// here; the dashboard is another sink over the same intervals.
import {clockTime, formatFolded, formatStacks, stackcountHeader, stackJson, type SymbolizedStack} from './format.js'
import type {StackChoice, StackcountOptions} from './options.js'

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

/** bcc's output: the header, then each interval's stacks as text, folded lines or NDJSON. */
export function stackcountOutput(o: StackcountOptions, out: {json: boolean; write(text: string): void | Promise<void>}): StackcountSink {
  const textOut = !out.json && !o.folded
  let delimiter = false
  return {
    async start({probes, choice}) {
      delimiter = choice.delimiter
      if (textOut) await out.write(stackcountHeader(probes, o.pattern))
    },
    async interval({index, last, time, stacks}) {
      let text = ''
      if (out.json) {
        for (const s of stacks) text += JSON.stringify({...stackJson(s, time.toISOString()), ...(o.intervalSec === undefined ? {} : {interval: index})}) + '\n'
      } else {
        if (!o.folded) text += '\n'
        if (o.timestamp) text += `${clockTime(time).padEnd(8)}\n`
        text += o.folded ? formatFolded(stacks, delimiter) : formatStacks(stacks, {verbose: o.verbose, delimiter, pidGiven: o.pid !== undefined})
        if (last && textOut) text += 'Detaching...\n'
      }
      if (text) await out.write(text)
    },
  }
}
