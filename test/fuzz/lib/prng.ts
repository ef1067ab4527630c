// A small seeded PRNG (xoshiro128**, seeded through splitmix32). Every fuzz
// case is a pure function of (seed, index), so a case that hung or crashed a
// worker can be rebuilt from its index alone.

function splitmix32(state: {x: number}): number {
  state.x = (state.x + 0x9e3779b9) | 0
  let z = state.x
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: number, stream = 0) {
    const st = {x: (seed ^ Math.imul(stream, 0x632be5ab)) | 0}
    this.a = splitmix32(st)
    this.b = splitmix32(st)
    this.c = splitmix32(st)
    this.d = splitmix32(st)
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1
  }

  /** 32 random bits as an unsigned integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a
    this.d ^= this.b
    this.b ^= this.c
    this.a ^= this.d
    this.c ^= t
    this.d = rotl(this.d, 11)
    return result
  }

  /** An integer in [0, n) for n up to 2^32. */
  below(n: number): number {
    if (n <= 1) return 0
    return Math.floor((this.u32() / 0x1_0000_0000) * n)
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1)
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list')
    return items[this.below(items.length)]!
  }

  /** A length that is usually small and now and then large. */
  size(max: number): number {
    const r = this.below(10)
    if (r < 6) return this.below(Math.min(max, 16) + 1)
    if (r < 9) return this.below(Math.min(max, 256) + 1)
    return this.below(max + 1)
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff
    return out
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}

/** The generator for case `index` of a run seeded with `seed`. */
export function caseRng(seed: number, index: number): Prng {
  return new Prng(seed, index + 1)
}
