// Kernel symbols from the text of a target's /proc/kallsyms: code addresses
// resolved to `name+0xoff` by binary search over the text symbols.

export type KernelSymbol = {
  name: string
  address: bigint
  /** The kallsyms type letter (`T`, `t`, `W`, `D`, ...). */
  type: string
  /** The module for `[mod]` symbols (`bpf` for BPF programs); absent for the core kernel. */
  module?: string
}

export type ResolvedAddress = KernelSymbol & {
  /** Bytes past the symbol's start. */
  offset: bigint
}

export type SymbolizeOptions = {
  /** Append `+0x<offset>`: `true` always (bcc's -a style), `'nonzero'` only when the offset is not 0. Default false. */
  offset?: boolean | 'nonzero'
  /** Append ` [module]` for module symbols. */
  module?: boolean
}

/** What bcc prints for an address no symbol covers. */
export const UNKNOWN_SYMBOL = '[unknown]'

/**
 * The kernel's symbol table. Only text symbols (t, T, w, W) take part in
 * resolving code addresses; every symbol can be looked up by name.
 */
export class KernelSymbols {
  /**
   * True when the table has symbols but every address reads as zero: the
   * target hides them (kptr_restrict, or kallsyms read without privilege), so
   * nothing can be resolved and the caller should say so.
   */
  readonly restricted: boolean
  /** How many symbols were parsed (of every type). */
  readonly size: number

  // Every parsed symbol, in file order, as parallel arrays to keep 200k entries cheap.
  private readonly names: string[]
  private readonly types: string
  private readonly hi: Uint32Array
  private readonly lo: Uint32Array
  private readonly moduleIndex: Int32Array
  private readonly modules: string[]
  // Text symbols sorted by address, one per distinct address (the best name for it).
  private readonly textIdx: Int32Array
  private readonly textHi: Uint32Array
  private readonly textLo: Uint32Array
  private byName?: Map<string, number>

  private constructor(
    names: string[],
    types: string,
    hi: Uint32Array,
    lo: Uint32Array,
    moduleIndex: Int32Array,
    modules: string[],
  ) {
    this.names = names
    this.types = types
    this.hi = hi
    this.lo = lo
    this.moduleIndex = moduleIndex
    this.modules = modules
    this.size = names.length

    let anyNonZero = false
    const text: number[] = []
    for (let i = 0; i < names.length; i++) {
      if (hi[i] !== 0 || lo[i] !== 0) anyNonZero = true
      if (isText(types.charCodeAt(i))) text.push(i)
    }
    this.restricted = names.length > 0 && !anyNonZero

    // File order is nearly sorted already (core kernel, then modules), which the sort handles quickly.
    text.sort((a, b) => hi[a]! - hi[b]! || lo[a]! - lo[b]! || this.preference(a, b))
    const keep: number[] = []
    for (const i of text) {
      const last = keep.length > 0 ? keep[keep.length - 1]! : -1
      if (last >= 0 && hi[last] === hi[i] && lo[last] === lo[i]) continue
      keep.push(i)
    }
    this.textIdx = Int32Array.from(keep)
    this.textHi = Uint32Array.from(keep, (i) => hi[i]!)
    this.textLo = Uint32Array.from(keep, (i) => lo[i]!)
  }

  /** Parse the text of /proc/kallsyms (`address type name [module]` lines). Malformed lines are skipped. */
  static parse(text: string): KernelSymbols {
    const names: string[] = []
    let types = ''
    const his: number[] = []
    const los: number[] = []
    const modIdx: number[] = []
    const modules: string[] = []
    const moduleIds = new Map<string, number>()

    let pos = 0
    const len = text.length
    while (pos < len) {
      let eol = text.indexOf('\n', pos)
      if (eol < 0) eol = len
      const sp1 = text.indexOf(' ', pos)
      if (sp1 > pos && sp1 + 3 < eol && text.charCodeAt(sp1 + 2) === 32) {
        const addrLen = sp1 - pos
        const hiPart = addrLen > 8 ? parseInt(text.slice(pos, sp1 - 8), 16) : 0
        const loPart = parseInt(text.slice(Math.max(pos, sp1 - 8), sp1), 16)
        const nameStart = sp1 + 3
        let nameEnd = nameStart
        while (nameEnd < eol) {
          const c = text.charCodeAt(nameEnd)
          if (c === 9 || c === 32 || c === 13) break
          nameEnd++
        }
        if (addrLen <= 16 && !Number.isNaN(loPart) && !Number.isNaN(hiPart) && nameEnd > nameStart) {
          names.push(text.slice(nameStart, nameEnd))
          types += text[sp1 + 1]
          his.push(hiPart)
          los.push(loPart)
          let mod = -1
          let open = nameEnd
          while (open < eol && text.charCodeAt(open) !== 91) open++
          if (open < eol) {
            let close = open + 1
            while (close < eol && text.charCodeAt(close) !== 93) close++
            if (close < eol) {
              const m = text.slice(open + 1, close)
              let id = moduleIds.get(m)
              if (id === undefined) {
                id = modules.length
                modules.push(m)
                moduleIds.set(m, id)
              }
              mod = id
            }
          }
          modIdx.push(mod)
        }
      }
      pos = eol + 1
    }
    return new KernelSymbols(names, types, Uint32Array.from(his), Uint32Array.from(los), Int32Array.from(modIdx), modules)
  }

  /** The text symbol covering a code address: the nearest one at or below it. */
  resolve(address: bigint | number): ResolvedAddress | undefined {
    if (this.restricted || this.textIdx.length === 0) return undefined
    const a = BigInt.asUintN(64, BigInt(address))
    const ahi = Number(a >> 32n)
    const alo = Number(a & 0xffffffffn)
    // Largest k with text[k] <= address.
    let lo = 0
    let hi = this.textIdx.length - 1
    if (this.textHi[0]! > ahi || (this.textHi[0] === ahi && this.textLo[0]! > alo)) return undefined
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      const mhi = this.textHi[mid]!
      if (mhi < ahi || (mhi === ahi && this.textLo[mid]! <= alo)) lo = mid
      else hi = mid - 1
    }
    const sym = this.symbolAt(this.textIdx[lo]!)
    return {...sym, offset: a - sym.address}
  }

  /**
   * An address as bcc prints it: `name`, `name+0x1f` with `offset`, a
   * ` [module]` suffix with `module`; `[unknown]` when nothing covers it.
   */
  symbolize(address: bigint | number, opts: SymbolizeOptions = {}): string {
    const r = this.resolve(address)
    if (!r) return UNKNOWN_SYMBOL
    let s = r.name
    if (opts.offset === true || (opts.offset === 'nonzero' && r.offset !== 0n)) s += `+0x${r.offset.toString(16)}`
    if (opts.module && r.module !== undefined) s += ` [${r.module}]`
    return s
  }

  /** A symbol by name (of any type); the core kernel's when a module has one of the same name. */
  lookup(name: string): KernelSymbol | undefined {
    if (!this.byName) {
      const m = new Map<string, number>()
      for (let i = 0; i < this.names.length; i++) {
        const prev = m.get(this.names[i]!)
        if (prev === undefined || (this.moduleIndex[prev]! >= 0 && this.moduleIndex[i]! < 0)) m.set(this.names[i]!, i)
      }
      this.byName = m
    }
    const i = this.byName.get(name)
    return i === undefined ? undefined : this.symbolAt(i)
  }

  /** The text symbols sorted by address, one per address. */
  *textSymbols(): IterableIterator<KernelSymbol> {
    for (const i of this.textIdx) yield this.symbolAt(i)
  }

  private symbolAt(i: number): KernelSymbol {
    const sym: KernelSymbol = {
      name: this.names[i]!,
      address: (BigInt(this.hi[i]!) << 32n) | BigInt(this.lo[i]!),
      type: this.types[i]!,
    }
    const m = this.moduleIndex[i]!
    if (m >= 0) sym.module = this.modules[m]!
    return sym
  }

  // Which of two symbols at one address names it best: global over weak over
  // local, then fewer leading underscores (the public name over its aliases), then name order.
  private preference(a: number, b: number): number {
    const ra = bindingRank(this.types.charCodeAt(a))
    const rb = bindingRank(this.types.charCodeAt(b))
    if (ra !== rb) return ra - rb
    const ua = leadingUnderscores(this.names[a]!)
    const ub = leadingUnderscores(this.names[b]!)
    if (ua !== ub) return ua - ub
    const na = this.names[a]!
    const nb = this.names[b]!
    return na < nb ? -1 : na > nb ? 1 : 0
  }
}

function isText(c: number): boolean {
  // t T w W
  return c === 116 || c === 84 || c === 119 || c === 87
}

function bindingRank(c: number): number {
  if (c === 84) return 0 // T
  if (c === 87 || c === 119) return 1 // W w
  return 2
}

function leadingUnderscores(s: string): number {
  let n = 0
  while (n < s.length && s.charCodeAt(n) === 95) n++
  return n
}

/** Parse the text of /proc/kallsyms; the same as `KernelSymbols.parse`. */
export function parseKallsyms(text: string): KernelSymbols {
  return KernelSymbols.parse(text)
}
