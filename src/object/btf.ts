// BTF (BPF Type Format): parse a type table (a program's .BTF section or a
// kernel's /sys/kernel/btf/vmlinux), look types up by id and name, and write
// it back out. Large tables (vmlinux: ~130k types) are indexed in one cheap
// pass and each type is decoded on first use.

import {ObjectError} from './errors.js';

export const BTF_MAGIC = 0xeb9f;
const HEADER_SIZE = 24;
const TYPE_HEADER_SIZE = 12;

/** Kind numbers as the kernel defines them. */
export const BtfKindNumber = {
  unkn: 0, int: 1, ptr: 2, array: 3, struct: 4, union: 5, enum: 6, fwd: 7, typedef: 8,
  volatile: 9, const: 10, restrict: 11, func: 12, func_proto: 13, var: 14, datasec: 15,
  float: 16, decl_tag: 17, type_tag: 18, enum64: 19,
} as const;

const KIND_NAMES = [
  'void', 'int', 'ptr', 'array', 'struct', 'union', 'enum', 'fwd', 'typedef', 'volatile', 'const',
  'restrict', 'func', 'func_proto', 'var', 'datasec', 'float', 'decl_tag', 'type_tag', 'enum64',
] as const;

export type BtfKind = (typeof KIND_NAMES)[number];

/** BTF_FUNC_* linkage of a FUNC and BTF_VAR_* linkage of a VAR. */
export const BtfLinkage = {static: 0, global: 1, extern: 2} as const;

interface BtfTypeBase {
  /** Type id (0 is void). */
  id: number;
  /** Name ('' when anonymous). */
  name: string;
  /** The raw kind_flag bit, kept for kinds where it has no decoded meaning here. */
  kindFlag?: boolean;
}

export interface BtfVoid extends BtfTypeBase { kind: 'void' }
export interface BtfInt extends BtfTypeBase {
  kind: 'int';
  size: number;
  signed: boolean;
  char: boolean;
  bool: boolean;
  /** BTF_INT_OFFSET: bit offset (legacy bitfield encoding; 0 in practice). */
  bitOffset: number;
  /** BTF_INT_BITS: number of value bits. */
  bits: number;
}
export interface BtfPtr extends BtfTypeBase { kind: 'ptr'; type: number }
export interface BtfArray extends BtfTypeBase { kind: 'array'; type: number; indexType: number; nelems: number }
export interface BtfMember {
  name: string;
  type: number;
  /** Offset of the member from the start of the struct, in bits. */
  bitOffset: number;
  /** Bitfield width, 0 for ordinary members. */
  bitfieldSize: number;
}
export interface BtfComposite extends BtfTypeBase { kind: 'struct' | 'union'; size: number; members: BtfMember[] }
export interface BtfEnum extends BtfTypeBase {
  kind: 'enum';
  size: number;
  signed: boolean;
  values: {name: string; value: number}[];
}
export interface BtfEnum64 extends BtfTypeBase {
  kind: 'enum64';
  size: number;
  signed: boolean;
  values: {name: string; value: bigint}[];
}
export interface BtfFwd extends BtfTypeBase { kind: 'fwd'; union: boolean }
export interface BtfRef extends BtfTypeBase { kind: 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag'; type: number }
export interface BtfFunc extends BtfTypeBase { kind: 'func'; type: number; linkage: number }
export interface BtfFuncProto extends BtfTypeBase {
  kind: 'func_proto';
  returnType: number;
  params: {name: string; type: number}[];
}
export interface BtfVar extends BtfTypeBase { kind: 'var'; type: number; linkage: number }
export interface BtfVarSecinfo { type: number; offset: number; size: number }
export interface BtfDatasec extends BtfTypeBase { kind: 'datasec'; size: number; vars: BtfVarSecinfo[] }
export interface BtfFloat extends BtfTypeBase { kind: 'float'; size: number }
export interface BtfDeclTag extends BtfTypeBase { kind: 'decl_tag'; type: number; componentIdx: number }

export type BtfType =
  | BtfVoid | BtfInt | BtfPtr | BtfArray | BtfComposite | BtfEnum | BtfEnum64 | BtfFwd | BtfRef
  | BtfFunc | BtfFuncProto | BtfVar | BtfDatasec | BtfFloat | BtfDeclTag;

const QUALIFIERS = new Set<BtfKind>(['const', 'volatile', 'restrict', 'type_tag']);

/** `task_struct___v2` → `task_struct` (CO-RE "flavours"). */
export function essentialName(name: string): string {
  for (let i = name.length - 4; i > 0; i--) {
    if (name.charCodeAt(i - 1) !== 95 && name.startsWith('___', i) && name.charCodeAt(i + 3) !== 95) {
      return name.slice(0, i);
    }
  }
  return name;
}

function trailingSize(kind: number, vlen: number): number {
  switch (kind) {
    case 1: return 4; // int
    case 3: return 12; // array
    case 4: case 5: return vlen * 12; // members
    case 6: return vlen * 8; // enum
    case 13: return vlen * 8; // params
    case 14: return 4; // var
    case 15: return vlen * 12; // secinfo
    case 17: return 4; // decl_tag
    case 19: return vlen * 12; // enum64
    case 2: case 7: case 8: case 9: case 10: case 11: case 12: case 16: case 18: return 0;
    default: return -1;
  }
}

export interface BtfParseOptions {
  /** Base BTF for split BTF (kernel module BTF builds on vmlinux). */
  base?: Btf;
  /** Name used in error messages (default `.BTF`). */
  what?: string;
}

/** Builds a string section, keeping an existing one byte for byte. */
class StringTableBuilder {
  private readonly chunks: Buffer[] = [];
  private length: number;
  private readonly index = new Map<string, number>();

  constructor(initial: Buffer) {
    const base = initial.length ? initial : Buffer.from([0]);
    this.chunks.push(base);
    this.length = base.length;
    let start = 0;
    while (start < base.length) {
      const nul = base.indexOf(0, start);
      const end = nul < 0 ? base.length : nul;
      const s = base.toString('utf8', start, end);
      if (!this.index.has(s)) this.index.set(s, start);
      start = end + 1;
    }
    this.index.set('', 0);
  }

  add(s: string): number {
    const known = this.index.get(s);
    if (known !== undefined) return known;
    const off = this.length;
    const bytes = Buffer.from(`${s}\0`, 'utf8');
    this.chunks.push(bytes);
    this.length += bytes.length;
    this.index.set(s, off);
    return off;
  }

  build(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

/** An indexed BTF type table. */
export class Btf {
  /** The string section (for split BTF: only this table's own strings). */
  readonly strings: Buffer;
  readonly base: Btf | undefined;
  /** First type id defined by this table (1, or the base's length). */
  readonly firstId: number;
  private readonly stringBase: number;
  private readonly typeData: DataView | undefined;
  private readonly offsets: Uint32Array | undefined;
  private readonly decoded: (BtfType | undefined)[];
  private readonly count: number;
  /** Lookups made so far, by name. */
  private readonly byName = new Map<string, number[]>();
  private readonly byEssentialName = new Map<string, number[]>();
  private nameOffs: Uint32Array | undefined;
  private readonly stringCache = new Map<number, string>();

  private constructor(args: {
    strings: Buffer; base?: Btf | undefined; typeData?: DataView; offsets?: Uint32Array;
    decoded: (BtfType | undefined)[]; count: number;
  }) {
    this.strings = args.strings;
    this.base = args.base;
    this.firstId = args.base ? args.base.length : 1;
    this.stringBase = args.base ? args.base.stringsLength : 0;
    this.typeData = args.typeData;
    this.offsets = args.offsets;
    this.decoded = args.decoded;
    this.count = args.count;
  }

  /** Parses a .BTF blob. Throws ObjectError on any inconsistency. */
  static parse(data: Buffer, options: BtfParseOptions = {}): Btf {
    const what = options.what ?? '.BTF';
    const fail = (problem: string, offset?: number): never => {
      throw new ObjectError(problem, offset === undefined ? {section: what} : {section: what, offset});
    };
    if (data.length < HEADER_SIZE) fail(`BTF truncated: ${data.length} bytes is shorter than the ${HEADER_SIZE}-byte header`);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const magic = view.getUint16(0, true);
    if (magic !== BTF_MAGIC) {
      fail(magic === 0x9feb ? 'BTF is big-endian; only little-endian BTF is supported' : `bad BTF magic 0x${magic.toString(16)}`);
    }
    const version = view.getUint8(2);
    if (version !== 1) fail(`unsupported BTF version ${version}`);
    const hdrLen = view.getUint32(4, true);
    if (hdrLen < HEADER_SIZE || hdrLen > data.length) fail(`bad BTF header length ${hdrLen}`);
    const typeOff = view.getUint32(8, true);
    const typeLen = view.getUint32(12, true);
    const strOff = view.getUint32(16, true);
    const strLen = view.getUint32(20, true);
    if (hdrLen + typeOff + typeLen > data.length) {
      fail(`BTF truncated: type section (${typeLen} bytes at ${typeOff}) extends past the end (${data.length} bytes)`);
    }
    if (hdrLen + strOff + strLen > data.length) {
      fail(`BTF truncated: string section (${strLen} bytes at ${strOff}) extends past the end (${data.length} bytes)`);
    }
    if (typeOff % 4 !== 0) fail(`BTF type section offset ${typeOff} is not 4-byte aligned`);
    const strings = data.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
    if (strLen > 0 && strings[strLen - 1] !== 0) fail('BTF string section is not NUL-terminated');
    if (!options.base && strLen > 0 && strings[0] !== 0) fail('BTF string section does not start with an empty string');

    const typeStart = hdrLen + typeOff;
    const typeData = new DataView(data.buffer, data.byteOffset + typeStart, typeLen);
    const offsets = new Uint32Array(Math.floor(typeLen / TYPE_HEADER_SIZE) + 1);
    let n = 0;
    let off = 0;
    const firstId = options.base ? options.base.length : 1;
    while (off < typeLen) {
      if (off + TYPE_HEADER_SIZE > typeLen) fail(`BTF type ${firstId + n} is truncated`, typeStart + off);
      const info = typeData.getUint32(off + 4, true);
      const kind = (info >>> 24) & 0x1f;
      const extra = trailingSize(kind, info & 0xffff);
      if (extra < 0 || kind === 0) fail(`BTF type ${firstId + n} has unknown kind ${kind}`, typeStart + off);
      const end = off + TYPE_HEADER_SIZE + extra;
      if (end > typeLen) fail(`BTF type ${firstId + n} (${KIND_NAMES[kind]}) is truncated`, typeStart + off);
      offsets[n++] = off;
      off = end;
    }
    return new Btf({
      strings, base: options.base, typeData, offsets: offsets.subarray(0, n),
      decoded: new Array<BtfType | undefined>(n), count: n,
    });
  }

  /** Builds a table from decoded types (ids must run 1.. in order; void is skipped). */
  static fromTypes(types: readonly BtfType[], strings: Buffer = Buffer.from([0])): Btf {
    const list = types.filter((t) => t.kind !== 'void');
    list.forEach((t, i) => {
      if (t.id !== i + 1) throw new ObjectError(`type at position ${i + 1} has id ${t.id}`, {section: '.BTF'});
    });
    return new Btf({strings, decoded: list.slice(), count: list.length});
  }

  /** One more than the largest type id (ids run 0..length-1). */
  get length(): number {
    return this.firstId + this.count;
  }

  /** Size of the string space, including the base's. */
  get stringsLength(): number {
    return this.stringBase + this.strings.length;
  }

  /** The string at a BTF string offset. */
  string(offset: number): string {
    if (offset < this.stringBase) return this.base!.string(offset);
    const cached = this.stringCache.get(offset);
    if (cached !== undefined) return cached;
    const local = offset - this.stringBase;
    if (local >= this.strings.length) {
      throw new ObjectError(`BTF string offset ${offset} is outside the string section (${this.stringsLength} bytes)`, {section: '.BTF'});
    }
    const end = this.strings.indexOf(0, local);
    const s = this.strings.toString('utf8', local, end < 0 ? this.strings.length : end);
    this.stringCache.set(offset, s);
    return s;
  }

  /** Whether `id` names a type in this table (or its base). */
  has(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.length;
  }

  /** The type with the given id; throws ObjectError for an unknown id. */
  type(id: number): BtfType {
    if (id === 0) return {kind: 'void', id: 0, name: ''};
    if (id < this.firstId) {
      if (this.base && id > 0) return this.base.type(id);
      throw new ObjectError(`BTF type id ${id} does not exist`, {section: '.BTF'});
    }
    const i = id - this.firstId;
    if (!Number.isInteger(id) || i >= this.count) {
      throw new ObjectError(`BTF type id ${id} does not exist (the table has ${this.length - 1} types)`, {section: '.BTF'});
    }
    let t = this.decoded[i];
    if (!t) {
      t = this.decode(id, this.offsets![i]!);
      this.decoded[i] = t;
    }
    return t;
  }

  /** All types of this table (not the base's), in id order. */
  *types(): IterableIterator<BtfType> {
    for (let id = this.firstId; id < this.length; id++) yield this.type(id);
  }

  private decode(id: number, off: number): BtfType {
    const v = this.typeData!;
    const name = this.string(v.getUint32(off, true));
    const info = v.getUint32(off + 4, true);
    const kindNo = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kindFlag = (info >>> 31) === 1;
    const sizeOrType = v.getUint32(off + 8, true);
    const p = off + TYPE_HEADER_SIZE;
    const kind = KIND_NAMES[kindNo]!;
    switch (kind) {
      case 'int': {
        const enc = v.getUint32(p, true);
        const e = (enc >>> 24) & 0x0f;
        return {
          kind, id, name, size: sizeOrType, signed: (e & 1) !== 0, char: (e & 2) !== 0, bool: (e & 4) !== 0,
          bitOffset: (enc >>> 16) & 0xff, bits: enc & 0xff,
        };
      }
      case 'ptr': case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag':
        return kindFlag ? {kind, id, name, type: sizeOrType, kindFlag} : {kind, id, name, type: sizeOrType};
      case 'array':
        return {kind, id, name, type: v.getUint32(p, true), indexType: v.getUint32(p + 4, true), nelems: v.getUint32(p + 8, true)};
      case 'struct': case 'union': {
        const members: BtfMember[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const m = p + i * 12;
          const raw = v.getUint32(m + 8, true);
          members[i] = {
            name: this.string(v.getUint32(m, true)),
            type: v.getUint32(m + 4, true),
            bitOffset: kindFlag ? raw & 0xffffff : raw,
            bitfieldSize: kindFlag ? raw >>> 24 : 0,
          };
        }
        const t: BtfComposite = {kind, id, name, size: sizeOrType, members};
        if (kindFlag) t.kindFlag = true;
        return t;
      }
      case 'enum': {
        const values: {name: string; value: number}[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const e = p + i * 8;
          values[i] = {
            name: this.string(v.getUint32(e, true)),
            value: kindFlag ? v.getInt32(e + 4, true) : v.getUint32(e + 4, true),
          };
        }
        return {kind, id, name, size: sizeOrType, signed: kindFlag, values};
      }
      case 'enum64': {
        const values: {name: string; value: bigint}[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const e = p + i * 12;
          const u = (BigInt(v.getUint32(e + 8, true)) << 32n) | BigInt(v.getUint32(e + 4, true));
          values[i] = {name: this.string(v.getUint32(e, true)), value: kindFlag ? BigInt.asIntN(64, u) : u};
        }
        return {kind, id, name, size: sizeOrType, signed: kindFlag, values};
      }
      case 'fwd':
        return {kind, id, name, union: kindFlag};
      case 'func':
        return {kind, id, name, type: sizeOrType, linkage: vlen};
      case 'func_proto': {
        const params: {name: string; type: number}[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const q = p + i * 8;
          params[i] = {name: this.string(v.getUint32(q, true)), type: v.getUint32(q + 4, true)};
        }
        return {kind, id, name, returnType: sizeOrType, params};
      }
      case 'var':
        return {kind, id, name, type: sizeOrType, linkage: v.getUint32(p, true)};
      case 'datasec': {
        const vars: BtfVarSecinfo[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const q = p + i * 12;
          vars[i] = {type: v.getUint32(q, true), offset: v.getUint32(q + 4, true), size: v.getUint32(q + 8, true)};
        }
        return {kind, id, name, size: sizeOrType, vars};
      }
      case 'float':
        return {kind, id, name, size: sizeOrType};
      case 'decl_tag': {
        const t: BtfDeclTag = {kind, id, name, type: sizeOrType, componentIdx: v.getInt32(p, true)};
        if (kindFlag) t.kindFlag = true;
        return t;
      }
      default:
        throw new ObjectError(`BTF type ${id} has unknown kind ${kindNo}`, {section: '.BTF'});
    }
  }

  /**
   * Ids of this table's own types whose name passes `test`. A vmlinux table
   * has ~130k names and a tool looks up a handful, so rather than index them
   * all this finds the string offsets that can match (the string section is
   * searched for the name's bytes) and then the types naming those offsets.
   */
  private ownIdsNamed(name: string, test: (candidate: string) => boolean): number[] {
    const ids: number[] = [];
    if (!this.offsets) {
      this.decoded.forEach((t, i) => {
        if (t!.name && test(t!.name)) ids.push(this.firstId + i);
      });
      return ids;
    }
    const offsets = this.nameOffsets(name, test);
    if (offsets.size === 0) return ids;
    const names = this.typeNameOffsets();
    for (let i = 0; i < names.length; i++) {
      if (names[i] !== 0 && offsets.has(names[i]!)) ids.push(this.firstId + i);
    }
    return ids;
  }

  /** Each own type's name offset, read out once for the scans above. */
  private typeNameOffsets(): Uint32Array {
    if (!this.nameOffs) {
      this.nameOffs = new Uint32Array(this.count);
      for (let i = 0; i < this.count; i++) this.nameOffs[i] = this.typeData!.getUint32(this.offsets![i]!, true);
    }
    return this.nameOffs;
  }

  /** String offsets (base's included) of every string starting with `name` that passes `test`. */
  private nameOffsets(name: string, test: (candidate: string) => boolean): Set<number> {
    const found = this.base ? this.base.nameOffsets(name, test) : new Set<number>();
    const needle = Buffer.from(name, 'utf8');
    if (needle.length === 0) return found;
    for (let at = this.strings.indexOf(needle); at >= 0; at = this.strings.indexOf(needle, at + 1)) {
      const next = this.strings[at + needle.length];
      // Only the name itself or the name with a flavour suffix can pass.
      if (next !== 0 && next !== 95) continue;
      const end = this.strings.indexOf(0, at + needle.length);
      if (test(this.strings.toString('utf8', at, end < 0 ? this.strings.length : end))) found.add(this.stringBase + at);
    }
    return found;
  }

  /** Ids of every type with exactly this name (base types first). */
  idsByName(name: string): number[] {
    let ids = this.byName.get(name);
    if (!ids) {
      const own = name ? this.ownIdsNamed(name, (n) => n === name) : [];
      ids = this.base ? [...this.base.idsByName(name), ...own] : own;
      this.byName.set(name, ids);
    }
    return ids.slice();
  }

  /** Ids of every named type whose essential name (flavour suffix removed) is `name`. */
  idsByEssentialName(name: string): number[] {
    let ids = this.byEssentialName.get(name);
    if (!ids) {
      const own = name ? this.ownIdsNamed(name, (n) => essentialName(n) === name) : [];
      ids = this.base ? [...this.base.idsByEssentialName(name), ...own] : own;
      this.byEssentialName.set(name, ids);
    }
    return ids.slice();
  }

  /** The first type with this name, optionally of one of the given kinds. */
  find(name: string, kinds?: BtfKind | readonly BtfKind[]): BtfType | undefined {
    const want = kinds === undefined ? undefined : new Set(typeof kinds === 'string' ? [kinds] : kinds);
    for (const id of this.idsByName(name)) {
      const t = this.type(id);
      if (!want || want.has(t.kind)) return t;
    }
    return undefined;
  }

  /** Skips const/volatile/restrict/type_tag; returns the id reached. */
  skipQualifiers(id: number): number {
    for (let depth = 0; depth < 64; depth++) {
      const t = this.type(id);
      if (!QUALIFIERS.has(t.kind)) return id;
      id = (t as BtfRef).type;
    }
    throw new ObjectError(`BTF type ${id}: qualifier chain too long (a loop?)`, {section: '.BTF'});
  }

  /** Skips qualifiers and typedefs; returns the id reached. */
  resolve(id: number): number {
    for (let depth = 0; depth < 64; depth++) {
      const t = this.type(id);
      if (!QUALIFIERS.has(t.kind) && t.kind !== 'typedef') return id;
      id = (t as BtfRef).type;
    }
    throw new ObjectError(`BTF type ${id}: typedef/qualifier chain too long (a loop?)`, {section: '.BTF'});
  }

  /** Size in bytes of a value of the type (pointers are 8 bytes on BPF). */
  sizeof(id: number): number {
    let mult = 1;
    for (let depth = 0; depth < 64; depth++) {
      const t = this.type(id);
      switch (t.kind) {
        case 'int': case 'enum': case 'enum64': case 'struct': case 'union': case 'float': case 'datasec':
          return mult * t.size;
        case 'ptr':
          return mult * 8;
        case 'array':
          mult *= t.nelems;
          id = t.type;
          break;
        case 'typedef': case 'const': case 'volatile': case 'restrict': case 'type_tag': case 'var':
          id = t.type;
          break;
        default:
          throw new ObjectError(`BTF type ${t.id} (${this.describe(t.id)}) has no size`, {section: '.BTF'});
      }
    }
    throw new ObjectError(`BTF type ${id}: type chain too long (a loop?)`, {section: '.BTF'});
  }

  /** Natural alignment in bytes. */
  alignof(id: number): number {
    const t = this.type(this.resolve(id));
    switch (t.kind) {
      case 'int': case 'enum': case 'enum64': case 'float':
        return Math.min(Math.max(t.size, 1), 8);
      case 'ptr':
        return 8;
      case 'array':
        return this.alignof(t.type);
      case 'struct': case 'union':
        return t.members.reduce((a, m) => Math.max(a, this.alignof(m.type)), 1);
      case 'var':
        return this.alignof(t.type);
      default:
        return 1;
    }
  }

  /** Human-readable name: `struct task_struct`, `int`, `const char *`, `u32[4]`. */
  describe(id: number, depth = 0): string {
    if (depth > 8) return '...';
    const t = this.type(id);
    switch (t.kind) {
      case 'void': return 'void';
      case 'struct': case 'union': case 'enum': return `${t.kind === 'enum' ? 'enum' : t.kind} ${t.name || '(anon)'}`;
      case 'enum64': return `enum ${t.name || '(anon)'}`;
      case 'fwd': return `${t.union ? 'union' : 'struct'} ${t.name}`;
      case 'ptr': return `${this.describe(t.type, depth + 1)} *`;
      case 'array': return `${this.describe(t.type, depth + 1)}[${t.nelems}]`;
      case 'const': case 'volatile': case 'restrict': return `${t.kind} ${this.describe(t.type, depth + 1)}`;
      case 'type_tag': return `${this.describe(t.type, depth + 1)} __tag(${t.name})`;
      case 'func_proto': return `${this.describe(t.returnType, depth + 1)} (*)(${t.params.map((p) => this.describe(p.type, depth + 1)).join(', ')})`;
      case 'datasec': return `section ${t.name}`;
      default: return t.name || `(anon ${t.kind})`;
    }
  }

  /** A copy of this table with some types replaced (same ids). */
  withTypes(replacements: ReadonlyMap<number, BtfType>): Btf {
    if (this.base) throw new ObjectError('editing split BTF is not supported', {section: '.BTF'});
    const types: BtfType[] = [];
    for (let id = 1; id < this.length; id++) {
      const r = replacements.get(id);
      types.push(r ? {...r, id} : this.type(id));
    }
    return new Btf({strings: this.strings, decoded: types, count: types.length});
  }

  /** Serialises the table: the header, every type, the original strings plus any new names. */
  encode(): Buffer {
    const strings = new StringTableBuilder(this.strings);
    const sb = this.stringBase;
    const name = (s: string) => (s === '' ? 0 : sb + strings.add(s));
    let size = 0;
    for (let id = this.firstId; id < this.length; id++) {
      const t = this.type(id);
      size += TYPE_HEADER_SIZE + trailingSize(BtfKindNumber[t.kind as Exclude<BtfKind, 'void'>], vlenOf(t));
    }
    const typeBuf = Buffer.alloc(size);
    const v = new DataView(typeBuf.buffer, typeBuf.byteOffset, typeBuf.byteLength);
    let off = 0;
    for (let id = this.firstId; id < this.length; id++) {
      off = encodeType(v, off, this.type(id), name);
    }
    const str = strings.build();
    const header = Buffer.alloc(HEADER_SIZE);
    header.writeUInt16LE(BTF_MAGIC, 0);
    header.writeUInt8(1, 2);
    header.writeUInt8(0, 3);
    header.writeUInt32LE(HEADER_SIZE, 4);
    header.writeUInt32LE(0, 8);
    header.writeUInt32LE(typeBuf.length, 12);
    header.writeUInt32LE(typeBuf.length, 16);
    header.writeUInt32LE(str.length, 20);
    return Buffer.concat([header, typeBuf, str]);
  }
}

function vlenOf(t: BtfType): number {
  switch (t.kind) {
    case 'struct': case 'union': return t.members.length;
    case 'enum': case 'enum64': return t.values.length;
    case 'func_proto': return t.params.length;
    case 'datasec': return t.vars.length;
    case 'func': return t.linkage;
    default: return 0;
  }
}

function encodeType(v: DataView, off: number, t: BtfType, name: (s: string) => number): number {
  if (t.kind === 'void') throw new ObjectError('cannot encode void as a BTF type', {section: '.BTF'});
  const kindNo = BtfKindNumber[t.kind];
  const vlen = vlenOf(t);
  if (vlen > 0xffff) throw new ObjectError(`BTF type ${t.id} has too many entries (${vlen})`, {section: '.BTF'});
  let kindFlag = t.kindFlag === true;
  let sizeOrType = 0;
  switch (t.kind) {
    case 'int': case 'struct': case 'union': case 'enum': case 'enum64': case 'datasec': case 'float':
      sizeOrType = t.size;
      break;
    case 'ptr': case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag':
    case 'func': case 'var': case 'decl_tag':
      sizeOrType = t.type;
      break;
    case 'func_proto':
      sizeOrType = t.returnType;
      break;
    case 'array': case 'fwd':
      break;
  }
  if (t.kind === 'struct' || t.kind === 'union') kindFlag ||= t.members.some((m) => m.bitfieldSize > 0);
  if (t.kind === 'enum' || t.kind === 'enum64') kindFlag = t.signed;
  if (t.kind === 'fwd') kindFlag = t.union;
  v.setUint32(off, name(t.name), true);
  v.setUint32(off + 4, ((kindFlag ? 1 : 0) << 31 | kindNo << 24 | vlen) >>> 0, true);
  v.setUint32(off + 8, sizeOrType >>> 0, true);
  let p = off + TYPE_HEADER_SIZE;
  switch (t.kind) {
    case 'int': {
      const e = (t.signed ? 1 : 0) | (t.char ? 2 : 0) | (t.bool ? 4 : 0);
      v.setUint32(p, (e << 24 | (t.bitOffset & 0xff) << 16 | (t.bits & 0xff)) >>> 0, true);
      p += 4;
      break;
    }
    case 'array':
      v.setUint32(p, t.type, true);
      v.setUint32(p + 4, t.indexType, true);
      v.setUint32(p + 8, t.nelems, true);
      p += 12;
      break;
    case 'struct': case 'union':
      for (const m of t.members) {
        v.setUint32(p, name(m.name), true);
        v.setUint32(p + 4, m.type, true);
        v.setUint32(p + 8, (kindFlag ? (m.bitfieldSize << 24 | (m.bitOffset & 0xffffff)) : m.bitOffset) >>> 0, true);
        p += 12;
      }
      break;
    case 'enum':
      for (const e of t.values) {
        v.setUint32(p, name(e.name), true);
        v.setUint32(p + 4, e.value >>> 0, true);
        p += 8;
      }
      break;
    case 'enum64':
      for (const e of t.values) {
        const u = BigInt.asUintN(64, e.value);
        v.setUint32(p, name(e.name), true);
        v.setUint32(p + 4, Number(u & 0xffffffffn), true);
        v.setUint32(p + 8, Number(u >> 32n), true);
        p += 12;
      }
      break;
    case 'func_proto':
      for (const q of t.params) {
        v.setUint32(p, name(q.name), true);
        v.setUint32(p + 4, q.type, true);
        p += 8;
      }
      break;
    case 'var':
      v.setUint32(p, t.linkage, true);
      p += 4;
      break;
    case 'datasec':
      for (const s of t.vars) {
        v.setUint32(p, s.type, true);
        v.setUint32(p + 4, s.offset, true);
        v.setUint32(p + 8, s.size, true);
        p += 12;
      }
      break;
    case 'decl_tag':
      v.setInt32(p, t.componentIdx, true);
      p += 4;
      break;
    default:
      break;
  }
  return p;
}
