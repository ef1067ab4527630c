// Events per second over the last minutes, for rate sparklines.

export class RateMeter {
  private readonly counts: number[] = []
  /** The second (since the epoch) that counts' last slot is for. */
  private lastSecond: number | undefined

  constructor(private readonly keep = 600) {}

  add(n: number, nowMs: number): void {
    this.advance(nowMs)
    this.counts[this.counts.length - 1]! += n
  }

  /** Per-second counts, oldest first; the last is the second in progress. */
  series(nowMs: number): number[] {
    this.advance(nowMs)
    return [...this.counts]
  }

  /** Events in the last complete second. */
  lastRate(nowMs: number): number {
    this.advance(nowMs)
    return this.counts.length >= 2 ? this.counts[this.counts.length - 2]! : 0
  }

  private advance(nowMs: number): void {
    const second = Math.floor(nowMs / 1000)
    if (this.lastSecond === undefined) {
      this.lastSecond = second
      this.counts.push(0)
      return
    }
    // Seconds with no events are zeros; a clock stepping back adds nothing.
    const gap = Math.min(second - this.lastSecond, this.keep)
    for (let i = 0; i < gap; i++) this.counts.push(0)
    if (gap > 0) this.lastSecond = second
    if (this.counts.length > this.keep) this.counts.splice(0, this.counts.length - this.keep)
  }
}
