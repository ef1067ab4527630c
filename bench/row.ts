/** Why a peer could not be measured: a few words for the table, and the whole story for the notes. */
export type NotRun = {name: string; notRun: string; detail?: string}

/** A peer tool's figure for the same metric, or why the peer could not be measured. */
export type PeerFigure = {name: string; value: number} | NotRun

/** One figure of a benchmark, beside the same figure of each peer tool that does the same job. */
export type Row = {
  bench: string
  metric: string
  ours: number
  unit: string
  /** Which way is better, so a ratio reads the right way round; absent for counts that should just match. */
  better?: 'lower' | 'higher'
  /** Empty when no tool does the same job to compare with. */
  peers: PeerFigure[]
  /** How the figure was measured, printed once under the results. */
  note?: string
}

/** What every bench is told by the runner. */
export type BenchContext = {
  /** Runs per figure; figures are medians of this many unless a row says otherwise. */
  runs: number
  /** Smaller storms, for trying a bench out; the figures are not comparable with full runs. */
  short: boolean
}

export type Bench = (ctx: BenchContext) => Promise<Row[]>
