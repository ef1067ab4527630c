/** One figure of a benchmark, beside the same figure of a peer tool when there is one. */
export type Row = {
  bench: string
  metric: string
  ours: number
  /** null when no tool does the same job to compare with. */
  peer: number | null
  peerName: string
  unit: string
}
