// stackcount's dashboard: the stacks counted so far, the busiest first, with
// each one's count in the latest interval; a stack selected with the arrows
// expands to its frames. A view on the same intervals the text output prints.
import type {Client} from '../remote/client.js'
import type {Frame, SymbolizedStack} from '../tools/stackcount/format.js'
import type {StackcountOptions} from '../tools/stackcount/options.js'
import {countStacks, type StackcountResult} from '../tools/stackcount/run.js'
import type {StackcountInterval, StackcountSink} from '../tools/stackcount/sink.js'
import {Dashboard, type Board} from './dashboard.js'
import type {MoveKey} from './keys.js'
import type {Line, Pane} from './pane.js'
import {sparkline} from './sparkline.js'
import {formatTable, type Column} from './table.js'

export type StackRow = {
  key: string
  pid?: number
  comm: string
  /** Events since the dashboard started. */
  total: number
  /** Events in the latest interval. */
  last: number
  kernel: readonly Frame[]
  user: readonly Frame[]
}

export type StackView = {
  /** Busiest first. */
  rows: StackRow[]
  intervals: number
  events: number
  /** Events in each interval, oldest first. */
  perInterval: number[]
}

/** Distinct stacks remembered; past this the least counted are forgotten. */
const MAX_ROWS = 20000
const MAX_HISTORY = 1000

/** Stacks with the same process and frame names are one row, whatever their addresses. */
export function stackKey(s: SymbolizedStack): string {
  return [s.pid ?? '', s.comm, s.kernel.map((f) => f.name).join(';'), s.user.map((f) => f.name).join(';')].join('\0')
}

/** Running totals over the intervals the model delivers (each holds that interval's counts). */
export class StackTotals {
  private readonly rows = new Map<string, StackRow>()
  private intervals = 0
  private events = 0
  private readonly perInterval: number[] = []

  add(i: StackcountInterval): void {
    for (const r of this.rows.values()) r.last = 0
    let n = 0
    for (const s of i.stacks) {
      const key = stackKey(s)
      let r = this.rows.get(key)
      if (!r) this.rows.set(key, (r = {key, pid: s.pid, comm: s.comm, total: 0, last: 0, kernel: s.kernel, user: s.user}))
      r.total += s.count
      r.last += s.count
      n += s.count
    }
    this.intervals++
    this.events += n
    this.perInterval.push(n)
    if (this.perInterval.length > MAX_HISTORY) this.perInterval.shift()
    if (this.rows.size > MAX_ROWS) {
      const keep = [...this.rows.values()].sort(busiest).slice(0, MAX_ROWS)
      this.rows.clear()
      for (const r of keep) this.rows.set(r.key, r)
    }
  }

  /** A copy to draw from, unchanged by later intervals. */
  view(): StackView {
    return {
      rows: [...this.rows.values()].map((r) => ({...r})).sort(busiest),
      intervals: this.intervals,
      events: this.events,
      perInterval: [...this.perInterval],
    }
  }
}

function busiest(a: StackRow, b: StackRow): number {
  return b.total - a.total || b.last - a.last || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
}

/** Whether a row matches the filter: its process name or any frame. */
export function stackMatches(r: StackRow, filter: string): boolean {
  if (!filter) return true
  if (r.comm.toLowerCase().includes(filter) || String(r.pid ?? '').includes(filter)) return true
  return [...r.kernel, ...r.user].some((f) => f.name.toLowerCase().includes(filter))
}

/** One line for a stack: its own code (user frames) first, then the kernel's, leaf first in each. */
export function stackSummary(r: StackRow): string {
  const user = r.user.map((f) => f.name).join(' < ')
  const kernel = r.kernel.map((f) => f.name).join(' < ')
  return user && kernel ? `${user} | ${kernel}` : user || kernel || '[no stack]'
}

const COLUMNS: Column[] = [
  {title: '', width: 1},
  {title: 'COUNT', width: 10, align: 'right'},
  {title: 'LAST', width: 9, align: 'right'},
  {title: 'PID', width: 7, align: 'right'},
  {title: 'COMM', width: 16},
  {title: 'STACK (user < callers | kernel < callers)', width: 20, flex: true},
]

export class StackcountBoard implements Board {
  readonly help = '↑↓ select  → / Enter expand  ← collapse'
  private readonly totals = new StackTotals()
  private shown: StackView
  private selectedKey: string | undefined
  private selectedIndex = 0
  private readonly expanded = new Set<string>()
  private firstLine = 0
  private visibleRows: StackRow[] = []
  private readonly rate: Pane
  private readonly table: Pane

  constructor(private readonly d: Dashboard, private readonly intervalSec: number) {
    this.shown = this.totals.view()
    this.rate = d.pane('events per interval', {top: 0, left: 0, width: '100%', height: 3})
    this.table = d.pane('top stacks', {top: 3, left: 0, width: '100%', height: '100%-3'})
  }

  readonly sink: StackcountSink = {
    interval: (i) => {
      this.totals.add(i)
      this.d.changed()
    },
  }

  move(key: MoveKey): boolean {
    const n = this.visibleRows.length
    if (n === 0) return false
    const page = Math.max(1, this.table.innerHeight - 2)
    let i = this.selectedIndex
    if (key === 'up') i--
    else if (key === 'down') i++
    else if (key === 'pageup') i -= page
    else if (key === 'pagedown') i += page
    else if (key === 'home') i = 0
    else if (key === 'end') i = n - 1
    i = Math.max(0, Math.min(n - 1, i))
    const k = this.visibleRows[i]!.key
    this.selectedKey = k
    if (key === 'right') this.expanded.add(k)
    else if (key === 'left') this.expanded.delete(k)
    else if (key === 'enter') {
      if (this.expanded.has(k)) this.expanded.delete(k)
      else this.expanded.add(k)
    }
    this.selectedIndex = i
    return true
  }

  draw(refresh: boolean): void {
    if (refresh) this.shown = this.totals.view()
    const v = this.shown
    const g = this.d.glyphs
    const last = v.perInterval.at(-1) ?? 0
    this.rate.setLabel(`events per ${this.intervalSec}s interval: ${last} last, ${v.events} in ${v.intervals} intervals`)
    this.rate.setLines([sparkline(v.perInterval, this.rate.innerWidth, g)])

    const filter = this.d.filter
    const rows = v.rows.filter((r) => stackMatches(r, filter))
    this.visibleRows = rows
    // Once chosen, the selection follows its stack as the order changes; before, it stays on the busiest.
    const at = this.selectedKey === undefined ? -1 : rows.findIndex((r) => r.key === this.selectedKey)
    this.selectedIndex = at >= 0 ? at : Math.max(0, Math.min(this.selectedIndex, rows.length - 1))

    const width = this.table.innerWidth
    const cells = rows.map((r, i) => [
      i === this.selectedIndex ? g.pointer : this.expanded.has(r.key) ? '-' : '',
      String(r.total),
      r.last ? `+${r.last}` : '',
      r.pid === undefined ? '' : String(r.pid),
      r.comm,
      stackSummary(r),
    ])
    const {header, lines} = formatTable(COLUMNS, cells, width, g)
    this.table.setLabel(`${rows.length}${filter ? ` of ${v.rows.length}` : ''} stacks, busiest first (COUNT since start, LAST in the latest interval)`)
    const body: Line[] = []
    let selFrom = 0
    let selTo = 0
    rows.forEach((r, i) => {
      if (i === this.selectedIndex) selFrom = body.length
      body.push(i === this.selectedIndex ? {text: lines[i]!, style: 'selected'} : lines[i]!)
      if (this.expanded.has(r.key)) body.push(...frameLines(r))
      if (i === this.selectedIndex) selTo = body.length - 1
    })
    if (rows.length === 0) body.push({text: v.intervals === 0 ? 'waiting for the first interval...' : filter ? 'no stack matches the filter' : 'no events yet', style: 'dim'})
    const height = Math.max(1, this.table.innerHeight - 1)
    // Keep the selected stack, and as much of its frames as fit, in view.
    let first = Math.min(this.firstLine, Math.max(0, body.length - height))
    if (selTo >= first + height) first = Math.min(selFrom, selTo - height + 1)
    if (selFrom < first) first = selFrom
    this.firstLine = Math.max(0, first)
    this.table.setLines([{text: header, style: 'header'}, ...body.slice(this.firstLine, this.firstLine + height)])
  }
}

/** An expanded stack as bcc prints it: kernel frames, `--`, user frames, leaf first, with addresses. */
function frameLines(r: StackRow): Line[] {
  const frame = (f: Frame): Line => `      ${f.address.toString(16).padStart(16, '0')}  ${f.name}`
  const out: Line[] = r.kernel.map(frame)
  if (r.kernel.length && r.user.length) out.push({text: '      --', style: 'dim'})
  out.push(...r.user.map(frame))
  if (out.length === 0) out.push({text: '      (no frames)', style: 'dim'})
  return out
}

export type StackcountDashboardOptions = {title: string; machine?: string; verbose?: boolean}

/** Runs stackcount with the dashboard; counts are read every interval (-i, else every second). */
export async function stackcountDashboard(client: Client, o: StackcountOptions, run: StackcountDashboardOptions): Promise<StackcountResult> {
  const options: StackcountOptions = {...o, intervalSec: o.intervalSec ?? 1}
  const d = await Dashboard.open({title: run.title, verbose: run.verbose, filter: true})
  return d.run(async (signal) => {
    const board = new StackcountBoard(d, options.intervalSec!)
    d.show(board)
    return countStacks(client, options, {machine: run.machine, logger: d.logger, signal, onReady: () => d.ready()}, board.sink)
  })
}
