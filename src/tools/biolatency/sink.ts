// Where biolatency's intervals go: bcc's text or JSON here; the dashboard
// is another sink over the same intervals.
import {BIOLATENCY_HEADER, formatExtension, formatHistograms, histogramJson, jsonTime, type Extension, type Unit} from './format.js'
import type {Histogram} from './hist.js'
import type {BiolatencyOptions} from './options.js'

/** One interval's histograms, cleared after each. */
export type BiolatencyInterval = {
  index: number
  /** The final interval (Ctrl-C, the count reached). */
  last: boolean
  time: Date
  /** One per disk (-D) or flags (-F), in name order; else one. */
  histograms: Histogram[]
  /** -e only. */
  extension?: Extension
}

export interface BiolatencySink {
  /** Once the programs are attached, before timing starts. */
  start?(): void | Promise<void>
  interval(i: BiolatencyInterval): void | Promise<void>
}

export function biolatencyUnit(o: BiolatencyOptions): Unit {
  return o.milliseconds ? 'msecs' : 'usecs'
}

/** bcc's output: the header, then each interval's histograms as text or JSON lines. */
export function biolatencyOutput(o: BiolatencyOptions, out: {json: boolean; write(text: string): void | Promise<void>}): BiolatencySink {
  const unit = biolatencyUnit(o)
  return {
    async start() {
      if (!out.json) await out.write(BIOLATENCY_HEADER)
    },
    async interval({time, histograms, extension}) {
      let text = ''
      if (out.json) {
        for (const h of histograms) text += JSON.stringify(histogramJson(h, unit, jsonTime(time), extension)) + '\n'
      } else {
        text += '\n'
        if (o.timestamp) text += `${clockTime(time).padEnd(8)}\n`
        text += formatHistograms(histograms, unit)
        if (extension) text += formatExtension(extension, unit)
      }
      await out.write(text)
    },
  }
}

function clockTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0')
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}
