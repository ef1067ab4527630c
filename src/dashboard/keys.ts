// What a key does on every dashboard: q and Ctrl-C quit, p pauses, / edits
// the filter; the rest (arrows, Enter, paging) goes to the dashboard shown.

/** The part of blessed's key event read here. */
export type KeyEvent = {name?: string; full?: string; ctrl?: boolean; meta?: boolean}

export type KeyAction =
  | {do: 'quit'}
  | {do: 'pause'}
  | {do: 'filter-start'}
  | {do: 'filter-set'; text: string; done: boolean}
  | {do: 'move'; key: MoveKey}
  | {do: 'none'}

export type MoveKey = 'up' | 'down' | 'left' | 'right' | 'enter' | 'pageup' | 'pagedown' | 'home' | 'end'

const MOVES = new Set<string>(['up', 'down', 'left', 'right', 'enter', 'pageup', 'pagedown', 'home', 'end'])

/**
 * What a key press means, given whether the filter is being typed and its
 * text so far. While typing, letters go into the filter (so q and p do not
 * quit or pause), Enter keeps it, Escape clears it.
 */
export function keyAction(ch: string | undefined, key: KeyEvent, filter: {editing: boolean; text: string}): KeyAction {
  const name = key.name === 'return' ? 'enter' : key.name
  if (key.full === 'C-c') return {do: 'quit'}
  if (filter.editing) {
    if (name === 'enter') return {do: 'filter-set', text: filter.text, done: true}
    if (name === 'escape') return {do: 'filter-set', text: '', done: true}
    if (name === 'backspace') return {do: 'filter-set', text: filter.text.slice(0, -1), done: false}
    if (ch && ch.length === 1 && ch >= ' ' && ch !== '\x7f' && !key.ctrl && !key.meta) return {do: 'filter-set', text: filter.text + ch, done: false}
    return {do: 'none'}
  }
  if (ch === 'q' || name === 'q') return {do: 'quit'}
  if (ch === 'p' || name === 'p') return {do: 'pause'}
  if (ch === '/') return {do: 'filter-start'}
  if (name === 'escape' && filter.text) return {do: 'filter-set', text: '', done: true}
  if (name && MOVES.has(name)) return {do: 'move', key: name as MoveKey}
  return {do: 'none'}
}
