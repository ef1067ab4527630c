// Where opensnoop's decoded events go: bcc's text columns or NDJSON here;
// the dashboard is another sink over the same events.
import {writeHeader, type TextOut} from '../context.js'
import type {OpenEvent} from './event.js'
import {opensnoopHeader, opensnoopJson, opensnoopLine, type LineContext} from './format.js'
import type {OpensnoopOptions} from './options.js'

/** An event that passed the filters, with its path as printed (absolute with -F) and the time's zero. */
export type OpenRecord = {event: OpenEvent; line: LineContext}

export interface OpensnoopSink {
  /** Once the programs are attached, before events flow. */
  start?(): void | Promise<void>
  /** The events of one batch read from the target, in order; never empty. */
  events(batch: readonly OpenRecord[]): void | Promise<void>
}

/** bcc's output: the header, then a line (or an NDJSON object) per event, one write per batch. */
export function opensnoopOutput(o: OpensnoopOptions, out: TextOut): OpensnoopSink {
  return {
    async start() {
      if (!out.json) await writeHeader(out, opensnoopHeader(o) + '\n')
    },
    async events(batch) {
      let text = ''
      for (const {event, line} of batch) text += (out.json ? JSON.stringify(opensnoopJson(event, line)) : opensnoopLine(event, o, line)) + '\n'
      if (text) await out.write(text)
    },
  }
}
