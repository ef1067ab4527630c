// A sparkline: one character per value, its height relative to the largest shown.
import type {Glyphs} from './glyphs.js'

/** The last `width` values as a sparkline, newest at the right; padded on the left to `width`. */
export function sparkline(values: readonly number[], width: number, g: Glyphs): string {
  if (width <= 0) return ''
  const shown = values.slice(-width)
  const max = Math.max(0, ...shown)
  const top = g.spark.length - 1
  let out = ''
  for (const v of shown) {
    // Any activity at all shows above the zero level.
    out += max <= 0 || v <= 0 ? g.spark[0] : g.spark[Math.max(1, Math.round((v / max) * top))]
  }
  return out.padStart(width, ' ')
}
