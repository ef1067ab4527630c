/**
 * The benchmark's figures as a terminal table and as bench/RESULTS.md:
 * one line per peer figure, ours beside it and the ratio ours/peer.
 */
import {LOADED_SHARE, type Load, type Machine} from './machine.js'
import type {PeerFigure, Row} from './row.js'

/** Enough digits to read, without pretending to more precision than a timing has. */
export function num(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  if (Number.isInteger(n)) return n.toLocaleString('en-US')
  const abs = Math.abs(n)
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3
  return n.toLocaleString('en-US', {minimumFractionDigits: digits, maximumFractionDigits: digits})
}

/** ours/peer with two significant digits, so 1/40000 does not read as 0; none where a sign makes it meaningless. */
export function ratio(ours: number, peer: PeerFigure): string {
  if (!('value' in peer) || peer.value <= 0 || ours < 0 || !Number.isFinite(ours / peer.value)) return '—'
  const r = ours / peer.value
  if (r === 0) return '0x'
  return `${r >= 1 ? r.toFixed(2) : Number(r.toPrecision(2)).toString()}x`
}

function peerCell(p: PeerFigure, notes: Map<string, number>): string {
  if ('value' in p) return num(p.value)
  return `not run: ${p.notRun}${p.detail ? ` [${notes.get(p.detail)}]` : ''}`
}

const BETTER = {lower: 'lower', higher: 'higher'} as const

type Line = {bench: string; metric: string; ours: string; peer: string; value: string; ratio: string; unit: string}

/** One line per peer; the bench, metric and our figure only on a row's first line. */
function lines(rows: Row[], notes: Map<string, number>): Line[] {
  const out: Line[] = []
  for (const r of rows) {
    const ref = r.note ? ` [${notes.get(r.note)}]` : ''
    const unit = r.better ? `${r.unit}, ${BETTER[r.better]} is better` : r.unit
    const first = {bench: r.bench, metric: r.metric + ref, ours: num(r.ours), unit}
    if (r.peers.length === 0) out.push({...first, peer: '—', value: '', ratio: ''})
    r.peers.forEach((p, i) => {
      const head = i === 0 ? first : {bench: '', metric: '', ours: '', unit: ''}
      out.push({...head, peer: p.name, value: peerCell(p, notes), ratio: ratio(r.ours, p)})
    })
  }
  return out
}

/** Numbers each distinct note in order of first use. */
function numberNotes(rows: Row[]): Map<string, number> {
  const notes = new Map<string, number>()
  const add = (text: string | undefined) => text && !notes.has(text) && notes.set(text, notes.size + 1)
  for (const r of rows) {
    add(r.note)
    for (const p of r.peers) if ('notRun' in p) add(p.detail)
  }
  return notes
}

const COLUMNS: {key: keyof Line; title: string; right: boolean}[] = [
  {key: 'bench', title: 'bench', right: false},
  {key: 'metric', title: 'metric', right: false},
  {key: 'ours', title: 'ours', right: true},
  {key: 'peer', title: 'peer', right: false},
  {key: 'value', title: 'peer figure', right: true},
  {key: 'ratio', title: 'ours/peer', right: true},
  {key: 'unit', title: 'unit', right: false},
]

export function textTable(rows: Row[]): string {
  const notes = numberNotes(rows)
  const ls = lines(rows, notes)
  const widths = COLUMNS.map((c) => Math.max(c.title.length, ...ls.map((l) => l[c.key].length)))
  const fmt = (cells: string[]) =>
    cells
      .map((s, i) => (COLUMNS[i]!.right ? s.padStart(widths[i]!) : s.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  const table = [fmt(COLUMNS.map((c) => c.title)), fmt(widths.map((w) => '-'.repeat(w))), ...ls.map((l) => fmt(COLUMNS.map((c) => l[c.key])))]
  return [...table, '', ...[...notes].map(([text, n]) => `[${n}] ${text}`)].join('\n')
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|')
}

export type Report = {
  machine: Machine
  load: Load
  runs: number
  short: boolean
  command: string
  /** Benches that failed, with why: their rows are missing. */
  failures: {bench: string; error: string}[]
  /** Free text the person running the benchmark adds (`--note`). */
  note?: string
}

/** How "ready" is defined, the same for every tool; printed in RESULTS.md. */
export const READY_DEFINITION = [
  'Start-to-ready is the time from spawning a tool until the first line it prints once its probes are attached reaches',
  'its stdout pipe. For our tools, libbpf-tools and bcc\'s Python tools that line is bcc\'s header (`PID COMM FD ERR PATH`,',
  '`PCOMM PID PPID RET ARGS`, `Tracing block device I/O...`, `Tracing N functions for ...`): each prints it after its',
  'last attach. The bpftrace scripts print the same header from `BEGIN`, which bpftrace fires only after attaching every',
  'other probe (an open made right after the line is always traced); bpftrace\'s own `Attaching N probes...` line comes',
  'before it attaches, so it is not used. libbpf-tools run under `stdbuf -oL` for this, since their stdout is',
  'block-buffered into a pipe. Every start is cold for the process but warm for the disk cache, and ours has its compiled',
  'BPF object in its cache (as after the first run on a machine). The opensnoop and execsnoop benches also time "start to',
  'first traced event": from spawn until an event the storm program causes after the spawn shows in the output, polled',
  'every 5 ms, so it comes some ms after ready.',
].join('\n')

export function markdown(rows: Row[], r: Report): string {
  const notes = numberNotes(rows)
  const m = r.machine
  const loaded = r.load.othersShare >= LOADED_SHARE
  const out: string[] = []
  out.push('# Benchmark results', '')
  out.push(`Measured ${m.date} with \`${r.command}\`. Every figure is the median of ${r.runs} run${r.runs === 1 ? '' : 's'} unless its metric says otherwise; ratios are ours/peer.`, '')
  if (r.short) out.push('**Short run (`--short`): smaller storms; these figures are for trying the benchmark out, not for comparison.**', '')
  if (loaded) {
    out.push(
      `**Measured on a loaded machine:** other processes used ${(r.load.othersShare * 100).toFixed(0)}% of its CPU while the benchmark ran (load average ${r.load.loadBefore.toFixed(2)} at the start). Rates, CPU times and start-up times are noisier and slower than on a quiet machine; rerun there for figures to quote.`,
      '',
    )
  }
  if (r.note) out.push(`Note: ${r.note}`, '')
  out.push('| machine | |', '|---|---|')
  out.push(`| CPU | ${mdCell(m.cpu)}, ${m.cores} cores |`)
  out.push(`| memory | ${m.memGiB} GiB |`)
  out.push(`| kernel | ${m.kernel} |`)
  out.push(`| OS | ${mdCell(m.os)} |`)
  out.push(`| others' CPU during the run | ${(r.load.othersShare * 100).toFixed(0)}% (load average ${r.load.loadBefore.toFixed(2)} at the start) |`)
  for (const v of m.versions) out.push(`| ${v.name} | ${mdCell(v.version)} |`)
  out.push('')
  out.push('## Figures', '')
  const ls = lines(rows, notes)
  out.push(`| ${COLUMNS.map((c) => c.title).join(' | ')} |`)
  out.push(`|${COLUMNS.map((c) => (c.right ? '---:' : '---')).join('|')}|`)
  for (const l of ls) out.push(`| ${COLUMNS.map((c) => mdCell(l[c.key])).join(' | ')} |`)
  out.push('')
  if (r.failures.length) {
    out.push('## Benches that failed', '')
    for (const f of r.failures) out.push(`- ${f.bench}: ${mdCell(f.error.split('\n')[0]!)}`)
    out.push('')
  }
  out.push('## Start-to-ready', '', READY_DEFINITION, '')
  out.push('## How each figure is measured', '')
  for (const [text, n] of notes) out.push(`${n}. ${text}`)
  out.push('')
  return out.join('\n')
}
