// What a tool's model needs from whoever runs it (the text/JSON output, a
// dashboard, a test), in one place for every tool.
import type {Logger} from '../remote/transport.js'

export type ModelContext = {
  /** `uname -m` to compile for instead of the target's (--arch). */
  machine?: string
  logger?: Logger
  signal?: AbortSignal
  /** Seconds to trace; until the signal without it. */
  durationSec?: number
  /** Called once the programs are attached and events flow. */
  onReady?(): void
}

/** Where text or NDJSON goes. */
export type TextOut = {
  json: boolean
  write(text: string): void | Promise<void>
  /**
   * Writes the column header. Absent, it is written like any text; with
   * several targets it is written once, when every target is ready.
   */
  header?(text: string): void | Promise<void>
}

/** The text or NDJSON output. */
export type RunContext = ModelContext & TextOut

export function writeHeader(out: TextOut, text: string): void | Promise<void> {
  return out.header ? out.header(text) : out.write(text)
}
