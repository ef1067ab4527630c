// opensnoop's dashboard: the busiest files and processes, the open rate, and
// the latest opens with the failed ones highlighted; / filters everything
// by process name or path. A view on the same decoded events the text
// output prints.
import type {Client} from '../remote/client.js'
import type {OpensnoopOptions} from '../tools/opensnoop/options.js'
import {traceOpens} from '../tools/opensnoop/run.js'
import type {OpenRecord, OpensnoopSink} from '../tools/opensnoop/sink.js'
import type {PumpResult} from '../tools/event-pump.js'
import {Dashboard, lostMessage, type Board} from './dashboard.js'
import {errnoName} from './errno.js'
import type {MoveKey} from './keys.js'
import {Selection, type Line, type Pane} from './pane.js'
import {RateMeter} from './rate.js'
import {sparkline} from './sparkline.js'
import {formatTable, type Column} from './table.js'

export type FileRow = {path: string; opens: number; fails: number; lastComm: string; lastPid: number; comms: string[]}
export type ProcessRow = {pid: number; comm: string; opens: number; fails: number; lastPath: string; paths: string[]}
export type RecentOpen = {time: Date; pid: number; comm: string; fd: number; err: number; path: string}

export type OpenView = {
  /** Busiest first. */
  files: FileRow[]
  processes: ProcessRow[]
  /** Newest first. */
  recent: RecentOpen[]
  failures: RecentOpen[]
  /** Opens per second, oldest first; the last is the second in progress. */
  rate: number[]
  opens: number
  failed: number
}

/** Kept per file and per process, so a filter can match them. */
const MAX_NAMES = 16
const MAX_FILES = 50000
const MAX_PROCESSES = 20000
const RECENT = 200

function remember(list: string[], name: string): void {
  if (!list.includes(name) && list.length < MAX_NAMES) list.push(name)
}

/** Keeps the `keep` busiest of a map grown past `max`. */
function trim<K, V extends {opens: number}>(m: Map<K, V>, max: number, keep: number): void {
  if (m.size <= max) return
  const rows = [...m].sort((a, b) => b[1].opens - a[1].opens).slice(0, keep)
  m.clear()
  for (const [k, v] of rows) m.set(k, v)
}

/** Counts over the events the model delivers. */
export class OpenStats {
  private readonly files = new Map<string, FileRow>()
  private readonly processes = new Map<number, ProcessRow>()
  private readonly recent: RecentOpen[] = []
  private readonly failures: RecentOpen[] = []
  private readonly rate = new RateMeter()
  private opens = 0
  private failed = 0

  constructor(private readonly now: () => number = Date.now) {}

  add(batch: readonly OpenRecord[]): void {
    const time = new Date(this.now())
    for (const {event: e, line} of batch) {
      const failed = e.ret < 0
      const path = line.path
      let f = this.files.get(path)
      if (!f) this.files.set(path, (f = {path, opens: 0, fails: 0, lastComm: '', lastPid: 0, comms: []}))
      f.opens++
      if (failed) f.fails++
      f.lastComm = e.comm
      f.lastPid = e.pid
      remember(f.comms, e.comm)
      let p = this.processes.get(e.pid)
      if (!p) this.processes.set(e.pid, (p = {pid: e.pid, comm: e.comm, opens: 0, fails: 0, lastPath: '', paths: []}))
      p.comm = e.comm
      p.opens++
      if (failed) p.fails++
      p.lastPath = path
      remember(p.paths, path)
      const r: RecentOpen = {time, pid: e.pid, comm: e.comm, fd: failed ? -1 : e.ret, err: failed ? -e.ret : 0, path}
      this.recent.push(r)
      if (failed) this.failures.push(r)
    }
    this.opens += batch.length
    this.failed += batch.filter((r) => r.event.ret < 0).length
    this.rate.add(batch.length, this.now())
    if (this.recent.length > RECENT * 2) this.recent.splice(0, this.recent.length - RECENT)
    if (this.failures.length > RECENT * 2) this.failures.splice(0, this.failures.length - RECENT)
    trim(this.files, MAX_FILES, MAX_FILES * 0.8)
    trim(this.processes, MAX_PROCESSES, MAX_PROCESSES * 0.8)
  }

  /** A copy to draw from, unchanged by later events. */
  view(): OpenView {
    const busiest = <T extends {opens: number; fails: number}>(a: T, b: T) => b.opens - a.opens || b.fails - a.fails
    return {
      files: [...this.files.values()].map((f) => ({...f, comms: [...f.comms]})).sort((a, b) => busiest(a, b) || (a.path < b.path ? -1 : 1)),
      processes: [...this.processes.values()].map((p) => ({...p, paths: [...p.paths]})).sort((a, b) => busiest(a, b) || a.pid - b.pid),
      recent: this.recent.slice(-RECENT).reverse(),
      failures: this.failures.slice(-RECENT).reverse(),
      rate: this.rate.series(this.now()),
      opens: this.opens,
      failed: this.failed,
    }
  }
}

const has = (text: string, filter: string) => text.toLowerCase().includes(filter)

/** The view with only what matches the filter: a process name or a path. */
export function filterOpens(v: OpenView, filter: string): OpenView {
  if (!filter) return v
  const open = (r: RecentOpen) => has(r.comm, filter) || has(r.path, filter)
  return {
    ...v,
    files: v.files.filter((f) => has(f.path, filter) || f.comms.some((c) => has(c, filter))),
    processes: v.processes.filter((p) => has(p.comm, filter) || p.paths.some((x) => has(x, filter))),
    recent: v.recent.filter(open),
    failures: v.failures.filter(open),
  }
}

const FILE_COLUMNS: Column[] = [
  {title: 'OPENS', width: 7, align: 'right'},
  {title: 'FAIL', width: 6, align: 'right'},
  {title: 'LAST COMM', width: 15},
  {title: 'PATH', width: 20, flex: true, keepEnd: true},
]
const PROCESS_COLUMNS: Column[] = [
  {title: 'PID', width: 7, align: 'right'},
  {title: 'COMM', width: 15},
  {title: 'OPENS', width: 7, align: 'right'},
  {title: 'FAIL', width: 6, align: 'right'},
  {title: 'LAST PATH', width: 20, flex: true, keepEnd: true},
]
const RECENT_COLUMNS: Column[] = [
  {title: 'TIME', width: 8},
  {title: 'PID', width: 7, align: 'right'},
  {title: 'COMM', width: 15},
  {title: 'FD', width: 4, align: 'right'},
  {title: 'ERR', width: 12},
  {title: 'PATH', width: 20, flex: true, keepEnd: true},
]
/** Narrower: the failures pane is beside the latest opens. */
const FAILURE_COLUMNS: Column[] = [
  {title: 'PID', width: 7, align: 'right'},
  {title: 'COMM', width: 15},
  {title: 'ERR', width: 9},
  {title: 'PATH', width: 20, flex: true, keepEnd: true},
]

function clock(d: Date): string {
  return d.toTimeString().slice(0, 8)
}

export class OpensnoopBoard implements Board {
  readonly help = '←→ choose a table  ↑↓ scroll it'
  private readonly stats = new OpenStats()
  private shown: OpenView
  private focus: 'files' | 'processes' = 'files'
  private readonly selection = {files: new Selection(), processes: new Selection()}
  private readonly rate: Pane
  private readonly files: Pane
  private readonly processes: Pane
  private readonly recent: Pane
  private readonly failures: Pane

  constructor(private readonly d: Dashboard) {
    this.shown = this.stats.view()
    this.rate = d.pane('opens per second', {top: 0, left: 0, width: '100%', height: 3})
    this.files = d.pane('busiest files', {top: 3, left: 0, width: '50%', height: '55%-3'})
    this.processes = d.pane('busiest processes', {top: 3, left: '50%', width: '50%', height: '55%-3'})
    this.recent = d.pane('latest opens', {top: '55%', left: 0, width: '55%', height: '45%'})
    this.failures = d.pane('latest failures', {top: '55%', left: '55%', width: '45%', height: '45%'})
  }

  readonly sink: OpensnoopSink = {
    events: (batch) => {
      if (batch.length === 0) return
      this.stats.add(batch)
      this.d.changed()
    },
  }

  move(key: MoveKey): boolean {
    if (key === 'left' || key === 'right') {
      this.focus = key === 'left' ? 'files' : 'processes'
      return true
    }
    const v = filterOpens(this.shown, this.d.filter)
    const pane = this.focus === 'files' ? this.files : this.processes
    return this.selection[this.focus].move(key, this.focus === 'files' ? v.files.length : v.processes.length, pane.innerHeight - 1)
  }

  draw(refresh: boolean): void {
    if (refresh) this.shown = this.stats.view()
    const filter = this.d.filter
    const all = this.shown
    const v = filterOpens(all, filter)
    const g = this.d.glyphs
    const of = (n: number, total: number) => (filter ? `${n} of ${total}` : `${n}`)

    const rate = all.rate.at(-2) ?? 0
    this.rate.setLabel(`opens per second: ${rate} in the last second; ${all.opens} opens, ${all.failed} failed`)
    this.rate.setLines([sparkline(all.rate, this.rate.innerWidth, g)])

    this.files.setFocused(this.focus === 'files')
    this.processes.setFocused(this.focus === 'processes')
    this.files.setLabel(`busiest files: ${of(v.files.length, all.files.length)}`)
    this.table(
      this.files,
      FILE_COLUMNS,
      v.files.map((f) => [String(f.opens), f.fails ? String(f.fails) : '', f.lastComm, f.path]),
      v.files.map((f) => f.fails === f.opens),
      this.selection.files,
      this.focus === 'files',
    )
    this.processes.setLabel(`busiest processes: ${of(v.processes.length, all.processes.length)}`)
    this.table(
      this.processes,
      PROCESS_COLUMNS,
      v.processes.map((p) => [String(p.pid), p.comm, String(p.opens), p.fails ? String(p.fails) : '', p.lastPath]),
      v.processes.map((p) => p.fails === p.opens),
      this.selection.processes,
      this.focus === 'processes',
    )

    const recentRows = (rs: RecentOpen[]) => rs.map((r) => [clock(r.time), String(r.pid), r.comm, String(r.fd), r.err ? errnoName(r.err) : '', r.path])
    this.recent.setLabel(`latest opens, newest first (failed in red)${filter ? `: ${v.recent.length} match` : ''}`)
    const recent = formatTable(RECENT_COLUMNS, recentRows(v.recent), this.recent.innerWidth, g)
    this.recent.setLines([{text: recent.header, style: 'header'}, ...recent.lines.map((l, i): Line => (v.recent[i]!.err ? {text: l, style: 'failure'} : l))])
    this.failures.setLabel(`latest failures: ${of(v.failures.length, all.failures.length)} shown, ${all.failed} in all`)
    const failures = formatTable(FAILURE_COLUMNS, v.failures.map((r) => [String(r.pid), r.comm, errnoName(r.err), r.path]), this.failures.innerWidth, g)
    this.failures.setLines([{text: failures.header, style: 'header'}, ...failures.lines.map((l): Line => ({text: l, style: 'failure'}))])
  }

  private table(pane: Pane, columns: Column[], cells: string[][], failing: boolean[], sel: Selection, focused: boolean): void {
    const {header, lines} = formatTable(columns, cells, pane.innerWidth, this.d.glyphs)
    const w = sel.window(lines, pane.innerHeight - 1)
    const body = w.rows.map((l, i): Line => {
      if (focused && i === w.selected) return {text: l, style: 'selected'}
      return failing[sel.first + i] ? {text: l, style: 'failure'} : l
    })
    pane.setLines([{text: header, style: 'header'}, ...(body.length ? body : [{text: 'no opens yet', style: 'dim' as const}])])
  }
}

export type OpensnoopDashboardOptions = {title: string; machine?: string; verbose?: boolean}

export async function opensnoopDashboard(client: Client, o: OpensnoopOptions, run: OpensnoopDashboardOptions): Promise<PumpResult> {
  const d = await Dashboard.open({title: run.title, verbose: run.verbose, filter: true})
  return d.run(async (signal) => {
    const board = new OpensnoopBoard(d)
    d.show(board)
    const r = await traceOpens(client, o, {machine: run.machine, logger: d.logger, signal, onReady: () => d.ready()}, board.sink)
    if (r.lost > 0) d.logger.info(lostMessage(r.lost))
    return r
  })
}
