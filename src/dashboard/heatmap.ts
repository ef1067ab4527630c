// A latency heatmap: time runs left to right one column per interval,
// latency buckets bottom to top, each cell shaded by how many requests fell
// in that bucket in that interval.
import type {Glyphs} from './glyphs.js'
import {bucketRange} from './text-histogram.js'

export class HeatmapHistory {
  private readonly columns: (readonly bigint[])[] = []

  constructor(private readonly keep = 1000) {}

  push(buckets: readonly bigint[]): void {
    this.columns.push([...buckets])
    if (this.columns.length > this.keep) this.columns.shift()
  }

  get length(): number {
    return this.columns.length
  }

  /** A copy that later pushes do not change. */
  copy(): HeatmapHistory {
    const h = new HeatmapHistory(this.keep)
    h.columns.push(...this.columns)
    return h
  }

  /** The newest `n` columns, oldest first. */
  recent(n: number): (readonly bigint[])[] {
    return this.columns.slice(-n)
  }
}

/** A bucket's lower bound, short: 512, 16K, 2M. */
export function shortBound(i: number): string {
  const low = bucketRange(i).low
  for (const [suffix, div] of [['G', 1n << 30n], ['M', 1n << 20n], ['K', 1n << 10n]] as const) {
    if (low >= div && low % div === 0n) return `${low / div}${suffix}`
  }
  return String(low)
}

export type HeatmapOptions = {width: number; height: number; glyphs: Glyphs; unit: string}

/**
 * Text rows of the heatmap (the largest latencies on top) and a time axis.
 * Shades grow with the logarithm of the count relative to the largest cell
 * shown, so a few slow requests beside many fast ones stay visible.
 */
export function heatmapLines(history: HeatmapHistory, o: HeatmapOptions): string[] {
  const labelWidth = Math.max(6, o.unit.length)
  const plotWidth = Math.max(1, o.width - labelWidth - 2)
  const cols = history.recent(plotWidth)
  let first = Infinity
  let last = -1
  let max = 0n
  for (const c of cols) {
    c.forEach((v, i) => {
      if (v > 0n && i >= 1) {
        first = Math.min(first, i)
        last = Math.max(last, i)
        if (v > max) max = v
      }
    })
  }
  const rowsAvailable = Math.max(1, o.height - 1)
  if (last < 0) return [`${''.padStart(labelWidth)} | no requests yet`]
  // More buckets than rows: each row sums neighbouring buckets.
  const span = last - first + 1
  const per = Math.ceil(span / rowsAvailable)
  const rows: {label: string; from: number; to: number}[] = []
  for (let from = first; from <= last; from += per) rows.push({label: shortBound(from), from, to: Math.min(last, from + per - 1)})
  const levels = o.glyphs.shade.length - 1
  const logMax = Math.log1p(Number(max) * per)
  const lines: string[] = []
  for (const r of rows.reverse()) {
    let cells = ''
    for (const c of cols) {
      let v = 0n
      for (let i = r.from; i <= r.to; i++) v += c[i] ?? 0n
      cells += v === 0n ? o.glyphs.shade[0] : o.glyphs.shade[Math.max(1, Math.min(levels, Math.ceil((Math.log1p(Number(v)) / logMax) * levels)))]
    }
    lines.push(`${r.label.padStart(labelWidth)} |${cells.padStart(plotWidth)}`)
  }
  lines.push(`${o.unit.padStart(labelWidth)} +${`${'-'.repeat(Math.max(0, plotWidth - 5))}> now`.slice(0, plotWidth)}`)
  return lines
}
