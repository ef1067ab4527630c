/**
 * The figures of a soak run and how they are judged and written: pure
 * functions over what bench/soak.ts measured.
 */

/** One sample, taken every 10 s while the load runs. */
export type Sample = {
  /** Seconds since the load started. */
  atSec: number
  /** Opens the workload has done so far. */
  opens: number
  /** Output lines of the workload's paths so far. */
  lines: number
  hostRssKiB: number
  bpfdRssKiB: number
}

export type SoakRun = {
  transport: string
  seconds: number
  targetRate: number
  opens: number
  failedOpens: number
  loadNs: number
  lines: number
  /** Events opensnoop reported lost (its "N events lost" line), 0 when it printed none. */
  lost: number
  exitCode: number | null
  hostCpuSec: number
  bpfdCpuSec: number
  samples: Sample[]
}

/** Memory may grow this much past its level after warm-up and still count as flat. */
export const FLAT_LIMIT = 0.1

/** When the warm-up is over: the first sample at or after a sixth of the run (at least 30 s in). */
export function baselineIndex(samples: readonly Sample[], seconds: number): number {
  const after = Math.max(30, seconds / 6)
  const i = samples.findIndex((s) => s.atSec >= after)
  return i < 0 ? Math.max(0, samples.length - 1) : i
}

/** Largest growth of a memory figure after warm-up, as a fraction of its level then. */
export function growth(samples: readonly Sample[], seconds: number, pick: (s: Sample) => number): number {
  if (samples.length === 0) return NaN
  const b = baselineIndex(samples, seconds)
  const base = pick(samples[b]!)
  let max = base
  for (const s of samples.slice(b)) max = Math.max(max, pick(s))
  return base > 0 ? (max - base) / base : NaN
}

/** Every open is either printed or counted as lost, and nothing else is printed. */
export function complete(r: SoakRun): boolean {
  return r.lines + r.lost === r.opens
}

export type Verdict = {flatHost: boolean; flatBpfd: boolean; complete: boolean; cleanExit: boolean; ok: boolean}

export function verdict(r: SoakRun): Verdict {
  const flatHost = growth(r.samples, r.seconds, (s) => s.hostRssKiB) <= FLAT_LIMIT
  const flatBpfd = growth(r.samples, r.seconds, (s) => s.bpfdRssKiB) <= FLAT_LIMIT
  const v = {flatHost, flatBpfd, complete: complete(r), cleanExit: r.exitCode === 0}
  return {...v, ok: v.flatHost && v.flatBpfd && v.complete && v.cleanExit}
}

const int = (n: number) => Math.round(n).toLocaleString('en-US')
const mib = (kib: number) => (kib / 1024).toFixed(1)
const pct = (f: number) => (Number.isFinite(f) ? `${(f * 100).toFixed(1)}%` : 'n/a')

/** The summary table, one row per transport (markdown, also readable as text). */
export function summaryTable(runs: readonly SoakRun[]): string {
  const head = [
    '| transport | minutes | target rate | achieved rate | opens | lines printed | lost (reported) | printed + lost = opens | host RSS growth | bpfd RSS growth | host CPU | bpfd CPU | exit |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  const rows = runs.map((r) => {
    const rate = r.loadNs > 0 ? (r.opens / r.loadNs) * 1e9 : 0
    const v = verdict(r)
    return `| ${r.transport} | ${(r.seconds / 60).toFixed(1)} | ${int(r.targetRate)}/s | ${int(rate)}/s | ${int(r.opens)} | ${int(r.lines)} | ${int(r.lost)} | ${v.complete ? 'yes' : `no (${int(r.opens - r.lines - r.lost)} missing)`} | ${pct(growth(r.samples, r.seconds, (s) => s.hostRssKiB))} | ${pct(growth(r.samples, r.seconds, (s) => s.bpfdRssKiB))} | ${r.hostCpuSec.toFixed(0)} s | ${r.bpfdCpuSec.toFixed(0)} s | ${r.exitCode} |`
  })
  return [...head, ...rows].join('\n')
}

/** The RSS samples of one run. */
export function samplesTable(r: SoakRun): string {
  const lines = ['| s | opens | lines | host RSS MiB | bpfd RSS MiB |', '|---|---|---|---|---|']
  for (const s of r.samples) lines.push(`| ${s.atSec} | ${int(s.opens)} | ${int(s.lines)} | ${mib(s.hostRssKiB)} | ${mib(s.bpfdRssKiB)} |`)
  return lines.join('\n')
}

export type Machine = {date: string; host: string; kernel: string; cpu: string; cpus: number; memGiB: number; loadAtStart: string; note: string}

/** bench/SOAK.md. */
export function soakMarkdown(m: Machine, runs: readonly SoakRun[], command: string): string {
  const verdicts = runs.map((r) => `- ${r.transport}: ${describeVerdict(verdict(r))}`)
  return [
    '# Soak: opensnoop under a steady open() load',
    '',
    `\`${command}\`: a workload opens 64 files in turn at a steady rate, traced by`,
    '`bpftools opensnoop -p PID` with its output read as fast as it comes;',
    'the RSS of the host process and of bpfd is sampled every 10 s. Memory',
    `counts as flat when it never grows more than ${FLAT_LIMIT * 100}% past its level after`,
    'warm-up (the first sample after a sixth of the run, 30 s at least); output is complete',
    'when the lines printed for the workload plus the events reported lost equal',
    'the opens it made.',
    '',
    `- date: ${m.date}`,
    `- machine: ${m.host}, ${m.cpu}, ${m.cpus} CPUs, ${m.memGiB} GiB, kernel ${m.kernel}`,
    `- load average at start: ${m.loadAtStart}`,
    ...(m.note ? [`- note: ${m.note}`] : []),
    '',
    summaryTable(runs),
    '',
    ...verdicts,
    '',
    ...runs.flatMap((r) => [`## ${r.transport}: samples`, '', samplesTable(r), '']),
  ].join('\n')
}

export function describeVerdict(v: Verdict): string {
  const parts = [
    v.flatHost ? 'host memory flat' : 'host memory GREW',
    v.flatBpfd ? 'bpfd memory flat' : 'bpfd memory GREW',
    v.complete ? 'output complete' : 'output INCOMPLETE',
    v.cleanExit ? 'clean exit' : 'BAD EXIT',
  ]
  return `${v.ok ? 'pass' : 'FAIL'}: ${parts.join(', ')}`
}
