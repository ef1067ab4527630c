// biolatency's dashboard: the log2 latency histogram of every disk (-D) or
// set of flags (-F) since the start, growing each interval, with what the
// latest interval added; and a heatmap of latency over time for the one
// selected. A view on the same intervals the text output prints.
import type {Client} from '../remote/client.js'
import type {Histogram} from '../tools/biolatency/hist.js'
import type {BiolatencyOptions} from '../tools/biolatency/options.js'
import {timeRequests, type BiolatencyResult} from '../tools/biolatency/run.js'
import {biolatencyUnit, type BiolatencyInterval, type BiolatencySink} from '../tools/biolatency/sink.js'
import {Dashboard, type Board} from './dashboard.js'
import {HeatmapHistory, heatmapLines} from './heatmap.js'
import type {MoveKey} from './keys.js'
import type {Line, Pane} from './pane.js'
import {sparkline} from './sparkline.js'
import {histogramLines} from './text-histogram.js'

export type SectionView = {
  /** `disk = vda`, `flags = Sync-Write`, `all disks`, or '' for the one histogram. */
  label: string
  total: bigint[]
  last: bigint[]
  requests: bigint
  heat: HeatmapHistory
}

export type LatencyView = {sections: SectionView[]; intervals: number; requests: bigint; perInterval: number[]}

const MAX_HISTORY = 1000

type Section = {label: string; total: bigint[]; last: bigint[]; heat: HeatmapHistory}

function sectionLabel(h: Histogram): string {
  return h.section ? `${h.section.name} = ${h.section.value}` : ''
}

function sum(h: readonly bigint[]): bigint {
  return h.reduce((a, b) => a + b, 0n)
}

/** Totals and history over the intervals the model delivers (each holds that interval's requests). */
export class LatencyTotals {
  private readonly sections = new Map<string, Section>()
  /** Every section together, when there are several. */
  private readonly all: Section
  private intervals = 0
  private readonly perInterval: number[] = []

  constructor(private readonly buckets: number, allLabel: string) {
    this.all = this.section(allLabel)
  }

  add(i: BiolatencyInterval): void {
    for (const s of this.sections.values()) s.last = new Array<bigint>(this.buckets).fill(0n)
    const combined = new Array<bigint>(this.buckets).fill(0n)
    for (const h of i.histograms) {
      const label = sectionLabel(h)
      let s = this.sections.get(label)
      if (!s) {
        s = this.section(label)
        // A disk first seen now was idle before.
        for (let k = 0; k < this.all.heat.length; k++) s.heat.push([])
        this.sections.set(label, s)
      }
      h.buckets.forEach((v, k) => {
        s.total[k] = s.total[k]! + v
        combined[k] = combined[k]! + v
      })
      s.last = [...h.buckets]
    }
    for (const s of this.sections.values()) s.heat.push(s.last)
    this.all.last = combined
    combined.forEach((v, k) => (this.all.total[k] = this.all.total[k]! + v))
    this.all.heat.push(combined)
    this.intervals++
    this.perInterval.push(Number(sum(combined)))
    if (this.perInterval.length > MAX_HISTORY) this.perInterval.shift()
  }

  /** A copy to draw from, unchanged by later intervals; the combined section first when there are several. */
  view(): LatencyView {
    const own = [...this.sections.values()].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0))
    const shown = own.length <= 1 ? own : [this.all, ...own]
    return {
      sections: shown.map((s) => ({label: s.label, total: [...s.total], last: [...s.last], requests: sum(s.total), heat: s.heat.copy()})),
      intervals: this.intervals,
      requests: sum(this.all.total),
      perInterval: [...this.perInterval],
    }
  }

  private section(label: string): Section {
    return {label, total: new Array<bigint>(this.buckets).fill(0n), last: new Array<bigint>(this.buckets).fill(0n), heat: new HeatmapHistory(MAX_HISTORY)}
  }
}

export class BiolatencyBoard implements Board {
  readonly help = '↑↓ choose the heatmap\'s histogram'
  private readonly totals: LatencyTotals
  private shown: LatencyView
  private selected = 0
  private readonly rate: Pane
  private readonly hists: Pane
  private readonly heat: Pane
  private readonly unit: string

  constructor(private readonly d: Dashboard, private readonly o: BiolatencyOptions & {intervalSec: number}, buckets: number) {
    this.unit = biolatencyUnit(o)
    this.totals = new LatencyTotals(buckets, o.perFlag ? 'all flags' : 'all disks')
    this.shown = this.totals.view()
    this.rate = d.pane('requests per interval', {top: 0, left: 0, width: '100%', height: 3})
    this.hists = d.pane('latency', {top: 3, left: 0, width: '100%', height: '60%-3'})
    this.heat = d.pane('heatmap', {top: '60%', left: 0, width: '100%', height: '40%'})
  }

  readonly sink: BiolatencySink = {
    interval: (i) => {
      this.totals.add(i)
      this.d.changed()
    },
  }

  move(key: MoveKey): boolean {
    const n = this.shown.sections.length
    if (n <= 1) return false
    if (key === 'up' || key === 'left') this.selected = Math.max(0, this.selected - 1)
    else if (key === 'down' || key === 'right') this.selected = Math.min(n - 1, this.selected + 1)
    else if (key === 'home') this.selected = 0
    else if (key === 'end') this.selected = n - 1
    else return false
    return true
  }

  draw(refresh: boolean): void {
    if (refresh) this.shown = this.totals.view()
    const v = this.shown
    const g = this.d.glyphs
    this.rate.setLabel(`requests per ${this.o.intervalSec}s interval: ${v.perInterval.at(-1) ?? 0} last, ${v.requests} in ${v.intervals} intervals`)
    this.rate.setLines([sparkline(v.perInterval, this.rate.innerWidth, g)])

    this.selected = Math.min(this.selected, Math.max(0, v.sections.length - 1))
    const by = this.o.perDisk ? ', per disk' : this.o.perFlag ? ', per I/O flags' : ''
    this.hists.setLabel(`${this.o.queued ? 'queue + device' : 'device'} latency since start${by} (new: the latest interval)`)
    const lines: Line[] = []
    let selectedAt = 0
    v.sections.forEach((s, i) => {
      if (s.label) {
        if (lines.length) lines.push('')
        if (i === this.selected) selectedAt = lines.length
        const marker = v.sections.length > 1 && i === this.selected ? `${g.pointer} ` : '  '
        lines.push({text: `${marker}${s.label}: ${s.requests} requests`, style: i === this.selected ? 'selected' : 'header'})
      }
      const h = histogramLines(s.total, {unit: this.unit, width: this.hists.innerWidth, glyphs: g, recent: s.last})
      lines.push(...(h.length ? h : [{text: '  no requests yet', style: 'dim' as const}]))
    })
    if (v.sections.length === 0) lines.push({text: v.intervals === 0 ? 'waiting for the first interval...' : 'no requests yet', style: 'dim'})
    // The selected histogram's heading stays in view.
    const height = this.hists.innerHeight
    const first = selectedAt + height > lines.length ? Math.max(0, lines.length - height) : selectedAt
    this.hists.setLines(lines.slice(first))

    const s = v.sections[this.selected]
    this.heat.setLabel(`latency over time${s?.label ? `, ${s.label}` : ''}: one column per ${this.o.intervalSec}s interval, newest right, darker = more requests`)
    this.heat.setLines(s ? heatmapLines(s.heat, {width: this.heat.innerWidth, height: this.heat.innerHeight, glyphs: g, unit: this.unit}) : [])
  }
}

export type BiolatencyDashboardOptions = {title: string; machine?: string; verbose?: boolean}

/** Runs biolatency with the dashboard; histograms are read every interval (the INTERVAL argument, else every second). */
export async function biolatencyDashboard(client: Client, o: BiolatencyOptions, run: BiolatencyDashboardOptions): Promise<BiolatencyResult> {
  const options = {...o, intervalSec: o.intervalSec ?? 1}
  const {BUCKETS} = await import('../tools/biolatency/hist.js')
  const d = await Dashboard.open({title: run.title, verbose: run.verbose})
  return d.run(async (signal) => {
    const board = new BiolatencyBoard(d, options, BUCKETS)
    d.show(board)
    return timeRequests(client, options, {machine: run.machine, logger: d.logger, signal, onReady: () => d.ready()}, board.sink)
  })
}
