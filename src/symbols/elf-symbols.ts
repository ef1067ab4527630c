// Symbols, loadable segments and build-id of an ELF64 little-endian
// executable or shared object (x86_64, aarch64, any machine alike), read
// from its bytes: what uprobes need to turn `FUNC` into a file offset and
// what user-stack symbolisation needs to turn an address into `FUNC+OFF`.
// src/object/elf.ts reads BPF relocatable objects only (it rejects other
// machines and keeps no program headers), so this reads the few structures
// it needs itself. Every offset is checked against the buffer.
import type {LoadSegment} from './proc-maps.js'

export type ElfSymbolType = 'notype' | 'object' | 'func' | 'ifunc' | 'tls' | 'other'
export type ElfSymbolBind = 'local' | 'global' | 'weak'

export type ElfSymbol = {
  /** As in the string table; .symtab names may carry a version (`memcpy@GLIBC_2.2.5`). */
  name: string
  /** st_value: the symbol's address in the ELF's own address space. */
  value: bigint
  size: number
  type: ElfSymbolType
  bind: ElfSymbolBind
  /** A .dynsym symbol of an older version (`memcpy@GLIBC_2.2.5` beside the default `memcpy@@GLIBC_2.14`). */
  oldVersion?: true
}

export type ElfSegment = LoadSegment & {vaddr: bigint; offset: bigint; filesz: bigint; memsz: bigint}

export type ElfSymbols = {
  /** e_machine: 62 x86_64, 183 aarch64. */
  machine: number
  /** e_type: 2 executable, 3 shared object or position-independent executable. */
  fileType: number
  /**
   * Defined symbols of .symtab and .dynsym (a name and address found in both
   * listed once), sorted by address.
   */
  symbols: ElfSymbol[]
  /** PT_LOAD program headers, in file order. */
  segments: ElfSegment[]
  /** The GNU build-id in lowercase hex, when the file has one. */
  buildId?: string
}

/** An ELF file that cannot be read, or a symbol it does not have. */
export class ElfSymbolError extends Error {
  override readonly name = 'ElfSymbolError'
}

export const EM_X86_64 = 62
export const EM_AARCH64 = 183

const PT_LOAD = 1
const PT_NOTE = 4
const SHT_SYMTAB = 2
const SHT_DYNSYM = 11
const SHT_GNU_VERSYM = 0x6fffffff
const VERSYM_HIDDEN = 0x8000
const NT_GNU_BUILD_ID = 3
const STT_NAMES: Record<number, ElfSymbolType> = {0: 'notype', 1: 'object', 2: 'func', 6: 'tls', 10: 'ifunc'}
const STB_NAMES: Record<number, ElfSymbolBind> = {0: 'local', 1: 'global', 2: 'weak', 10: 'global'}

/** Reads an ELF64 little-endian executable or shared object. */
export function readElfSymbols(buf: Buffer): ElfSymbols {
  const fail = (why: string): never => {
    throw new ElfSymbolError(why)
  }
  if (buf.length < 64) fail(`not an ELF file: ${buf.length} bytes`)
  if (buf.readUInt32BE(0) !== 0x7f454c46) fail('not an ELF file: bad magic')
  if (buf[4] !== 2) fail('not an ELF64 file (32-bit ELF is not supported)')
  if (buf[5] !== 1) fail('not a little-endian ELF file')
  const u64 = (off: number, what: string): bigint => {
    if (off + 8 > buf.length) fail(`ELF file truncated reading ${what}`)
    return buf.readBigUInt64LE(off)
  }
  const offsetIn = (v: bigint, what: string): number => {
    if (v > BigInt(buf.length)) fail(`${what} at 0x${v.toString(16)} lies beyond the end of the file (${buf.length} bytes)`)
    return Number(v)
  }
  const fileType = buf.readUInt16LE(16)
  const machine = buf.readUInt16LE(18)
  const phoff = offsetIn(u64(32, 'e_phoff'), 'program header table')
  const shoff = offsetIn(u64(40, 'e_shoff'), 'section header table')
  const phentsize = buf.readUInt16LE(54)
  const phnum = buf.readUInt16LE(56)
  const shentsize = buf.readUInt16LE(58)
  const shnum = buf.readUInt16LE(60)
  if (phnum && phentsize < 56) fail(`program header size ${phentsize} is too small`)
  if (phoff + phnum * phentsize > buf.length) fail('ELF file truncated: program headers lie beyond its end')
  if (shnum && shentsize < 64) fail(`section header size ${shentsize} is too small`)
  if (shnum && shoff + shnum * shentsize > buf.length) fail('ELF file truncated: section headers lie beyond its end')

  const segments: ElfSegment[] = []
  let buildId: string | undefined
  for (let i = 0; i < phnum; i++) {
    const h = phoff + i * phentsize
    const type = buf.readUInt32LE(h)
    if (type === PT_LOAD) {
      segments.push({
        flags: buf.readUInt32LE(h + 4),
        offset: buf.readBigUInt64LE(h + 8),
        vaddr: buf.readBigUInt64LE(h + 16),
        filesz: buf.readBigUInt64LE(h + 32),
        memsz: buf.readBigUInt64LE(h + 40),
      })
    } else if (type === PT_NOTE && buildId === undefined) {
      const start = offsetIn(buf.readBigUInt64LE(h + 8), `note segment ${i}`)
      const end = offsetIn(buf.readBigUInt64LE(h + 8) + buf.readBigUInt64LE(h + 32), `end of note segment ${i}`)
      buildId = findBuildId(buf, start, end, buf.readBigUInt64LE(h + 48) === 8n ? 8 : 4)
    }
  }

  // .gnu.version: a u16 per .dynsym entry; the hidden bit marks versions that are not the default.
  let versym: Buffer | undefined
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize
    if (buf.readUInt32LE(h + 4) !== SHT_GNU_VERSYM) continue
    const off = offsetIn(buf.readBigUInt64LE(h + 24), '.gnu.version')
    versym = buf.subarray(off, offsetIn(buf.readBigUInt64LE(h + 24) + buf.readBigUInt64LE(h + 32), 'end of .gnu.version'))
  }

  const symbols: ElfSymbol[] = []
  const seen = new Set<string>()
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize
    const type = buf.readUInt32LE(h + 4)
    if (type !== SHT_SYMTAB && type !== SHT_DYNSYM) continue
    const what = type === SHT_SYMTAB ? '.symtab' : '.dynsym'
    const off = offsetIn(buf.readBigUInt64LE(h + 24), what)
    const size = offsetIn(buf.readBigUInt64LE(h + 32), `${what} size`)
    const entsize = Number(buf.readBigUInt64LE(h + 56)) || 24
    if (entsize < 24) fail(`${what} entry size ${entsize} is too small`)
    if (off + size > buf.length) fail(`ELF file truncated: ${what} lies beyond its end`)
    const link = buf.readUInt32LE(h + 40)
    if (link >= shnum) fail(`${what} links to section ${link}, which does not exist`)
    const sh = shoff + link * shentsize
    const strStart = offsetIn(buf.readBigUInt64LE(sh + 24), `${what} string table`)
    const strEnd = offsetIn(buf.readBigUInt64LE(sh + 24) + buf.readBigUInt64LE(sh + 32), `end of ${what} string table`)
    for (let s = off, index = 0; s + entsize <= off + size; s += entsize, index++) {
      const shndx = buf.readUInt16LE(s + 6)
      const info = buf[s + 4]!
      const symType = STT_NAMES[info & 0xf] ?? 'other'
      // Undefined symbols, and section and file markers, name no code or data here.
      if (shndx === 0 || (info & 0xf) === 3 || (info & 0xf) === 4) continue
      const nameOff = strStart + buf.readUInt32LE(s)
      if (nameOff >= strEnd) fail(`${what} symbol name lies outside its string table`)
      let nul = buf.indexOf(0, nameOff)
      if (nul < 0 || nul > strEnd) nul = strEnd
      const name = buf.toString('utf8', nameOff, nul)
      if (!name) continue
      const value = buf.readBigUInt64LE(s + 8)
      const key = `${name}\0${value}`
      if (seen.has(key)) continue
      seen.add(key)
      const symbol: ElfSymbol = {name, value, size: Number(buf.readBigUInt64LE(s + 16)), type: symType, bind: STB_NAMES[info >> 4] ?? 'global'}
      if (type === SHT_DYNSYM && versym && 2 * index + 2 <= versym.length && versym.readUInt16LE(2 * index) & VERSYM_HIDDEN) symbol.oldVersion = true
      symbols.push(symbol)
    }
  }
  symbols.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
  return buildId === undefined ? {machine, fileType, symbols, segments} : {machine, fileType, symbols, segments, buildId}
}

function findBuildId(buf: Buffer, start: number, end: number, align: number): string | undefined {
  const pad = (n: number) => (n + align - 1) & ~(align - 1)
  let at = start
  while (at + 12 <= end) {
    const namesz = buf.readUInt32LE(at)
    const descsz = buf.readUInt32LE(at + 4)
    const type = buf.readUInt32LE(at + 8)
    const name = at + 12
    const desc = name + pad(namesz)
    if (desc + descsz > end) return undefined
    if (type === NT_GNU_BUILD_ID && namesz === 4 && buf.toString('latin1', name, name + 3) === 'GNU') {
      return buf.toString('hex', desc, desc + descsz)
    }
    at = desc + pad(descsz)
  }
  return undefined
}

/** The file offset where the byte at ELF address `vaddr` is stored; undefined when no PT_LOAD segment holds it. */
export function vaddrToFileOffset(elf: Pick<ElfSymbols, 'segments'>, vaddr: bigint): bigint | undefined {
  for (const s of elf.segments) {
    if (vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz) return vaddr - s.vaddr + s.offset
  }
  return undefined
}

/** Whether a symbol is `name` itself or a versioned `name@VERSION` of it. */
function named(s: ElfSymbol, name: string): boolean {
  return s.name === name || (s.name.startsWith(name) && s.name[name.length] === '@')
}

/**
 * The file offset of function `name`, which is where a uprobe on it goes.
 * Functions (and GNU indirect functions, whose resolver is what runs at that
 * address) defined several times at different addresses must be global in
 * exactly one place, as libbpf requires; older symbol versions do not count.
 */
export function symbolFileOffset(elf: ElfSymbols, name: string): bigint {
  const all = elf.symbols.filter((s) => named(s, name) && (s.type === 'func' || s.type === 'ifunc'))
  const code = all.some((s) => !s.oldVersion) ? all.filter((s) => !s.oldVersion) : all
  if (!code.length) {
    const other = elf.symbols.find((s) => named(s, name))
    throw new ElfSymbolError(other ? `symbol '${name}' is not a function (it is ${other.type === 'notype' ? 'untyped' : `a ${other.type}`})` : `no function named '${name}' (is the file stripped?)`)
  }
  const addresses = new Set(code.map((s) => s.value))
  let chosen = code[0]!
  if (addresses.size > 1) {
    const global = code.filter((s) => s.bind !== 'local')
    if (new Set(global.map((s) => s.value)).size !== 1) {
      throw new ElfSymbolError(`'${name}' names ${addresses.size} different functions; give its offset instead (PATH:0xOFFSET)`)
    }
    chosen = global[0]!
  }
  const offset = vaddrToFileOffset(elf, chosen.value)
  if (offset === undefined) throw new ElfSymbolError(`function '${name}' at 0x${chosen.value.toString(16)} lies in no loadable segment`)
  return offset
}
