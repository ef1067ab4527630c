// Where execsnoop's decoded events go: bcc's text columns or NDJSON here;
// the dashboard is another sink over the same events.
import {eventLines, type EventSink, type TextOut} from '../context.js'
import type {ExecEvent} from './event.js'
import {execsnoopHeader, execsnoopJson, execsnoopLine, type LineContext} from './format.js'
import type {ExecsnoopOptions} from './options.js'

/** An event that passed the filters, with the times it is printed with. */
export type ExecRecord = {event: ExecEvent; line: LineContext}

export type ExecsnoopSink = EventSink<ExecRecord>

/** bcc's output: the header, then a line (or an NDJSON object) per event. */
export function execsnoopOutput(o: ExecsnoopOptions, out: TextOut): ExecsnoopSink {
  return eventLines(out, {
    header: () => execsnoopHeader(o),
    line: ({event, line}) => execsnoopLine(event, o, line),
    json: ({event, line}) => execsnoopJson(event, line),
  })
}
