// The loop of bcc's aggregating tools: wait an interval (or until Ctrl-C),
// print what was gathered, repeat until Ctrl-C, the duration or the count
// of intervals ends it; the last print happens however it ends.

export type IntervalOptions = {
  /** Seconds between prints; without it, one print at the end. */
  intervalSec?: number
  /** Seconds to run in all. */
  durationSec?: number
  /** Prints to make before stopping. */
  count?: number
  /** Ends the loop after one last print (Ctrl-C). */
  signal?: AbortSignal
}

/** Resolves after `ms` or when `signal` aborts; Infinity waits for the signal alone. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    // setTimeout cannot wait longer than 2^31-1 ms; such waits end by the signal.
    const timer = Number.isFinite(ms) && ms < 2 ** 31 ? setTimeout(done, ms) : undefined
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, {once: true})
  })
}

/** Calls `tick` after each interval; `last` is true for the final one. Returns the number of ticks. */
export async function everyInterval(o: IntervalOptions, tick: (last: boolean, index: number) => Promise<void>): Promise<number> {
  const started = performance.now()
  const endAt = o.durationSec === undefined ? Infinity : started + o.durationSec * 1000
  let next = started
  for (let i = 0; ; i++) {
    // Intervals are measured from the start, so printing does not make them drift.
    next = o.intervalSec === undefined ? Infinity : next + o.intervalSec * 1000
    const until = Math.min(next, endAt)
    await sleep(Number.isFinite(until) ? Math.max(0, until - performance.now()) : Infinity, o.signal)
    // Timers run on libuv's coarse clock and may fire a few ms before
    // performance.now() says the time is up: an early wake would print an
    // extra interval (the whole run's counts twice, without -i).
    while (!o.signal?.aborted && performance.now() < until - 1) await sleep(until - performance.now(), o.signal)
    const last = o.signal?.aborted === true || performance.now() >= endAt - 1 || (o.count !== undefined && i + 1 >= o.count)
    await tick(last, i)
    if (last) return i + 1
  }
}
