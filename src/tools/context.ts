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

/** Where a per-event tool's decoded events go: its text or NDJSON output, or a dashboard. */
export interface EventSink<R> {
  /** Once the programs are attached, before events flow. */
  start?(): void | Promise<void>
  /** The events of one batch read from the target, in order; never empty. */
  events(batch: readonly R[]): void | Promise<void>
}

/** bcc's per-event output: the header, then a line (or an NDJSON object) per record, one write per batch. */
export function eventLines<R>(out: TextOut, format: {header(): string; line(r: R): string; json(r: R): unknown}): EventSink<R> {
  return {
    async start() {
      if (!out.json) await writeHeader(out, format.header() + '\n')
    },
    async events(batch) {
      let text = ''
      for (const r of batch) text += (out.json ? JSON.stringify(format.json(r)) : format.line(r)) + '\n'
      if (text) await out.write(text)
    },
  }
}
