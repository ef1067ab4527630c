// biolatency's output exactly as bcc's biolatency prints it, and its JSON.
import {formatLog2Hist} from '../../output/histogram.js'
import type {Histogram} from './hist.js'

export const BIOLATENCY_HEADER = 'Tracing block device I/O... Hit Ctrl-C to end.\n'

export type Unit = 'usecs' | 'msecs'

/** -e: the latencies' total (nanoseconds) and how many there were. */
export type Extension = {totalNs: bigint; count: bigint}

/** The histograms of one interval, each under its `disk = vda` / `flags = Sync-Write` line as bcc prints them. */
export function formatHistograms(hists: readonly Histogram[], unit: Unit): string {
  let out = ''
  for (const h of hists) {
    const text = formatLog2Hist(h.buckets, unit)
    if (h.section) out += `\n${h.section.name} = ${h.section.value}\n`
    out += text
  }
  return out
}

/** bcc's -e line: `avg = 10 usecs, total: 120 usecs, count: 12`, truncated as %ld does. */
export function formatExtension(e: Extension, unit: Unit): string {
  if (e.count === 0n) return ''
  const div = unit === 'msecs' ? 1_000_000 : 1_000
  const total = Number(e.totalNs) / div
  return `\navg = ${Math.trunc(total / Number(e.count))} ${unit}, total: ${Math.trunc(total)} ${unit}, count: ${e.count}\n\n`
}

/** bcc's `%Y-%m-%d %H:%M:%S`. */
export function jsonTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

/**
 * One histogram as bcc's -j prints it (there a Python dict; here JSON): the
 * buckets up to the last non-empty one as interval-start / interval-end /
 * count, and the disk or flags of the section.
 */
export function histogramJson(h: Histogram, unit: Unit, ts: string, ext?: Extension): Record<string, unknown> {
  let last = 0
  h.buckets.forEach((v, i) => {
    if (v !== 0n) last = i
  })
  const data: {'interval-start': number; 'interval-end': number; count: number}[] = []
  let prev = 0
  let index = 1
  for (let i = 1; i <= last; i++) {
    index *= 2
    data.push({'interval-start': prev, 'interval-end': index - 1, count: Number(h.buckets[i]!)})
    prev = index
  }
  const out: Record<string, unknown> = {ts, val_type: unit, data}
  if (h.section) out[h.section.name] = h.section.value
  if (ext && ext.count > 0n) {
    const div = unit === 'msecs' ? 1_000_000 : 1_000
    out.total = Math.trunc(Number(ext.totalNs) / div)
    out.count = Number(ext.count)
    out.avg = Math.trunc(Number(ext.totalNs) / div / Number(ext.count))
  }
  return out
}
