// Where biolatency's intervals go: bcc's text or JSON here; the dashboard
// is another sink over the same intervals.
import {BIOLATENCY_HEADER, formatExtension, formatHistograms, histogramJson, jsonTime, type Extension, type Unit} from './format.js'
import type {Histogram} from './hist.js'
import type {BiolatencyOptions} from './options.js'
import type {TextOut} from '../context.js'

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
export function biolatencyOutput(o: BiolatencyOptions, out: TextOut): BiolatencySink {
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

/** The histograms of several targets added up, section by section (a disk or flags of the same name on two targets is one section). */
export function mergeHistograms(lists: readonly (readonly Histogram[])[]): Histogram[] {
  const merged = new Map<string, Histogram>()
  for (const list of lists) {
    for (const h of list) {
      const key = h.section ? `${h.section.name}=${h.section.value}` : ''
      const into = merged.get(key)
      if (!into) merged.set(key, {...h, buckets: [...h.buckets]})
      else h.buckets.forEach((v, i) => (into.buckets[i] = (into.buckets[i] ?? 0n) + v))
    }
  }
  return [...merged.keys()].sort().map((k) => merged.get(k)!)
}

function mergeExtensions(exts: readonly (Extension | undefined)[]): Extension | undefined {
  const present = exts.filter((e): e is Extension => e !== undefined)
  if (!present.length) return undefined
  return {totalNs: present.reduce((a, e) => a + e.totalNs, 0n), count: present.reduce((a, e) => a + e.count, 0n)}
}

export type TargetsOutput = {
  /** A target is ready: the header is written by the first. */
  start(): Promise<void>
  /** One interval of every target, in target order (undefined: a target that has none, having failed or finished). */
  intervals(parts: readonly (BiolatencyInterval | undefined)[]): Promise<void>
}

/**
 * Several targets: each interval prints every target's histograms under a
 * `target = NAME` line (JSON: a leading "target" field), or with `merge`
 * their sum, printed as one target's would be.
 */
export function biolatencyTargetsOutput(o: BiolatencyOptions, out: TextOut, names: readonly string[], merge: boolean): TargetsOutput {
  const unit = biolatencyUnit(o)
  let started = false
  return {
    async start() {
      if (started) return
      started = true
      if (!out.json) await out.write(BIOLATENCY_HEADER)
    },
    async intervals(parts) {
      const present = parts.flatMap((p, i) => (p ? [{name: names[i]!, p}] : []))
      if (!present.length) return
      const time = present[0]!.p.time
      if (merge) {
        const histograms = mergeHistograms(present.map(({p}) => p.histograms))
        const extension = mergeExtensions(present.map(({p}) => p.extension))
        await biolatencyOutput(o, out).interval({index: present[0]!.p.index, last: present.every(({p}) => p.last), time, histograms, extension})
        return
      }
      let text = ''
      if (out.json) {
        for (const {name, p} of present) {
          for (const h of p.histograms) text += JSON.stringify({target: name, ...histogramJson(h, unit, jsonTime(p.time), p.extension)}) + '\n'
        }
      } else {
        text += '\n'
        if (o.timestamp) text += `${clockTime(time).padEnd(8)}\n`
        present.forEach(({name, p}, i) => {
          text += `${i ? '\n' : ''}target = ${name}\n` + formatHistograms(p.histograms, unit)
          if (p.extension) text += formatExtension(p.extension, unit)
        })
      }
      await out.write(text)
    },
  }
}
