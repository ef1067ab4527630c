// execsnoop's dashboard: the latest execs with their arguments, the
// processes they made as a tree (parent → child), the busiest commands and
// the exec rate; / filters by command name or arguments. A view on the same
// decoded events the text output prints.
import type {Client} from '../remote/client.js'
import type {PumpResult} from '../tools/event-pump.js'
import {execsnoopArgs} from '../tools/execsnoop/format.js'
import type {ExecsnoopOptions} from '../tools/execsnoop/options.js'
import {traceExecs} from '../tools/execsnoop/run.js'
import type {ExecRecord, ExecsnoopSink} from '../tools/execsnoop/sink.js'
import {Dashboard, lostMessage, type Board} from './dashboard.js'
import {errnoName} from './errno.js'
import type {Glyphs} from './glyphs.js'
import type {MoveKey} from './keys.js'
import {Selection, type Line, type Pane} from './pane.js'
import {RateMeter} from './rate.js'
import {sparkline} from './sparkline.js'
import {fit, formatTable, type Column} from './table.js'

export type ExecRow = {time: Date; pid: number; ppid: number; uid: number; ret: number; comm: string; args: string}
export type CommandRow = {comm: string; execs: number; fails: number}

export type ExecView = {
  /** Newest first. */
  recent: ExecRow[]
  /** The latest exec of each process, oldest first. */
  processes: ExecRow[]
  commands: CommandRow[]
  rate: number[]
  execs: number
  failed: number
}

const RECENT = 500
const MAX_COMMANDS = 5000
/** Processes kept for the tree, the ones that exec'd longest ago forgotten first. */
const MAX_PROCESSES = 2000

export class ExecStats {
  private readonly recent: ExecRow[] = []
  /** The latest successful exec of each process, oldest first (a failed exec left its process as it was). */
  private readonly processes = new Map<number, ExecRow>()
  private readonly commands = new Map<string, CommandRow>()
  private readonly rate = new RateMeter()
  private execs = 0
  private failed = 0

  constructor(private readonly o: ExecsnoopOptions, private readonly now: () => number = Date.now) {}

  add(batch: readonly ExecRecord[]): void {
    for (const {event: e, line} of batch) {
      // The words the text output prints: -q quotes, --max-args, the ... of a cut list.
      const args = execsnoopArgs(e, this.o).join(' ')
      const row: ExecRow = {time: line.now, pid: e.pid, ppid: e.ppid, uid: e.uid, ret: e.ret, comm: e.comm, args}
      this.recent.push(row)
      if (e.ret === 0) {
        this.processes.delete(e.pid)
        this.processes.set(e.pid, row)
        if (this.processes.size > MAX_PROCESSES) this.processes.delete(this.processes.keys().next().value!)
      }
      let c = this.commands.get(e.comm)
      if (!c) this.commands.set(e.comm, (c = {comm: e.comm, execs: 0, fails: 0}))
      c.execs++
      if (e.ret !== 0) {
        c.fails++
        this.failed++
      }
    }
    this.execs += batch.length
    this.rate.add(batch.length, this.now())
    if (this.recent.length > RECENT * 2) this.recent.splice(0, this.recent.length - RECENT)
    if (this.commands.size > MAX_COMMANDS) {
      const keep = [...this.commands].sort((a, b) => b[1].execs - a[1].execs).slice(0, MAX_COMMANDS / 2)
      this.commands.clear()
      for (const [k, v] of keep) this.commands.set(k, v)
    }
  }

  view(): ExecView {
    return {
      recent: this.recent.slice(-RECENT).reverse(),
      processes: [...this.processes.values()],
      commands: [...this.commands.values()].map((c) => ({...c})).sort((a, b) => b.execs - a.execs || (a.comm < b.comm ? -1 : 1)),
      rate: this.rate.series(this.now()),
      execs: this.execs,
      failed: this.failed,
    }
  }
}

const has = (text: string, filter: string) => text.toLowerCase().includes(filter)
const matches = (r: ExecRow, filter: string) => !filter || has(r.comm, filter) || has(r.args, filter)

/**
 * The processes as a forest, parent → child, as indented lines: a parent
 * that did not exec while traced heads its children as `[PPID]`. With a
 * filter, the matching processes and the ones above them.
 */
export function processTree(processes: readonly ExecRow[], filter: string, g: Glyphs): {text: string; match: boolean}[] {
  const byPid = new Map(processes.map((p) => [p.pid, p]))
  const children = new Map<number, ExecRow[]>()
  for (const p of processes) {
    const list = children.get(p.ppid) ?? []
    list.push(p)
    children.set(p.ppid, list)
  }
  // Which pids lead to a match (the match itself or a descendant).
  const leads = new Map<number, boolean>()
  const leadsToMatch = (pid: number, seen: Set<number>): boolean => {
    const known = leads.get(pid)
    if (known !== undefined) return known
    if (seen.has(pid)) return false
    seen.add(pid)
    const p = byPid.get(pid)
    const result = (p !== undefined && matches(p, filter)) || (children.get(pid) ?? []).some((c) => leadsToMatch(c.pid, seen))
    leads.set(pid, result)
    return result
  }
  const lines: {text: string; match: boolean}[] = []
  const walk = (p: ExecRow, depth: number, seen: Set<number>) => {
    // A reused pid can make a parent its own descendant.
    if (seen.has(p.pid)) return
    seen.add(p.pid)
    if (filter && !leadsToMatch(p.pid, new Set())) return
    const indent = depth === 0 ? '' : '   '.repeat(depth - 1) + g.branch + ' '
    lines.push({text: `${indent}${p.pid} ${p.args || p.comm}`, match: filter !== '' && matches(p, filter)})
    for (const c of children.get(p.pid) ?? []) walk(c, depth + 1, seen)
  }
  const seen = new Set<number>()
  // Parents first seen earliest first, so the tree grows at the bottom.
  const roots = [...new Set(processes.filter((p) => !byPid.has(p.ppid) || p.ppid === p.pid).map((p) => p.ppid))]
  for (const ppid of roots) {
    const kids = (children.get(ppid) ?? []).filter((c) => !byPid.has(ppid) || c.pid !== ppid)
    if (filter && !kids.some((k) => leadsToMatch(k.pid, new Set()))) continue
    lines.push({text: `[${ppid}]`, match: false})
    for (const k of kids) walk(k, 1, seen)
  }
  // Processes in a loop of reused pids have no root above them: shown from where the loop is entered.
  for (const p of processes) {
    if (seen.has(p.pid) || (filter && !leadsToMatch(p.pid, new Set()))) continue
    lines.push({text: `[${p.ppid}]`, match: false})
    walk(p, 1, seen)
  }
  return lines
}

const RECENT_COLUMNS: Column[] = [
  {title: 'TIME', width: 8},
  {title: 'PID', width: 7, align: 'right'},
  {title: 'PPID', width: 7, align: 'right'},
  {title: 'RET', width: 7},
  {title: 'COMM', width: 15},
  {title: 'ARGS', width: 20, flex: true},
]
const COMMAND_COLUMNS: Column[] = [
  {title: 'EXECS', width: 7, align: 'right'},
  {title: 'FAIL', width: 6, align: 'right'},
  {title: 'COMM', width: 15, flex: true},
]

export class ExecsnoopBoard implements Board {
  readonly help = '↑↓ scroll the process tree'
  private readonly stats: ExecStats
  private shown: ExecView
  private readonly treeSelection = new Selection()
  private treeLength = 0
  private readonly rate: Pane
  private readonly recent: Pane
  private readonly tree: Pane
  private readonly commands: Pane

  constructor(private readonly d: Dashboard, o: ExecsnoopOptions) {
    this.stats = new ExecStats(o)
    this.shown = this.stats.view()
    this.rate = d.pane('execs per second', {top: 0, left: 0, width: '100%', height: 3})
    this.recent = d.pane('latest execs', {top: 3, left: 0, width: '100%', height: '50%-3'})
    this.tree = d.pane('process tree', {top: '50%', left: 0, width: '70%', height: '50%'})
    this.commands = d.pane('busiest commands', {top: '50%', left: '70%', width: '30%', height: '50%'})
  }

  readonly sink: ExecsnoopSink = {
    events: (batch) => {
      if (batch.length === 0) return
      this.stats.add(batch)
      this.d.changed()
    },
  }

  move(key: MoveKey): boolean {
    return this.treeSelection.move(key, this.treeLength, this.tree.innerHeight)
  }

  draw(refresh: boolean): void {
    if (refresh) this.shown = this.stats.view()
    const v = this.shown
    const filter = this.d.filter
    const g = this.d.glyphs

    this.rate.setLabel(`execs per second: ${v.rate.at(-2) ?? 0} in the last second; ${v.execs} execs, ${v.failed} failed`)
    this.rate.setLines([sparkline(v.rate, this.rate.innerWidth, g)])

    const recent = v.recent.filter((r) => matches(r, filter))
    this.recent.setLabel(`latest execs, newest first${filter ? `: ${recent.length} of ${v.recent.length} match` : ''} (failed in red)`)
    const t = formatTable(
      RECENT_COLUMNS,
      recent.map((r) => [r.time.toTimeString().slice(0, 8), String(r.pid), r.ppid > 0 ? String(r.ppid) : '?', r.ret === 0 ? '0' : errnoName(-r.ret), r.comm, r.args]),
      this.recent.innerWidth,
      g,
    )
    this.recent.setLines([{text: t.header, style: 'header'}, ...t.lines.map((l, i): Line => (recent[i]!.ret !== 0 ? {text: l, style: 'failure'} : l))])

    const tree = processTree(v.processes, filter, g)
    this.treeLength = tree.length
    this.tree.setLabel(`process tree: parent → child, ${v.processes.length} processes`)
    const w = this.treeSelection.window(tree, this.tree.innerHeight)
    const width = this.tree.innerWidth
    this.tree.setLines(
      w.rows.length
        ? w.rows.map((l, i): Line => {
            const text = fit(l.text, width, g)
            if (i === w.selected) return {text, style: 'selected'}
            return l.match ? {text, style: 'match'} : text
          })
        : [{text: 'no execs yet', style: 'dim'}],
    )

    const commands = v.commands.filter((c) => !filter || has(c.comm, filter))
    this.commands.setLabel(`busiest commands: ${commands.length}`)
    const c = formatTable(COMMAND_COLUMNS, commands.map((r) => [String(r.execs), r.fails ? String(r.fails) : '', r.comm]), this.commands.innerWidth, g)
    this.commands.setLines([{text: c.header, style: 'header'}, ...c.lines])
  }
}

export type ExecsnoopDashboardOptions = {title: string; machine?: string; verbose?: boolean; durationSec?: number}

export async function execsnoopDashboard(client: Client, o: ExecsnoopOptions, run: ExecsnoopDashboardOptions): Promise<PumpResult> {
  const d = await Dashboard.open({title: run.title, verbose: run.verbose, filter: true})
  return d.run(async (signal) => {
    const board = new ExecsnoopBoard(d, o)
    d.show(board)
    const r = await traceExecs(client, o, {machine: run.machine, logger: d.logger, signal, durationSec: run.durationSec, onReady: () => d.ready()}, board.sink)
    if (r.lost > 0) d.logger.info(lostMessage(r.lost))
    return r
  })
}
