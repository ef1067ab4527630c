// .BTF.ext: per-ELF-section function info, line info and CO-RE relocation
// records. Offsets here are as clang writes them: bytes from the start of the
// ELF section.

import type {Btf} from './btf.js';
import {ObjectError} from './errors.js';

const BTF_EXT_MAGIC = 0xeb9f;

export interface FuncInfoRecord {
  /** Byte offset of the function's first instruction in its ELF section. */
  insnOff: number;
  /** BTF id of the FUNC type. */
  typeId: number;
}

export interface LineInfoRecord {
  /** Byte offset of the instruction in its ELF section. */
  insnOff: number;
  /** BTF string offset of the source file name. */
  fileNameOff: number;
  /** BTF string offset of the source line's text. */
  lineOff: number;
  line: number;
  col: number;
}

/** CO-RE relocation kinds (enum bpf_core_relo_kind). */
export const CoreReloKind = {
  FIELD_BYTE_OFFSET: 0,
  FIELD_BYTE_SIZE: 1,
  FIELD_EXISTS: 2,
  FIELD_SIGNED: 3,
  FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5,
  TYPE_ID_LOCAL: 6,
  TYPE_ID_TARGET: 7,
  TYPE_EXISTS: 8,
  TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10,
  ENUMVAL_VALUE: 11,
  TYPE_MATCHES: 12,
} as const;

export type CoreReloKindName = keyof typeof CoreReloKind;

export const CORE_RELO_KIND_NAMES: readonly CoreReloKindName[] = Object.keys(CoreReloKind) as CoreReloKindName[];

export interface CoreReloRecord {
  /** Byte offset of the instruction in its ELF section. */
  insnOff: number;
  /** Local (program BTF) root type id. */
  typeId: number;
  /** Access string such as `0:1:2`. */
  accessStr: string;
  kind: number;
}

export interface BtfExt {
  /** Keyed by ELF section name. */
  funcInfo: Map<string, FuncInfoRecord[]>;
  lineInfo: Map<string, LineInfoRecord[]>;
  coreRelos: Map<string, CoreReloRecord[]>;
}

/** Parses .BTF.ext; strings (section names, file names, access strings) come from `btf`. */
export function parseBtfExt(data: Buffer, btf: Btf): BtfExt {
  const fail = (problem: string, offset?: number): never => {
    throw new ObjectError(problem, offset === undefined ? {section: '.BTF.ext'} : {section: '.BTF.ext', offset});
  };
  if (data.length < 24) fail(`truncated: ${data.length} bytes is shorter than the header`);
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const magic = v.getUint16(0, true);
  if (magic !== BTF_EXT_MAGIC) fail(`bad magic 0x${magic.toString(16)}`);
  if (v.getUint8(2) !== 1) fail(`unsupported version ${v.getUint8(2)}`);
  const hdrLen = v.getUint32(4, true);
  if (hdrLen < 24 || hdrLen > data.length) fail(`bad header length ${hdrLen}`);

  const str = (off: number, what: string): string => {
    try {
      return btf.string(off);
    } catch {
      return fail(`${what}: string offset ${off} is outside the BTF string section`);
    }
  };

  const readInfo = <T>(off: number, len: number, minRec: number, what: string,
    decode: (rec: number) => T): Map<string, T[]> => {
    const out = new Map<string, T[]>();
    if (len === 0) return out;
    const start = hdrLen + off;
    const end = start + len;
    if (end > data.length) fail(`${what} (${len} bytes at ${off}) extends past the end (${data.length} bytes)`);
    if (len < 4) fail(`${what} is too short`, start);
    const recSize = v.getUint32(start, true);
    if (recSize < minRec || recSize % 4 !== 0) fail(`${what} record size ${recSize} is invalid (at least ${minRec})`, start);
    let p = start + 4;
    while (p < end) {
      if (p + 8 > end) fail(`${what} section header truncated`, p);
      const secName = str(v.getUint32(p, true), `${what} section name`);
      const n = v.getUint32(p + 4, true);
      p += 8;
      if (n === 0) fail(`${what} for section ${JSON.stringify(secName)} has no records`, p - 8);
      if (p + n * recSize > end) fail(`${what} for section ${JSON.stringify(secName)}: ${n} records of ${recSize} bytes overrun the section`, p);
      const list = out.get(secName) ?? [];
      for (let i = 0; i < n; i++) list.push(decode(p + i * recSize));
      out.set(secName, list);
      p += n * recSize;
    }
    return out;
  };

  const funcInfo = readInfo(v.getUint32(8, true), v.getUint32(12, true), 8, 'func_info',
    (r) => ({insnOff: v.getUint32(r, true), typeId: v.getUint32(r + 4, true)}));
  const lineInfo = readInfo(v.getUint32(16, true), v.getUint32(20, true), 16, 'line_info',
    (r) => {
      const lineCol = v.getUint32(r + 12, true);
      return {
        insnOff: v.getUint32(r, true),
        fileNameOff: v.getUint32(r + 4, true),
        lineOff: v.getUint32(r + 8, true),
        line: lineCol >>> 10,
        col: lineCol & 0x3ff,
      };
    });
  let coreRelos = new Map<string, CoreReloRecord[]>();
  if (hdrLen >= 32) {
    coreRelos = readInfo(v.getUint32(24, true), v.getUint32(28, true), 16, 'core_relo',
      (r) => ({
        insnOff: v.getUint32(r, true),
        typeId: v.getUint32(r + 4, true),
        accessStr: str(v.getUint32(r + 8, true), 'CO-RE access string'),
        kind: v.getUint32(r + 12, true),
      }));
  }
  return {funcInfo, lineInfo, coreRelos};
}

/** Kernel form of func_info (insn_off in instructions), for BPF_PROG_LOAD. */
export function encodeFuncInfo(records: readonly {insnOff: number; typeId: number}[]): Buffer {
  const b = Buffer.alloc(records.length * 8);
  records.forEach((r, i) => {
    b.writeUInt32LE(r.insnOff, i * 8);
    b.writeUInt32LE(r.typeId, i * 8 + 4);
  });
  return b;
}

/** Kernel form of line_info (insn_off in instructions), for BPF_PROG_LOAD. */
export function encodeLineInfo(records: readonly {insnOff: number; fileNameOff: number; lineOff: number; line: number; col: number}[]): Buffer {
  const b = Buffer.alloc(records.length * 16);
  records.forEach((r, i) => {
    b.writeUInt32LE(r.insnOff, i * 16);
    b.writeUInt32LE(r.fileNameOff, i * 16 + 4);
    b.writeUInt32LE(r.lineOff, i * 16 + 8);
    b.writeUInt32LE(((r.line << 10) | (r.col & 0x3ff)) >>> 0, i * 16 + 12);
  });
  return b;
}

export const FUNC_INFO_RECORD_SIZE = 8;
export const LINE_INFO_RECORD_SIZE = 16;
