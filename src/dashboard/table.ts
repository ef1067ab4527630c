// Fixed-width text columns, as cli-table3 lays them out, for drawing inside
// a blessed box: one column may stretch to the box's width, and text that
// does not fit is cut with a mark.
import type {Glyphs} from './glyphs.js'

export type Column = {
  title: string
  /** Cells wider than this are cut; a flexible column gets at least this. */
  width: number
  /** Takes the width the others leave. */
  flex?: boolean
  align?: 'left' | 'right'
  /** Cut at the start, keeping the end (paths: the file name matters most). */
  keepEnd?: boolean
}

/** Fits `text` into `width` cells, cutting it with the ellipsis mark. */
export function fit(text: string, width: number, g: Glyphs, o: {align?: 'left' | 'right'; keepEnd?: boolean} = {}): string {
  if (width <= 0) return ''
  let t = text.replace(/[\x00-\x1f\x7f]/g, '?')
  if (t.length > width) {
    t = width === 1 ? g.ellipsis : o.keepEnd ? g.ellipsis + t.slice(t.length - width + 1) : t.slice(0, width - 1) + g.ellipsis
  }
  return o.align === 'right' ? t.padStart(width) : t.padEnd(width)
}

/** The column widths for a total width: fixed columns as given, flexible ones share the rest. */
export function columnWidths(columns: readonly Column[], total: number): number[] {
  const gaps = Math.max(0, columns.length - 1)
  const fixed = columns.reduce((a, c) => a + (c.flex ? 0 : c.width), 0)
  const flex = columns.filter((c) => c.flex)
  const spare = Math.max(0, total - gaps - fixed)
  return columns.map((c) => (c.flex ? Math.max(c.width, Math.floor(spare / flex.length)) : c.width))
}

/** The header and the rows as lines of exactly the columns' widths. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[], total: number, g: Glyphs): {header: string; lines: string[]} {
  const widths = columnWidths(columns, total)
  const line = (cells: readonly string[]) =>
    columns.map((c, i) => fit(cells[i] ?? '', widths[i]!, g, {align: c.align, keepEnd: c.keepEnd})).join(' ').trimEnd()
  return {header: line(columns.map((c) => c.title)), lines: rows.map(line)}
}
