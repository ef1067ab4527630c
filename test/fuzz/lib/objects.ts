// Fuzz cases for the host's object parsers: mutations of real BPF objects
// (compiled by clang from bpf-programs/ and test/fixtures/). The contract:
// parseObject, and Btf.parse / parseBtfExt on the .BTF / .BTF.ext sections,
// return or throw an ObjectError, whatever the bytes.

import {Btf, ObjectError, parseBtfExt, parseElf, parseObject} from '../../../src/object/index.js'
import {Finding} from './finding.js'
import {type Prng} from './prng.js'

interface Region {
  name: string
  start: number
  end: number
  weight: number
}

/** A well-formed object and the parts of it worth mutating. */
export interface CorpusObject {
  name: string
  bytes: Buffer
  regions: Region[]
  totalWeight: number
}

const ELF_HEADER = 64
const SECTION_HEADER = 64

function weightOf(section: string): number {
  if (section === '.BTF') return 6
  if (section === '.BTF.ext') return 4
  if (section === '.symtab' || section.startsWith('.rel')) return 3
  if (section === '.maps' || section === 'license' || section === '.strtab') return 1
  return 1
}

/** Finds the regions of each object (the header, section table, each section). */
export function prepareCorpus(objects: readonly {name: string; bytes: Buffer}[]): CorpusObject[] {
  return objects.map(({name, bytes}) => {
    const elf = parseElf(bytes)
    const regions: Region[] = [{name: 'ELF header', start: 0, end: ELF_HEADER, weight: 1}]
    const shoff = Number(bytes.readBigUInt64LE(0x28))
    const shnum = bytes.readUInt16LE(0x3c)
    regions.push({name: 'section headers', start: shoff, end: shoff + shnum * SECTION_HEADER, weight: 3})
    for (const s of elf.sections) {
      if (s.data.length === 0) continue
      regions.push({name: s.name, start: s.offset, end: s.offset + s.data.length, weight: weightOf(s.name)})
    }
    return {name, bytes, regions, totalWeight: regions.reduce((n, r) => n + r.weight, 0)}
  })
}

function pickRegion(rng: Prng, obj: CorpusObject): Region {
  let w = rng.below(obj.totalWeight)
  for (const r of obj.regions) {
    if (w < r.weight) return r
    w -= r.weight
  }
  return obj.regions[0]!
}

const INTERESTING = [
  0, 1, 2, 3, 4, 7, 8, 12, 16, 24, 32, 63, 64, 0x7f, 0x80, 0xff, 0x100, 0x3ff, 0x400, 0xfff, 0x1000,
  0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
]

function interesting(rng: Prng, buf: Buffer, region: Region): number {
  switch (rng.below(5)) {
    case 0: return buf.length
    case 1: return (region.end - region.start + rng.range(-8, 8)) >>> 0
    case 2:
      // a BTF type's info word: kind, vlen, kind_flag
      return ((rng.below(21) << 24) | rng.pick([0, 1, 2, 3, 0xffff]) | (rng.chance(0.2) ? 0x80000000 : 0)) >>> 0
    default: return rng.pick(INTERESTING)
  }
}

function at(rng: Prng, buf: Buffer, region: Region, width: number, align: number): number | undefined {
  const start = Math.min(region.start, buf.length)
  const end = Math.min(region.end, buf.length)
  if (end - start < width) return undefined
  const slots = Math.floor((end - start - width) / align) + 1
  return start + rng.below(slots) * align
}

/** One object, mutated one to eight times. */
export function objectCase(rng: Prng, corpus: readonly CorpusObject[]): Buffer {
  const obj = rng.pick(corpus)
  let buf = Buffer.from(obj.bytes)
  const edits = 1 + (rng.chance(0.2) ? rng.below(8) : rng.below(3))
  for (let e = 0; e < edits; e++) {
    const region = pickRegion(rng, obj)
    switch (rng.below(10)) {
      case 0: {
        const o = at(rng, buf, region, 1, 1)
        if (o !== undefined) buf[o]! ^= 1 << rng.below(8)
        break
      }
      case 1: {
        const o = at(rng, buf, region, 1, 1)
        if (o !== undefined) buf[o] = rng.below(256)
        break
      }
      case 2:
      case 3: {
        const o = at(rng, buf, region, 4, rng.chance(0.8) ? 4 : 1)
        if (o !== undefined) buf.writeUInt32LE(interesting(rng, buf, region), o)
        break
      }
      case 4: {
        const o = at(rng, buf, region, 2, 2)
        if (o !== undefined) buf.writeUInt16LE(interesting(rng, buf, region) & 0xffff, o)
        break
      }
      case 5: {
        const o = at(rng, buf, region, 8, 8)
        if (o !== undefined) {
          buf.writeUInt32LE(interesting(rng, buf, region), o)
          buf.writeUInt32LE(rng.pick([0, 0, 0, 1, 0xffffffff, 0x80000000]), o + 4)
        }
        break
      }
      case 6: {
        const o = at(rng, buf, region, 4, 4)
        if (o !== undefined) buf.writeUInt32LE((buf.readUInt32LE(o) + rng.range(-16, 16)) >>> 0, o)
        break
      }
      case 7: {
        // a chunk from elsewhere in the file: a type, symbol or header out of place
        const n = 4 + rng.below(60)
        const from = rng.below(Math.max(1, buf.length - n))
        const o = at(rng, buf, region, Math.min(n, buf.length - from), 1)
        if (o !== undefined) buf.copy(buf, o, from, Math.min(from + n, buf.length, from + buf.length - o))
        break
      }
      case 8: {
        // insert or delete bytes: everything after moves
        const o = at(rng, buf, region, 0, 1) ?? 0
        const n = 1 + rng.below(16)
        buf = rng.chance(0.5)
          ? Buffer.concat([buf.subarray(0, o), rng.bytes(n), buf.subarray(o)])
          : Buffer.concat([buf.subarray(0, o), buf.subarray(Math.min(buf.length, o + n))])
        break
      }
      default:
        if (rng.chance(0.3)) buf = buf.subarray(0, rng.below(buf.length + 1))
    }
  }
  return buf
}

function expectObjectError(e: unknown, where: string): void {
  if (e instanceof ObjectError) return
  const err = e instanceof Error ? e : new Error(String(e))
  throw new Finding(`${where} threw ${err.name}, not ObjectError: ${err.message}`, err)
}

/** Runs one case; throws a Finding when the contract is broken. */
export function checkObject(bytes: Buffer): void {
  try {
    parseObject(bytes)
  } catch (e) {
    expectObjectError(e, 'parseObject')
  }
  // The BTF parsers on their own, so BTF damage is seen even where the ELF
  // side already failed further on.
  let elf
  try {
    elf = parseElf(bytes)
  } catch (e) {
    expectObjectError(e, 'parseElf')
    return
  }
  const btfSection = elf.sectionByName('.BTF')
  if (!btfSection) return
  let btf: Btf
  try {
    btf = Btf.parse(btfSection.data)
  } catch (e) {
    expectObjectError(e, 'Btf.parse')
    return
  }
  const ext = elf.sectionByName('.BTF.ext')
  if (!ext) return
  try {
    parseBtfExt(ext.data, btf)
  } catch (e) {
    expectObjectError(e, 'parseBtfExt')
  }
}
