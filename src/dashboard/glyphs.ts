// The characters the dashboards draw with: block elements on a UTF-8
// terminal, plain ASCII elsewhere, so a C-locale terminal shows no mojibake.

export type Glyphs = {
  /** Sparkline levels, lowest first; the first is drawn for zero. */
  spark: readonly string[]
  /** Heatmap shades, empty first. */
  shade: readonly string[]
  /** A histogram bar's cell. */
  bar: string
  /** Marks cut text. */
  ellipsis: string
  /** Marks the selected row. */
  pointer: string
  /** Between a parent and its child in a process tree. */
  branch: string
}

export const UNICODE_GLYPHS: Glyphs = {
  spark: ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'],
  shade: [' ', '░', '▒', '▓', '█'],
  bar: '█',
  ellipsis: '…',
  pointer: '▶',
  branch: '└─',
}

export const ASCII_GLYPHS: Glyphs = {
  spark: ['_', '.', '-', '~', '=', '+', '*', '#'],
  shade: [' ', '.', ':', '+', '*', '#', '@'],
  bar: '#',
  ellipsis: '~',
  pointer: '>',
  branch: '`-',
}

export function glyphsFor(unicode: boolean): Glyphs {
  return unicode ? UNICODE_GLYPHS : ASCII_GLYPHS
}
