// A log2 histogram as text lines whose bars fit the pane, with bcc's bucket
// labels (bucket i counts [2^(i-1), 2^i - 1]; bucket 1 also counts 0).
import type {Glyphs} from './glyphs.js'

/** The bounds of log2 bucket `i` as bcc labels them. */
export function bucketRange(i: number): {low: bigint; high: bigint} {
  const high = (1n << BigInt(i)) - 1n
  let low = (1n << BigInt(i)) >> 1n
  if (low === high) low -= 1n
  return {low, high}
}

/** The first and last non-empty bucket, or undefined when all are empty. */
export function usedBuckets(...hists: readonly (readonly bigint[])[]): {first: number; last: number} | undefined {
  let first = Infinity
  let last = -1
  for (const h of hists) {
    h.forEach((v, i) => {
      if (v > 0n && i >= 1) {
        first = Math.min(first, i)
        last = Math.max(last, i)
      }
    })
  }
  return last < 0 ? undefined : {first, last}
}

export type HistogramLinesOptions = {
  unit: string
  width: number
  glyphs: Glyphs
  /** Each bucket's count in the last interval, shown as +N beside the total. */
  recent?: readonly bigint[]
}

/**
 * `     64 -> 127      : 1234   +12    |█████     |` per bucket from the
 * first non-empty to the last; a header line first. Empty for no counts.
 */
export function histogramLines(buckets: readonly bigint[], o: HistogramLinesOptions): string[] {
  const used = usedBuckets(buckets)
  if (!used) return []
  const labels: string[] = []
  for (let i = used.first; i <= used.last; i++) {
    const {low, high} = bucketRange(i)
    labels.push(`${low} -> ${high}`)
  }
  const labelWidth = Math.max(o.unit.length, ...labels.map((l) => l.length))
  const counts = buckets.slice(used.first, used.last + 1)
  const countWidth = Math.max(5, ...counts.map((c) => String(c).length))
  const recent = o.recent?.slice(used.first, used.last + 1)
  const recentWidth = recent ? Math.max(4, ...recent.map((c) => String(c).length + 1)) : 0
  const fixed = labelWidth + 3 + countWidth + (recent ? 1 + recentWidth : 0) + 3
  const barWidth = Math.max(4, o.width - fixed)
  const max = counts.reduce((a, b) => (b > a ? b : a), 0n)
  const lines = [
    `${o.unit.padStart(labelWidth)} : ${'count'.padEnd(countWidth)}${recent ? ' ' + 'new'.padEnd(recentWidth) : ''}   distribution`,
  ]
  counts.forEach((c, k) => {
    // Any count at all shows as one cell.
    const cells = max === 0n || c === 0n ? 0 : Math.max(1, Number((c * BigInt(barWidth)) / max))
    const r = recent ? ' ' + (recent[k]! > 0n ? `+${recent[k]}` : '').padEnd(recentWidth) : ''
    lines.push(`${labels[k]!.padStart(labelWidth)} : ${String(c).padEnd(countWidth)}${r} |${o.glyphs.bar.repeat(cells).padEnd(barWidth)}|`)
  })
  return lines
}
