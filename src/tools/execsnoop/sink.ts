// Where execsnoop's decoded events go: bcc's text columns or NDJSON here;
// the dashboard is another sink over the same events.
import {writeHeader, type TextOut} from '../context.js'
import type {ExecEvent} from './event.js'
import {execsnoopHeader, execsnoopJson, execsnoopLine, type LineContext} from './format.js'
import type {ExecsnoopOptions} from './options.js'

/** An event that passed the filters, with the times it is printed with. */
export type ExecRecord = {event: ExecEvent; line: LineContext}

export interface ExecsnoopSink {
  /** Once the programs are attached, before events flow. */
  start?(): void | Promise<void>
  /** The events of one batch read from the target, in order; never empty. */
  events(batch: readonly ExecRecord[]): void | Promise<void>
}

/** bcc's output: the header, then a line (or an NDJSON object) per event, one write per batch. */
export function execsnoopOutput(o: ExecsnoopOptions, out: TextOut): ExecsnoopSink {
  return {
    async start() {
      if (!out.json) await writeHeader(out, execsnoopHeader(o) + '\n')
    },
    async events(batch) {
      let text = ''
      for (const {event, line} of batch) text += (out.json ? JSON.stringify(execsnoopJson(event, line)) : execsnoopLine(event, o, line)) + '\n'
      if (text) await out.write(text)
    },
  }
}
