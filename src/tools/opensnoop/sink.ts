// Where opensnoop's decoded events go: bcc's text columns or NDJSON here;
// the dashboard is another sink over the same events.
import {eventLines, type EventSink, type TextOut} from '../context.js'
import type {OpenEvent} from './event.js'
import {opensnoopHeader, opensnoopJson, opensnoopLine, type LineContext} from './format.js'
import type {OpensnoopOptions} from './options.js'

/** An event that passed the filters, with its path as printed (absolute with -F) and the time's zero. */
export type OpenRecord = {event: OpenEvent; line: LineContext}

export type OpensnoopSink = EventSink<OpenRecord>

/** bcc's output: the header, then a line (or an NDJSON object) per event. */
export function opensnoopOutput(o: OpensnoopOptions, out: TextOut): OpensnoopSink {
  return eventLines(out, {
    header: () => opensnoopHeader(o),
    line: ({event, line}) => opensnoopLine(event, o, line),
    json: ({event, line}) => opensnoopJson(event, line),
  })
}
