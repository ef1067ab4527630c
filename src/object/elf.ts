// ELF64 little-endian reader for BPF relocatable objects (what clang -target
// bpf writes). Every offset and size is checked against the buffer, so a
// truncated or corrupt file gives an ObjectError naming the problem.

import {ObjectError} from './errors.js';

export const EM_BPF = 247;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;

export const STV_DEFAULT = 0;
export const STV_HIDDEN = 2;

/** BPF relocation types (llvm's R_BPF_*). */
export const R_BPF_NONE = 0;
export const R_BPF_64_64 = 1;
export const R_BPF_64_ABS64 = 2;
export const R_BPF_64_ABS32 = 3;
export const R_BPF_64_NODYLD32 = 4;
export const R_BPF_64_32 = 10;

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;
const RELA_SIZE = 24;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
  /** The section's bytes (empty for SHT_NOBITS; `size` still says how big). */
  data: Buffer;
}

export interface ElfSymbol {
  index: number;
  name: string;
  value: number;
  size: number;
  bind: number;
  type: number;
  visibility: number;
  /** Section index (SHN_UNDEF for externs). */
  shndx: number;
}

export interface ElfRelocation {
  /** Byte offset inside the section being relocated. */
  offset: number;
  /** Index into the symbol table (already checked to be in range). */
  symbol: number;
  type: number;
  addend: number;
}

export interface ElfFile {
  sections: ElfSection[];
  /** Symbol table; index 0 is the null symbol. Empty when there is none. */
  symbols: ElfSymbol[];
  /** Relocations keyed by the index of the section they apply to. */
  relocations: Map<number, ElfRelocation[]>;
  /** The relocation section that holds each entry of `relocations`. */
  relocationSections: Map<number, ElfSection>;
  sectionByName(name: string): ElfSection | undefined;
}

function u64(view: DataView, off: number, what: string): number {
  const v = view.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ObjectError(`${what} is too large (0x${v.toString(16)})`, {offset: off});
  }
  return Number(v);
}

function cString(buf: Buffer, start: number, end: number, what: string, section?: string): string {
  if (start >= end) {
    throw new ObjectError(`${what}: string offset ${start} is outside the string table`, section === undefined ? {} : {section});
  }
  const nul = buf.indexOf(0, start);
  if (nul < 0 || nul >= end) {
    throw new ObjectError(`${what}: string at offset ${start} is not NUL-terminated inside the string table`, section === undefined ? {} : {section});
  }
  return buf.toString('latin1', start, nul);
}

/** Parses an ELF64 little-endian BPF object. */
export function parseElf(buf: Buffer): ElfFile {
  if (buf.length < 16) {
    throw new ObjectError(`not an ELF file: ${buf.length} bytes is too short for an ELF identification`);
  }
  if (buf[0] !== 0x7f || buf[1] !== 0x45 || buf[2] !== 0x4c || buf[3] !== 0x46) {
    throw new ObjectError('not an ELF file: bad magic (expected 7f 45 4c 46)');
  }
  if (buf[4] !== 2) {
    throw new ObjectError(buf[4] === 1
      ? 'ELF class is 32-bit; BPF objects are ELF64'
      : `unknown ELF class ${buf[4]}; BPF objects are ELF64`);
  }
  if (buf[5] !== 1) {
    throw new ObjectError(buf[5] === 2
      ? 'ELF object is big-endian; only little-endian BPF objects (clang -target bpf / bpfel) are supported'
      : `unknown ELF data encoding ${buf[5]}`);
  }
  if (buf.length < EHDR_SIZE) {
    throw new ObjectError(`ELF file truncated: ${buf.length} bytes is shorter than the 64-byte ELF header`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const machine = view.getUint16(18, true);
  if (machine !== EM_BPF) {
    throw new ObjectError(`ELF machine is ${machine}, not EM_BPF (247): this is not a BPF object`);
  }
  const shoff = u64(view, 40, 'e_shoff');
  const shentsize = view.getUint16(58, true);
  let shnum = view.getUint16(60, true);
  let shstrndx = view.getUint16(62, true);
  if (shoff === 0) throw new ObjectError('ELF file has no section header table');
  if (shentsize !== SHDR_SIZE) {
    throw new ObjectError(`ELF section header size is ${shentsize}, expected ${SHDR_SIZE}`);
  }
  if (shoff + SHDR_SIZE > buf.length) {
    throw new ObjectError(`ELF file truncated: section header table at 0x${shoff.toString(16)} lies beyond the end of the file (${buf.length} bytes)`);
  }
  // Extended numbering: counts that do not fit live in section 0.
  if (shnum === 0) shnum = u64(view, shoff + 32, 'section count');
  if (shstrndx === SHN_XINDEX) shstrndx = view.getUint32(shoff + 40, true);
  if (shoff + shnum * SHDR_SIZE > buf.length) {
    throw new ObjectError(`ELF file truncated: ${shnum} section headers at 0x${shoff.toString(16)} need ${shnum * SHDR_SIZE} bytes, the file has ${buf.length - shoff} there`);
  }
  if (shstrndx >= shnum) {
    throw new ObjectError(`section name table index ${shstrndx} is out of range (${shnum} sections)`);
  }

  const sections: ElfSection[] = [];
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * SHDR_SIZE;
    const type = view.getUint32(h + 4, true);
    const offset = u64(view, h + 24, `section ${i} offset`);
    const size = u64(view, h + 32, `section ${i} size`);
    if (type !== SHT_NOBITS && type !== SHT_NULL && offset + size > buf.length) {
      throw new ObjectError(`ELF file truncated: section ${i} spans 0x${offset.toString(16)}..0x${(offset + size).toString(16)}, beyond the end of the file (0x${buf.length.toString(16)})`);
    }
    sections.push({
      index: i,
      name: '',
      type,
      flags: u64(view, h + 8, `section ${i} flags`),
      offset,
      size,
      link: view.getUint32(h + 40, true),
      info: view.getUint32(h + 44, true),
      addralign: u64(view, h + 48, `section ${i} alignment`),
      entsize: u64(view, h + 56, `section ${i} entry size`),
      data: type === SHT_NOBITS || type === SHT_NULL ? Buffer.alloc(0) : buf.subarray(offset, offset + size),
    });
  }
  const shstr = sections[shstrndx]!;
  if (shstr.type !== SHT_STRTAB) {
    throw new ObjectError(`section name table (section ${shstrndx}) is not a string table`);
  }
  for (const s of sections) {
    const nameOff = view.getUint32(shoff + s.index * SHDR_SIZE, true);
    s.name = cString(shstr.data, nameOff, shstr.data.length, `name of section ${s.index}`, '.shstrtab');
  }

  // Symbol table.
  const symtabs = sections.filter((s) => s.type === SHT_SYMTAB);
  if (symtabs.length > 1) throw new ObjectError('ELF file has more than one symbol table');
  const symbols: ElfSymbol[] = [];
  const symtab = symtabs[0];
  if (symtab) {
    if (symtab.entsize !== SYM_SIZE) {
      throw new ObjectError(`symbol entry size is ${symtab.entsize}, expected ${SYM_SIZE}`, {section: symtab.name});
    }
    if (symtab.size % SYM_SIZE !== 0) {
      throw new ObjectError(`symbol table size ${symtab.size} is not a multiple of ${SYM_SIZE}`, {section: symtab.name});
    }
    const strtab = sections[symtab.link];
    if (!strtab || strtab.type !== SHT_STRTAB) {
      throw new ObjectError(`symbol table links to section ${symtab.link}, which is not a string table`, {section: symtab.name});
    }
    const sv = new DataView(symtab.data.buffer, symtab.data.byteOffset, symtab.data.byteLength);
    const n = symtab.size / SYM_SIZE;
    for (let i = 0; i < n; i++) {
      const o = i * SYM_SIZE;
      const info = sv.getUint8(o + 4);
      const shndx = sv.getUint16(o + 6, true);
      if (shndx !== SHN_UNDEF && shndx < SHN_LORESERVE && shndx >= shnum) {
        throw new ObjectError(`symbol ${i} refers to section ${shndx}, but there are only ${shnum} sections`, {section: symtab.name});
      }
      symbols.push({
        index: i,
        name: cString(strtab.data, sv.getUint32(o, true), strtab.data.length, `name of symbol ${i}`, strtab.name),
        bind: info >> 4,
        type: info & 0xf,
        visibility: sv.getUint8(o + 5) & 0x3,
        shndx,
        value: Number(sv.getBigUint64(o + 8, true) & 0xffffffffffffn),
        size: Number(sv.getBigUint64(o + 16, true) & 0xffffffffffffn),
      });
    }
  }

  // Relocation sections.
  const relocations = new Map<number, ElfRelocation[]>();
  const relocationSections = new Map<number, ElfSection>();
  for (const s of sections) {
    if (s.type !== SHT_REL && s.type !== SHT_RELA) continue;
    const entSize = s.type === SHT_REL ? REL_SIZE : RELA_SIZE;
    if (s.size % entSize !== 0) {
      throw new ObjectError(`relocation section size ${s.size} is not a multiple of ${entSize}`, {section: s.name});
    }
    if (s.info === 0 || s.info >= shnum) {
      throw new ObjectError(`relocation section applies to section ${s.info}, which does not exist`, {section: s.name});
    }
    if (!symtab || s.link !== symtab.index) {
      throw new ObjectError(`relocation section links to section ${s.link}, which is not the symbol table`, {section: s.name});
    }
    const target = sections[s.info]!;
    const rv = new DataView(s.data.buffer, s.data.byteOffset, s.data.byteLength);
    const list: ElfRelocation[] = [];
    for (let i = 0; i < s.size / entSize; i++) {
      const o = i * entSize;
      const offset = u64(rv, o, `relocation ${i} offset`);
      const info = rv.getBigUint64(o + 8, true);
      const symbol = Number(info >> 32n);
      const type = Number(info & 0xffffffffn);
      if (symbol >= symbols.length) {
        throw new ObjectError(`relocation ${i} refers to symbol ${symbol}, but the symbol table has ${symbols.length} entries`, {section: s.name});
      }
      if (target.type !== SHT_NOBITS && offset >= target.size) {
        throw new ObjectError(`relocation ${i} at offset 0x${offset.toString(16)} is outside section ${JSON.stringify(target.name)} (size 0x${target.size.toString(16)})`, {section: s.name});
      }
      const addend = s.type === SHT_RELA ? Number(rv.getBigInt64(o + 16, true)) : 0;
      list.push({offset, symbol, type, addend});
    }
    const existing = relocations.get(s.info);
    if (existing) existing.push(...list);
    else relocations.set(s.info, list);
    relocationSections.set(s.info, s);
  }

  const byName = new Map<string, ElfSection>();
  for (const s of sections) if (!byName.has(s.name)) byName.set(s.name, s);
  return {
    sections,
    symbols,
    relocations,
    relocationSections,
    sectionByName: (name) => byName.get(name),
  };
}
