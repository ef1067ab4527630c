import {test} from 'node:test'
import assert from 'node:assert/strict'
import {formatLinearHist, formatLog2Hist, log2Bucket} from '../../src/output/histogram.js'

const lines = (...l: string[]): string => l.map((s) => s + '\n').join('')

test('log2 histogram: bcc layout, bucket i holds [2^(i-1), 2^i-1], bucket 1 also 0', () => {
  assert.equal(
    formatLog2Hist([0, 3, 0, 12, 6], 'usecs'),
    lines(
      '     usecs               : count     distribution',
      '         0 -> 1          : 3        |**********                              |',
      '         2 -> 3          : 0        |                                        |',
      '         4 -> 7          : 12       |****************************************|',
      '         8 -> 15         : 6        |********************                    |',
    ),
  )
})

test('log2 histogram: leading empty buckets are printed unless stripped, trailing ones never', () => {
  const vals = [0, 0, 0, 0, 0, 1, 2, 0, 0, 0]
  assert.equal(
    formatLog2Hist(vals, 'msecs', {stripLeadingZero: true}),
    lines(
      '     msecs               : count     distribution',
      '        16 -> 31         : 1        |********************                    |',
      '        32 -> 63         : 2        |****************************************|',
    ),
  )
  assert.equal(
    formatLog2Hist(vals, 'msecs'),
    lines(
      '     msecs               : count     distribution',
      '         0 -> 1          : 0        |                                        |',
      '         2 -> 3          : 0        |                                        |',
      '         4 -> 7          : 0        |                                        |',
      '         8 -> 15         : 0        |                                        |',
      '        16 -> 31         : 1        |********************                    |',
      '        32 -> 63         : 2        |****************************************|',
    ),
  )
})

test('log2 histogram: stars are floor(40 * count / max)', () => {
  assert.equal(
    formatLog2Hist([0, 1, 3, 2, 57, 58], 'nsecs'),
    lines(
      '     nsecs               : count     distribution',
      '         0 -> 1          : 1        |                                        |',
      '         2 -> 3          : 3        |**                                      |',
      '         4 -> 7          : 2        |*                                       |',
      '         8 -> 15         : 57       |*************************************** |',
      '        16 -> 31         : 58       |****************************************|',
    ),
  )
})

test('log2 histogram: libbpf-tools buckets (0 and 1 in bucket 0) print the same text', () => {
  assert.equal(formatLog2Hist([3, 0, 12, 6], 'usecs', {firstBucket: 0}), formatLog2Hist([0, 3, 0, 12, 6], 'usecs'))
  assert.equal(formatLog2Hist([3n, 0n, 12n, 6n], 'usecs', {firstBucket: 0}), formatLog2Hist([0, 3, 0, 12, 6], 'usecs'))
})

test('log2 histogram: nothing to print gives the empty string', () => {
  assert.equal(formatLog2Hist([], 'usecs'), '')
  assert.equal(formatLog2Hist(new Array(65).fill(0), 'usecs'), '')
  // bcc never prints bucket 0, so a count only there prints nothing either.
  assert.equal(formatLog2Hist([4], 'usecs'), '')
})

test('log2 histogram: past bucket 32 the columns widen and the bar halves', () => {
  const narrow = new Array(33).fill(0)
  narrow[32] = 1
  const n = formatLog2Hist(narrow, 'bytes').split('\n')
  assert.equal(n[0], '     bytes               : count     distribution')
  assert.equal(n[32], '2147483648 -> 4294967295 : 1        |****************************************|')

  const vals: bigint[] = new Array(35).fill(0n)
  vals[1] = 5n
  vals[34] = 10n
  const out = formatLog2Hist(vals, 'nsecs').split('\n')
  assert.equal(out.length, 1 + 34 + 1)
  assert.equal(out[0], '               nsecs                         : count     distribution')
  assert.equal(out[1], '                   0 -> 1                    : 5        |**********          |')
  assert.equal(out[2], '                   2 -> 3                    : 0        |                    |')
  assert.equal(out[33], '          4294967296 -> 8589934591           : 0        |                    |')
  assert.equal(out[34], '          8589934592 -> 17179869183          : 10       |********************|')
  assert.equal(out[35], '')
})

test('log2 histogram: the top bucket of a u64 and counts beyond 2^53', () => {
  const vals: bigint[] = new Array(65).fill(0n)
  vals[64] = 1n << 60n
  vals[63] = 1n << 59n
  const out = formatLog2Hist(vals, 'ns', {stripLeadingZero: true}).split('\n')
  assert.deepEqual(out, [
    '               ns                            : count     distribution',
    ' 4611686018427387904 -> 9223372036854775807  : 576460752303423488 |**********          |',
    ' 9223372036854775808 -> 18446744073709551615 : 1152921504606846976 |********************|',
    '',
  ])
})

test('log2Bucket follows bcc bpf_log2l, or libbpf-tools log2l with firstBucket 0', () => {
  const cases: [number | bigint, number][] = [
    [0, 1], [1, 1], [2, 2], [3, 2], [4, 3], [7, 3], [8, 4], [1023, 10], [1024, 11],
    [0xffffffff, 32], [0x100000000, 33], [2 ** 40 + 5, 41], [(1n << 63n) - 1n, 63], [1n << 63n, 64], [(1n << 64n) - 1n, 64],
  ]
  for (const [v, b] of cases) {
    assert.equal(log2Bucket(v), b, `bucket of ${v}`)
    assert.equal(log2Bucket(v, 0), b - 1, `libbpf bucket of ${v}`)
  }
  // A negative number is the u64 the C side would see.
  assert.equal(log2Bucket(-1), 64)
})

test('log2Bucket and formatLog2Hist agree: a value lands in the row whose range holds it', () => {
  for (const v of [0, 1, 2, 5, 100, 4095, 4096, 123456789]) {
    const vals = new Array(65).fill(0)
    vals[log2Bucket(v)] = 1
    const row = formatLog2Hist(vals, 'x').trimEnd().split('\n').at(-1)!
    const m = /^\s*(\d+) -> (\d+)/.exec(row)!
    assert.ok(Number(m[1]) <= v && v <= Number(m[2]), `${v} in ${row}`)
  }
})

test('linear histogram: bcc layout, one row per value from 0', () => {
  assert.equal(
    formatLinearHist([0, 2, 0, 4, 0], 'slot'),
    lines(
      '     slot          : count     distribution',
      '        0          : 0        |                                        |',
      '        1          : 2        |********************                    |',
      '        2          : 0        |                                        |',
      '        3          : 4        |****************************************|',
    ),
  )
  assert.equal(
    formatLinearHist([0, 0, 1], 'queue length', {stripLeadingZero: true}),
    lines('     queue length  : count     distribution', '        2          : 1        |****************************************|'),
  )
  assert.equal(formatLinearHist([0, 0], 'slot'), '')
})
