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

/** The text or NDJSON output. */
export type RunContext = ModelContext & {
  json: boolean
  write(text: string): void | Promise<void>
}
