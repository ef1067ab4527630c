// Line output of several targets on one stdout: a TARGET column first in
// text, a "target" field first in NDJSON, and the column header written once,
// when every target is ready (or gone), so it still means "tracing now".
import type {TextOut} from '../tools/context.js'

const HEADING = 'TARGET'

/** The TARGET column's width: the longest name, at least the heading's. */
export function targetWidth(names: readonly string[]): number {
  return Math.max(HEADING.length, ...names.map((n) => n.length))
}

function eachLine(text: string, label: (line: string) => string): string {
  const end = text.endsWith('\n') ? text.length - 1 : text.length
  const lines = text.slice(0, end).split('\n').map(label)
  return lines.join('\n') + text.slice(end)
}

/** The header with a TARGET column before it. */
export function labelHeader(text: string, width: number): string {
  return eachLine(text, (line) => `${HEADING.padEnd(width)} ${line}`.trimEnd())
}

/** Each line of `text` with the target's name: a column in text, a leading "target" field of each NDJSON object. */
export function labelLines(text: string, name: string, width: number, json: boolean): string {
  if (!json) return eachLine(text, (line) => `${name.padEnd(width)} ${line}`.trimEnd())
  const field = `"target":${JSON.stringify(name)}`
  return eachLine(text, (line) => {
    if (!line.startsWith('{')) return line
    return line.startsWith('{}') ? `{${field}${line.slice(1)}` : `{${field},${line.slice(1)}`
  })
}

export type LabelledOutputs = {
  /** The output target `index` writes to. */
  forTarget(index: number): TextOut
  /** Target `index` is done (finished or failed): the header need not wait for it. */
  end(index: number): void
}

/** One output per target over `out`, each labelling its lines with its target's name. */
export function labelledOutputs(names: readonly string[], out: TextOut): LabelledOutputs {
  const width = targetWidth(names)
  const waiting = new Set(names.map((_, i) => i))
  let header: string | undefined
  let allReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (allReady = resolve))
  let written: Promise<void> | undefined
  const arrive = (index: number) => {
    waiting.delete(index)
    if (waiting.size === 0) allReady()
  }
  const writeOnce = (): Promise<void> => {
    written ??= ready.then(() => (header === undefined ? undefined : out.write(labelHeader(header, width))))
    return written
  }
  return {
    forTarget(index) {
      const name = names[index]!
      return {
        json: out.json,
        write: (text) => out.write(labelLines(text, name, width, out.json)),
        header(text) {
          header = text
          arrive(index)
          return writeOnce()
        },
      }
    },
    end(index) {
      arrive(index)
    },
  }
}
