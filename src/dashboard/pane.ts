// A bordered, labelled box of text lines: what every dashboard pane is.
import type {Widgets} from 'blessed'
import {escapeTags} from './terminal.js'

export type Style = 'header' | 'selected' | 'failure' | 'dim' | 'match'

/** A line of a pane: plain text, or text drawn in a style. */
export type Line = string | {text: string; style?: Style}

const TAGS: Record<Style, [string, string]> = {
  header: ['{bold}', '{/bold}'],
  selected: ['{inverse}', '{/inverse}'],
  failure: ['{red-fg}{bold}', '{/bold}{/red-fg}'],
  dim: ['{gray-fg}', '{/gray-fg}'],
  match: ['{yellow-fg}', '{/yellow-fg}'],
}

export type Position = {top: number | string; left: number | string; width: number | string; height: number | string}

export class Pane {
  constructor(readonly box: Widgets.BoxElement) {}

  /** Cells inside the border. */
  get innerWidth(): number {
    return Math.max(1, Number(this.box.width) - 2)
  }

  get innerHeight(): number {
    return Math.max(1, Number(this.box.height) - 2)
  }

  /** The pane the arrows act on has a brighter border. */
  setFocused(focused: boolean): void {
    ;(this.box.style as {border: {fg: string}}).border.fg = focused ? 'yellow' : 'cyan'
  }

  setLabel(label: string): void {
    this.box.setLabel(` ${escapeTags(label)} `)
  }

  /** Shows the lines, cut to the pane's size. */
  setLines(lines: readonly Line[]): void {
    const w = this.innerWidth
    const shown = lines.slice(0, this.innerHeight).map((l) => {
      const text = typeof l === 'string' ? l : l.text
      const cut = text.length > w ? text.slice(0, w) : text
      if (typeof l === 'string' || !l.style) return escapeTags(cut)
      const [open, close] = TAGS[l.style]
      // A selected row is highlighted across the pane's width.
      return open + escapeTags(l.style === 'selected' ? cut.padEnd(w) : cut) + close
    })
    this.box.setContent(shown.join('\n'))
  }
}

/** Rows `first`..`first + height` of `count`, moved only as far as needed to keep `selected` in view. */
export function scrollWindow(count: number, height: number, selected: number, first: number): number {
  if (count <= height) return 0
  let f = Math.min(Math.max(0, first), count - height)
  if (selected < f) f = selected
  if (selected >= f + height) f = selected - height + 1
  return Math.max(0, f)
}

/** A selected row in a list that may be longer than its pane. */
export class Selection {
  index = 0
  first = 0

  /** Moves for an arrow or paging key; false for keys it does not take. */
  move(key: string, count: number, height: number): boolean {
    const page = Math.max(1, height - 1)
    const to: Record<string, number> = {up: this.index - 1, down: this.index + 1, pageup: this.index - page, pagedown: this.index + page, home: 0, end: count - 1}
    if (!(key in to)) return false
    this.index = Math.max(0, Math.min(count - 1, to[key]!))
    return true
  }

  /** The rows to show: the selection kept in range and in view. */
  window<T>(rows: readonly T[], height: number): {rows: T[]; selected: number} {
    this.index = Math.max(0, Math.min(this.index, rows.length - 1))
    this.first = scrollWindow(rows.length, height, this.index, this.first)
    return {rows: rows.slice(this.first, this.first + height), selected: this.index - this.first}
  }
}
