// The intervals of an aggregating tool (stackcount, biolatency) run on
// several targets, put together: interval N is handed on once every target
// has delivered its interval N, or has finished before it, or has failed,
// so each interval prints as one block, per target in order or merged.

export type Interval = {index: number; last: boolean}

export type IntervalCollator<I extends Interval> = {
  /** Target `target`'s interval; resolves once every interval complete so far is handed on. */
  add(target: number, interval: I): Promise<void>
  /** Target `target` is done (finished or failed): no interval waits for it any longer. */
  end(target: number): Promise<void>
}

/** `emit` gets each complete interval's parts in target order (undefined for a target that has none). */
export function collateIntervals<I extends Interval>(
  targets: number,
  emit: (parts: readonly (I | undefined)[], index: number) => void | Promise<void>,
): IntervalCollator<I> {
  const pending = new Map<number, (I | undefined)[]>()
  const ended = new Array<boolean>(targets).fill(false)
  /** The index of a target's last interval, once it was delivered. */
  const lastIndex = new Array<number | undefined>(targets).fill(undefined)
  let next = 0
  let chain: Promise<void> = Promise.resolve()

  const complete = (index: number): boolean => {
    const parts = pending.get(index)
    if (!parts) return false
    for (let t = 0; t < targets; t++) {
      const last = lastIndex[t]
      if (parts[t] === undefined && !ended[t] && !(last !== undefined && last < index)) return false
    }
    return true
  }

  const flush = (): Promise<void> => {
    while (complete(next)) {
      const parts = pending.get(next)!
      const index = next
      pending.delete(next)
      next++
      chain = chain.then(() => emit(parts, index))
    }
    // Once every target is done, whatever is still held is handed on, in order.
    if (ended.every(Boolean)) {
      for (const index of [...pending.keys()].sort((a, b) => a - b)) {
        const parts = pending.get(index)!
        pending.delete(index)
        chain = chain.then(() => emit(parts, index))
      }
    }
    return chain
  }

  return {
    add(target, interval) {
      let parts = pending.get(interval.index)
      if (!parts) pending.set(interval.index, (parts = new Array<I | undefined>(targets).fill(undefined)))
      parts[target] = interval
      if (interval.last) lastIndex[target] = interval.index
      return flush()
    },
    end(target) {
      ended[target] = true
      return flush()
    },
  }
}
