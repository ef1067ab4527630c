// Histograms drawn exactly as bcc's Python tools draw them (table.py's
// print_log2_hist and print_linear_hist), since people's eyes and scripts
// expect that text.

/** Bucket counts as read from a histogram map; u64 counters may arrive as bigint. */
export type Counts = readonly number[] | readonly bigint[]

export type Log2HistOptions = {
  /**
   * The index of the `0 -> 1` bucket. bcc's `bpf_log2l()` puts 0 and 1 in
   * bucket 1 (bucket 0 stays empty); libbpf-tools' `log2l()` puts them in
   * bucket 0. Default 1.
   */
  firstBucket?: 0 | 1
  /** Omit the empty buckets below the first non-empty one (bcc's strip_leading_zero). */
  stripLeadingZero?: boolean
}

export type LinearHistOptions = {
  /** Omit the empty buckets below the first non-empty one (bcc's strip_leading_zero). */
  stripLeadingZero?: boolean
}

const STARS_MAX = 40
const U64_MASK = (1n << 64n) - 1n

/**
 * The bucket a BPF program files `value` under, as bcc's `bpf_log2l()`
 * computes it on the u64 value: 0 and 1 → 1, 2..3 → 2, 4..7 → 3, ...,
 * 2^63.. → 64. With `firstBucket` 0, libbpf-tools' `log2l()`: one less, with
 * 0 and 1 → 0.
 */
export function log2Bucket(value: number | bigint, firstBucket: 0 | 1 = 1): number {
  let bits: number
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff) {
    bits = 32 - Math.clz32(value)
  } else {
    // Negative values wrap to u64 the way the C side would see them.
    let v = BigInt.asUintN(64, typeof value === 'bigint' ? value : BigInt(Math.trunc(value)))
    bits = 0
    while (v > 0n) {
      v >>= 1n
      bits++
    }
  }
  return Math.max(bits, 1) - 1 + firstBucket
}

/**
 * The text bcc prints for a log2 histogram whose bucket i counts values in
 * [2^(i-1), 2^i - 1] (bucket 1 also counts 0). Every line ends in a newline;
 * a histogram with nothing in it is the empty string, as bcc prints nothing.
 */
export function formatLog2Hist(buckets: Counts, valType: string, opts: Log2HistOptions = {}): string {
  const vals = toBigints(buckets)
  // Re-index libbpf-tools style buckets to bcc's so one drawing serves both.
  if (opts.firstBucket === 0) vals.unshift(0n)

  let idxMax = -1
  let valMax = 0n
  vals.forEach((v, i) => {
    if (v > 0n) idxMax = i
    if (v > valMax) valMax = v
  })
  if (idxMax <= 0) return ''

  // Past bucket 32 the bounds no longer fit 10 digits; bcc widens the columns and halves the bar.
  const wide = idxMax > 32
  const width = wide ? 20 : 10
  const stars = wide ? STARS_MAX / 2 : STARS_MAX
  let out = wide ? `${' '.repeat(15)}${valType.padEnd(29)} : count     distribution\n` : `${' '.repeat(5)}${valType.padEnd(19)} : count     distribution\n`

  let skipping = opts.stripLeadingZero === true
  for (let i = 1; i <= idxMax; i++) {
    const val = vals[i] ?? 0n
    if (skipping && val === 0n) continue
    skipping = false
    let low = (1n << BigInt(i)) >> 1n
    const high = (1n << BigInt(i)) - 1n
    if (low === high) low -= 1n
    out += `${String(low).padStart(width)} -> ${String(high).padEnd(width)} : ${String(val).padEnd(8)} |${bar(val, valMax, stars)}|\n`
  }
  return out
}

/**
 * The text bcc prints for a linear histogram whose bucket i counts the value
 * i. Every line ends in a newline; nothing in it gives the empty string.
 */
export function formatLinearHist(buckets: Counts, valType: string, opts: LinearHistOptions = {}): string {
  const vals = toBigints(buckets)
  let idxMax = -1
  let valMax = 0n
  vals.forEach((v, i) => {
    if (v > 0n) idxMax = i
    if (v > valMax) valMax = v
  })
  if (idxMax < 0) return ''

  let out = `${' '.repeat(5)}${valType.padEnd(13)} : count     distribution\n`
  let skipping = opts.stripLeadingZero === true
  for (let i = 0; i <= idxMax; i++) {
    const val = vals[i] ?? 0n
    if (skipping && val === 0n) continue
    skipping = false
    out += `${' '.repeat(8)}${String(i).padEnd(10)} : ${String(val).padEnd(8)} |${bar(val, valMax, STARS_MAX)}|\n`
  }
  return out
}

/** floor(width * val / max) stars padded to `width`, `+` marking a value over the max. */
function bar(val: bigint, max: bigint, width: number): string {
  if (max <= 0n) return ' '.repeat(width)
  let n = Number((BigInt(width) * val) / max)
  if (n > width) n = width
  let s = '*'.repeat(n)
  if (val > max) s = s.slice(0, -1) + '+'
  return s.padEnd(width)
}

function toBigints(buckets: Counts): bigint[] {
  const out: bigint[] = []
  for (const b of buckets) {
    if (typeof b === 'bigint') out.push(b & U64_MASK)
    else out.push(BigInt(Number.isFinite(b) ? Math.trunc(b) : 0))
  }
  return out
}
