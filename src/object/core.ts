// CO-RE: rewrite the field offsets, sizes, existence checks, type ids and
// enum values clang recorded against the program's own BTF so they match the
// target kernel's BTF. An instruction that cannot be relocated is replaced by
// a call to an invalid helper (POISON_CALL_IMM); it only fails the load if
// the verifier reaches it, and the report says why.

import {CORE_RELO_KIND_NAMES, CoreReloKind, type CoreReloKindName} from './btf-ext.js';
import {essentialName, type Btf, type BtfMember, type BtfType} from './btf.js';
import {ObjectError} from './errors.js';
import {
  BPF_ALU, BPF_ALU64, BPF_K, BPF_LDX, BPF_MEM, BPF_ST, BPF_STX, Insns, POISON_CALL_IMM,
  insnClass, insnMode, sizeBytesOfCode, sizeCodeOfBytes,
} from './insn.js';
import type {CoreRelocation} from './types.js';

export interface CoreRelocationResult {
  insnIndex: number;
  kind: CoreReloKindName;
  /** Local root type, e.g. `struct task_struct`. */
  localType: string;
  accessStr: string;
  /** Readable access path, e.g. `task_struct.real_parent`, `enum state::RUNNING`. */
  access: string;
  /** False when the instruction was poisoned. */
  resolved: boolean;
  localValue?: number;
  /** The value written into the instruction. */
  targetValue?: number;
  /** The target type the relocation matched (0 when none matched). */
  targetTypeId?: number;
  /** Why the relocation failed (resolved=false): names the type and field. */
  reason?: string;
}

export interface CoreReport {
  /** The program's instructions with CO-RE applied (a copy). */
  insns: Buffer;
  results: CoreRelocationResult[];
  /** The failed subset of `results`, in instruction order. */
  poisoned: CoreRelocationResult[];
}

const FIELD_KINDS = new Set<number>([
  CoreReloKind.FIELD_BYTE_OFFSET, CoreReloKind.FIELD_BYTE_SIZE, CoreReloKind.FIELD_EXISTS,
  CoreReloKind.FIELD_SIGNED, CoreReloKind.FIELD_LSHIFT_U64, CoreReloKind.FIELD_RSHIFT_U64,
]);
const TYPE_KINDS = new Set<number>([
  CoreReloKind.TYPE_ID_LOCAL, CoreReloKind.TYPE_ID_TARGET, CoreReloKind.TYPE_EXISTS,
  CoreReloKind.TYPE_SIZE, CoreReloKind.TYPE_MATCHES,
]);
const ENUM_KINDS = new Set<number>([CoreReloKind.ENUMVAL_EXISTS, CoreReloKind.ENUMVAL_VALUE]);
const EXISTS_KINDS = new Set<number>([
  CoreReloKind.FIELD_EXISTS, CoreReloKind.TYPE_EXISTS, CoreReloKind.TYPE_MATCHES, CoreReloKind.ENUMVAL_EXISTS,
]);

/** Thrown inside the resolver for a relocation that must be poisoned. */
class Unresolvable extends Error {}

/** One step of a parsed access string. */
interface Step {
  /** The struct/union/array (resolved id) being indexed. */
  parent: number;
  index: number;
  /** Member name; undefined for an array index. */
  name?: string;
  member?: BtfMember;
}

/** Where a field access ends up. */
interface FieldPlace {
  bitOffset: number;
  /** The field's type id (unresolved). */
  type: number;
  /** Bitfield width, 0 for an ordinary field. */
  bitfieldSize: number;
}

function parseAccess(accessStr: string): number[] {
  if (!/^\d+(:\d+)*$/.test(accessStr)) throw new Unresolvable(`malformed access string "${accessStr}"`);
  return accessStr.split(':').map(Number);
}

/** Walks the local access path (pure index-based). */
function localField(btf: Btf, rootId: number, access: number[]): {steps: Step[]; place: FieldPlace} {
  const root = btf.resolve(rootId);
  let bitOffset = access[0]! * btf.sizeof(root) * 8;
  let cur = rootId;
  let bitfieldSize = 0;
  const steps: Step[] = [];
  for (let k = 1; k < access.length; k++) {
    const idx = access[k]!;
    const id = btf.resolve(cur);
    const t = btf.type(id);
    if (t.kind === 'struct' || t.kind === 'union') {
      const m = t.members[idx];
      if (!m) throw new Unresolvable(`access string index ${idx} is past the ${t.members.length} members of ${btf.describe(id)}`);
      bitOffset += m.bitOffset;
      bitfieldSize = m.bitfieldSize;
      steps.push({parent: id, index: idx, name: m.name, member: m});
      cur = m.type;
    } else if (t.kind === 'array') {
      bitOffset += idx * btf.sizeof(t.type) * 8;
      bitfieldSize = 0;
      steps.push({parent: id, index: idx});
      cur = t.type;
    } else {
      throw new Unresolvable(`access string goes into ${btf.describe(id)}, which has no fields`);
    }
  }
  return {steps, place: {bitOffset, type: cur, bitfieldSize}};
}

function describeAccess(btf: Btf, rootId: number, access: number[], steps: Step[]): string {
  const root = btf.type(btf.resolve(rootId));
  let s = root.name || btf.describe(rootId);
  if (access[0]) s += `[${access[0]}]`;
  for (const st of steps) s += st.name === undefined ? `[${st.index}]` : st.name ? `.${st.name}` : `.<anon#${st.index}>`;
  return s;
}

/** Finds a named member in a composite, descending into anonymous struct/union members. */
function findMember(btf: Btf, compositeId: number, name: string, depth = 0): {bitOffset: number; member: BtfMember} | undefined {
  if (depth > 32) return undefined;
  const t = btf.type(compositeId);
  if (t.kind !== 'struct' && t.kind !== 'union') return undefined;
  for (const m of t.members) {
    if (m.name === name) return {bitOffset: m.bitOffset, member: m};
  }
  for (const m of t.members) {
    if (m.name) continue;
    const inner = btf.resolve(m.type);
    const found = findMember(btf, inner, name, depth + 1);
    if (found) return {bitOffset: m.bitOffset + found.bitOffset, member: found.member};
  }
  return undefined;
}

const isComposite = (t: BtfType) => t.kind === 'struct' || t.kind === 'union';
const isEnum = (t: BtfType) => t.kind === 'enum' || t.kind === 'enum64';

function namesMatch(a: string, b: string): boolean {
  return !a || essentialName(a) === essentialName(b);
}

/** Whether a local field type can be read as the target field type. */
function fieldsCompatible(local: Btf, lid: number, target: Btf, tid: number, depth = 0): boolean {
  if (depth > 32) return false;
  const l = local.type(local.resolve(lid));
  const t = target.type(target.resolve(tid));
  if (isComposite(l) && isComposite(t)) return true;
  if (l.kind === 'fwd' || t.kind === 'fwd') {
    return (l.kind === 'fwd' || isComposite(l)) && (t.kind === 'fwd' || isComposite(t)) && namesMatch(l.name, t.name);
  }
  if (isEnum(l) && isEnum(t)) return namesMatch(l.name, t.name);
  if (l.kind !== t.kind) return false;
  switch (l.kind) {
    case 'ptr': case 'float': return true;
    case 'int': return l.bitOffset === 0 && (t as typeof l).bitOffset === 0;
    case 'array': return fieldsCompatible(local, l.type, target, (t as typeof l).type, depth + 1);
    default: return false;
  }
}

/** bpf_core_type_exists()-style compatibility (shape, not member names). */
function typesCompatible(local: Btf, lid: number, target: Btf, tid: number, depth = 0): boolean {
  if (depth > 32) return false;
  const l = local.type(local.resolve(lid));
  const t = target.type(target.resolve(tid));
  if (isEnum(l) && isEnum(t)) return true;
  if (l.kind !== t.kind) return false;
  switch (l.kind) {
    case 'void': case 'struct': case 'union': case 'fwd': case 'enum': case 'enum64': case 'float':
      return true;
    case 'int': return l.bitOffset === 0 && (t as typeof l).bitOffset === 0;
    case 'ptr': return typesCompatible(local, l.type, target, (t as typeof l).type, depth + 1);
    case 'array': return typesCompatible(local, l.type, target, (t as typeof l).type, depth + 1);
    case 'func_proto': {
      const tt = t as typeof l;
      if (l.params.length !== tt.params.length) return false;
      if (!typesCompatible(local, l.returnType, target, tt.returnType, depth + 1)) return false;
      return l.params.every((p, i) => typesCompatible(local, p.type, target, tt.params[i]!.type, depth + 1));
    }
    default: return false;
  }
}

/** bpf_core_type_matches(): stricter — every local member/enumerator must exist with matching type. */
function typesMatch(local: Btf, lid: number, target: Btf, tid: number, depth = 0): boolean {
  if (depth > 16) return true;
  const l = local.type(local.skipQualifiers(lid));
  const t = target.type(target.skipQualifiers(tid));
  if (l.kind === 'typedef' || t.kind === 'typedef') {
    if (l.kind !== t.kind || !namesMatch(l.name, t.name)) return false;
    return typesMatch(local, (l as {type: number}).type, target, (t as {type: number}).type, depth + 1);
  }
  if (isEnum(l) && isEnum(t)) {
    const lv = (l as {values: {name: string}[]}).values;
    const tv = new Set((t as {values: {name: string}[]}).values.map((e) => essentialName(e.name)));
    return namesMatch(l.name, t.name) && lv.every((e) => tv.has(essentialName(e.name)));
  }
  if (l.kind === 'fwd' || t.kind === 'fwd') {
    return (l.kind === 'fwd' || isComposite(l)) && (t.kind === 'fwd' || isComposite(t)) && namesMatch(l.name, t.name);
  }
  if (l.kind !== t.kind) return false;
  switch (l.kind) {
    case 'void': return true;
    case 'int': return l.size === (t as typeof l).size && l.signed === (t as typeof l).signed;
    case 'float': return l.size === (t as typeof l).size;
    case 'ptr': return typesMatch(local, l.type, target, (t as typeof l).type, depth + 1);
    case 'array': return l.nelems === (t as typeof l).nelems && typesMatch(local, l.type, target, (t as typeof l).type, depth + 1);
    case 'struct': case 'union': {
      if (!namesMatch(l.name, t.name)) return false;
      const tt = t as typeof l;
      return l.members.every((m) => {
        const found = m.name ? tt.members.find((x) => x.name === m.name) : undefined;
        return found !== undefined && found.bitfieldSize === m.bitfieldSize && typesMatch(local, m.type, target, found.type, depth + 1);
      });
    }
    case 'func_proto': {
      const tt = t as typeof l;
      return l.params.length === tt.params.length &&
        typesMatch(local, l.returnType, target, tt.returnType, depth + 1) &&
        l.params.every((p, i) => typesMatch(local, p.type, target, tt.params[i]!.type, depth + 1));
    }
    default: return false;
  }
}

/** Follows the local access path by member name in a target candidate. */
function targetField(local: Btf, target: Btf, targetRoot: number, access: number[], steps: Step[]): FieldPlace | undefined {
  let bitOffset = access[0]! * target.sizeof(target.resolve(targetRoot)) * 8;
  let cur = targetRoot;
  let bitfieldSize = 0;
  for (let k = 0; k < steps.length; k++) {
    const st = steps[k]!;
    const tcur = target.resolve(cur);
    const t = target.type(tcur);
    if (st.name === undefined) {
      // Array index.
      if (t.kind !== 'array') return undefined;
      const lt = local.type(st.parent);
      const flexible = t.nelems === 0 || (lt.kind === 'array' && lt.nelems === 0);
      if (!flexible && st.index >= t.nelems) return undefined;
      bitOffset += st.index * target.sizeof(t.type) * 8;
      bitfieldSize = 0;
      cur = t.type;
      continue;
    }
    if (!isComposite(t)) return undefined;
    let found: {bitOffset: number; member: BtfMember} | undefined;
    if (st.name === '') {
      // Anonymous member: the next named step is searched through it; only a
      // trailing anonymous member is matched by position.
      if (k < steps.length - 1) continue;
      const m = (t as {members: BtfMember[]}).members[st.index];
      found = m && !m.name ? {bitOffset: m.bitOffset, member: m} : undefined;
    } else {
      found = findMember(target, tcur, st.name);
    }
    if (!found) return undefined;
    if (!fieldsCompatible(local, st.member!.type, target, found.member.type)) return undefined;
    bitOffset += found.bitOffset;
    bitfieldSize = found.member.bitfieldSize;
    cur = found.member.type;
  }
  return {bitOffset, type: cur, bitfieldSize};
}

/** The value a field relocation of `kind` takes for a field placed at `p` in `btf`. */
function fieldValue(btf: Btf, kind: number, p: FieldPlace, what: string): number {
  if (kind === CoreReloKind.FIELD_EXISTS) return 1;
  const ft = btf.type(btf.resolve(p.type));
  if (kind === CoreReloKind.FIELD_SIGNED) {
    return (ft.kind === 'int' && ft.signed) || (isEnum(ft) && (ft as {signed: boolean}).signed) ? 1 : 0;
  }
  let byteOff: number;
  let byteSize: number;
  let bitSize: number;
  if (p.bitfieldSize === 0) {
    if (p.bitOffset % 8 !== 0) throw new Unresolvable(`${what} is not byte-aligned`);
    byteOff = p.bitOffset / 8;
    byteSize = btf.sizeof(p.type);
    bitSize = byteSize * 8;
  } else {
    if (ft.kind !== 'int' && !isEnum(ft)) throw new Unresolvable(`${what} is a bitfield of non-integer type`);
    bitSize = p.bitfieldSize;
    byteSize = (ft as {size: number}).size;
    byteOff = Math.floor(p.bitOffset / 8 / byteSize) * byteSize;
    // Smallest aligned load that holds every bit of the field.
    while (p.bitOffset + bitSize - byteOff * 8 > byteSize * 8) {
      if (byteSize >= 8) throw new Unresolvable(`${what}: bitfield cannot be read with one load`);
      byteSize *= 2;
      byteOff = Math.floor(p.bitOffset / 8 / byteSize) * byteSize;
    }
  }
  switch (kind) {
    case CoreReloKind.FIELD_BYTE_OFFSET: return byteOff;
    case CoreReloKind.FIELD_BYTE_SIZE: return byteSize;
    case CoreReloKind.FIELD_LSHIFT_U64: return 64 - (p.bitOffset + bitSize - byteOff * 8);
    case CoreReloKind.FIELD_RSHIFT_U64: return 64 - bitSize;
    default: throw new Unresolvable(`unknown field relocation kind ${kind}`);
  }
}

interface Outcome {
  value: number;
  targetTypeId: number;
  /** For FIELD_BYTE_OFFSET on a memory access: the field's size here and in the target, and whether the load size may follow it. */
  localFieldSize?: number;
  fieldSize?: number;
  sizeAdjustable?: boolean;
}

function enumValueNumber(v: number | bigint, what: string): number {
  if (typeof v === 'number') return v;
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new Unresolvable(`${what}: 64-bit enum value ${v} is too large to relocate`);
  }
  return Number(v);
}

/** Memo of target candidates per (kind class, local essential name, local kind). */
type CandidateCache = Map<string, number[]>;

function candidates(local: Btf, target: Btf, rootId: number, cache: CandidateCache, kinds: 'field' | 'type' | 'enum'): number[] {
  const l = local.type(kinds === 'type' ? rootId : local.resolve(rootId));
  const name = essentialName(l.name);
  const key = `${kinds}:${l.kind}:${name}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const out = target.idsByEssentialName(name).filter((id) => {
    const t = target.type(id);
    if (isEnum(l)) return isEnum(t);
    if (l.kind === 'fwd' || t.kind === 'fwd') return kinds === 'type' && (isComposite(t) || t.kind === 'fwd') && (isComposite(l) || l.kind === 'fwd');
    return t.kind === l.kind;
  });
  cache.set(key, out);
  return out;
}

function resolveOne(
  relo: CoreRelocation, local: Btf, target: Btf | undefined, cache: CandidateCache,
): {result: Omit<CoreRelocationResult, 'insnIndex' | 'resolved'>; outcome?: Outcome; failure?: string; noValidate?: boolean} {
  const kindName = CORE_RELO_KIND_NAMES[relo.kind];
  if (kindName === undefined) throw new Unresolvable(`unknown CO-RE relocation kind ${relo.kind}`);
  if (!local.has(relo.typeId) || relo.typeId === 0) throw new Unresolvable(`local type id ${relo.typeId} does not exist`);
  const access = parseAccess(relo.accessStr);
  const localType = local.describe(local.resolve(relo.typeId));
  const base = {kind: kindName, localType, accessStr: relo.accessStr};

  if (FIELD_KINDS.has(relo.kind)) {
    const {steps, place} = localField(local, relo.typeId, access);
    const what = describeAccess(local, relo.typeId, access, steps);
    const result = {...base, access: what};
    const localValue = fieldValue(local, relo.kind, place, what);
    if (!target) return {result: {...result, localValue}, failure: `the target kernel has no BTF, so ${what} cannot be located`};
    const root = local.type(local.resolve(relo.typeId));
    if (!root.name) return {result: {...result, localValue}, failure: `${what}: the root type is anonymous and cannot be matched`};
    const found: {id: number; place: FieldPlace}[] = [];
    for (const id of candidates(local, target, relo.typeId, cache, 'field')) {
      const p = targetField(local, target, id, access, steps);
      if (p) found.push({id, place: p});
    }
    if (found.length === 0) {
      if (relo.kind === CoreReloKind.FIELD_EXISTS) return {result: {...result, localValue}, outcome: {value: 0, targetTypeId: 0}};
      const any = candidates(local, target, relo.typeId, cache, 'field').length > 0;
      return {result: {...result, localValue}, failure: any
        ? `field ${what} does not exist in the target kernel's ${localType} (or has an incompatible type)`
        : `type ${localType} does not exist in the target kernel's BTF (needed for ${what})`};
    }
    const values = found.map((f) => fieldValue(target, relo.kind, f.place, what));
    if (values.some((v) => v !== values[0])) {
      return {result: {...result, localValue}, failure: `${what} is ambiguous: ${found.length} target types named ${essentialName(root.name)} give different results (${values.join(', ')})`};
    }
    const f = found[0]!;
    const outcome: Outcome = {value: values[0]!, targetTypeId: f.id};
    // clang's own value for a bitfield load is not necessarily ours: do not check it.
    if (place.bitfieldSize > 0) return {result: {...result, localValue}, outcome, noValidate: true};
    if (relo.kind === CoreReloKind.FIELD_BYTE_OFFSET) {
      const lt = local.type(local.resolve(place.type));
      const tt = target.type(target.resolve(f.place.type));
      outcome.localFieldSize = local.sizeof(place.type);
      outcome.fieldSize = f.place.bitfieldSize ? 0 : target.sizeof(f.place.type);
      outcome.sizeAdjustable = (lt.kind === 'int' || lt.kind === 'ptr' || isEnum(lt)) && (tt.kind === 'int' || tt.kind === 'ptr' || isEnum(tt));
    }
    return {result: {...result, localValue}, outcome};
  }

  if (TYPE_KINDS.has(relo.kind)) {
    const what = local.describe(relo.typeId);
    const result = {...base, access: what};
    if (access.length !== 1 || access[0] !== 0) throw new Unresolvable(`type relocation with access string "${relo.accessStr}" (expected "0")`);
    const localValue = relo.kind === CoreReloKind.TYPE_ID_LOCAL || relo.kind === CoreReloKind.TYPE_ID_TARGET
      ? relo.typeId
      : relo.kind === CoreReloKind.TYPE_SIZE ? local.sizeof(relo.typeId) : 1;
    if (relo.kind === CoreReloKind.TYPE_ID_LOCAL) return {result: {...result, localValue}, outcome: {value: relo.typeId, targetTypeId: 0}};
    if (!target) return {result: {...result, localValue}, failure: `the target kernel has no BTF, so ${what} cannot be looked up`};
    const lt = local.type(relo.typeId);
    if (!lt.name) return {result: {...result, localValue}, failure: `${what} is anonymous and cannot be matched`};
    const match = relo.kind === CoreReloKind.TYPE_MATCHES ? typesMatch : typesCompatible;
    const found = candidates(local, target, relo.typeId, cache, 'type').filter((id) => match(local, relo.typeId, target, id));
    if (found.length === 0) {
      if (EXISTS_KINDS.has(relo.kind)) return {result: {...result, localValue}, outcome: {value: 0, targetTypeId: 0}};
      return {result: {...result, localValue}, failure: `type ${what} does not exist in the target kernel's BTF`};
    }
    const valueOf = (id: number) => relo.kind === CoreReloKind.TYPE_ID_TARGET ? id
      : relo.kind === CoreReloKind.TYPE_SIZE ? target.sizeof(id) : 1;
    const values = found.map(valueOf);
    if (relo.kind !== CoreReloKind.TYPE_ID_TARGET && values.some((v) => v !== values[0])) {
      return {result: {...result, localValue}, failure: `${what} is ambiguous: ${found.length} target types give different results (${values.join(', ')})`};
    }
    return {result: {...result, localValue}, outcome: {value: values[0]!, targetTypeId: found[0]!}};
  }

  if (ENUM_KINDS.has(relo.kind)) {
    const lid = local.resolve(relo.typeId);
    const le = local.type(lid);
    if (!isEnum(le)) throw new Unresolvable(`enum relocation on ${local.describe(lid)}, which is not an enum`);
    const values = (le as {values: {name: string; value: number | bigint}[]}).values;
    if (access.length !== 1 || access[0]! >= values.length) throw new Unresolvable(`enum relocation index "${relo.accessStr}" is past the ${values.length} values of ${local.describe(lid)}`);
    const lv = values[access[0]!]!;
    const what = `${local.describe(lid)}::${lv.name}`;
    const result = {...base, access: what};
    const localValue = relo.kind === CoreReloKind.ENUMVAL_EXISTS ? 1 : enumValueNumber(lv.value, what);
    if (!target) return {result: {...result, localValue}, failure: `the target kernel has no BTF, so ${what} cannot be looked up`};
    if (!le.name) return {result: {...result, localValue}, failure: `${what}: the enum is anonymous and cannot be matched`};
    const want = essentialName(lv.name);
    const found: {id: number; value: number | bigint}[] = [];
    for (const id of candidates(local, target, relo.typeId, cache, 'enum')) {
      const te = target.type(id) as {values: {name: string; value: number | bigint}[]};
      const hit = te.values.find((e) => essentialName(e.name) === want);
      if (hit) found.push({id, value: hit.value});
    }
    if (found.length === 0) {
      if (relo.kind === CoreReloKind.ENUMVAL_EXISTS) return {result: {...result, localValue}, outcome: {value: 0, targetTypeId: 0}};
      return {result: {...result, localValue}, failure: `enum value ${what} does not exist in the target kernel's BTF`};
    }
    const nums = found.map((f) => relo.kind === CoreReloKind.ENUMVAL_EXISTS ? 1 : enumValueNumber(f.value, what));
    if (nums.some((v) => v !== nums[0])) {
      return {result: {...result, localValue}, failure: `${what} is ambiguous: target enums give different values (${nums.join(', ')})`};
    }
    return {result: {...result, localValue}, outcome: {value: nums[0]!, targetTypeId: found[0]!.id}};
  }
  throw new Unresolvable(`unknown CO-RE relocation kind ${relo.kind}`);
}

/** Writes the relocated value into the instruction; returns a failure reason or undefined. */
function patch(insns: Insns, i: number, relo: CoreRelocation, localValue: number | undefined, o: Outcome, what: string): string | undefined {
  if (i < 0 || i >= insns.count) return `instruction ${i} is outside the program`;
  const code = insns.code(i);
  const cls = insnClass(code);
  if ((cls === BPF_ALU || cls === BPF_ALU64) && (code & 0x08) === BPF_K) {
    if (localValue !== undefined && insns.imm(i) !== (localValue | 0)) {
      return `${what}: instruction immediate ${insns.imm(i)} is not the value clang computed (${localValue})`;
    }
    if (o.value > 0x7fffffff || o.value < -0x80000000) return `${what}: value ${o.value} does not fit a 32-bit immediate`;
    insns.setImm(i, o.value);
    return undefined;
  }
  if ((cls === BPF_LDX || cls === BPF_ST || cls === BPF_STX) && insnMode(code) === BPF_MEM) {
    if (relo.kind !== CoreReloKind.FIELD_BYTE_OFFSET) return `${what}: a ${CORE_RELO_KIND_NAMES[relo.kind]} relocation cannot patch a memory access`;
    if (localValue !== undefined && insns.off(i) !== localValue) {
      return `${what}: instruction offset ${insns.off(i)} is not the offset clang computed (${localValue})`;
    }
    if (o.value > 0x7fff) return `${what}: offset ${o.value} does not fit an instruction's 16-bit offset`;
    if (o.fieldSize && o.localFieldSize && o.fieldSize !== o.localFieldSize) {
      // The field changed size: a load/store of the whole field follows it.
      const insnSize = sizeBytesOfCode(code);
      const sizeCode = sizeCodeOfBytes(o.fieldSize);
      if (!o.sizeAdjustable || insnSize !== o.localFieldSize || sizeCode === undefined) {
        return `${what}: the field is ${o.fieldSize} bytes in the target kernel but ${o.localFieldSize} in the program, and the ${insnSize}-byte access cannot be adjusted`;
      }
      insns.setCode(i, (code & ~0x18) | sizeCode);
    }
    insns.setOff(i, o.value);
    return undefined;
  }
  if (insns.isLdImm64(i) && i + 1 < insns.count) {
    insns.setImm64(i, BigInt(o.value));
    return undefined;
  }
  return `${what}: cannot relocate instruction with opcode 0x${code.toString(16)}`;
}

/**
 * Applies a program's CO-RE relocations against the target kernel's BTF
 * (`targetBtf` undefined: the target has none — field and type relocations
 * fail, TYPE_ID_LOCAL still works). Never throws for a relocation that does
 * not resolve: that instruction is poisoned and the report says why.
 */
export function relocateCore(
  prog: {name?: string; insns: Buffer; coreRelocations: readonly CoreRelocation[]},
  localBtf: Btf | undefined,
  targetBtf: Btf | undefined,
): CoreReport {
  const insns = new Insns(Buffer.from(prog.insns));
  const results: CoreRelocationResult[] = [];
  if (prog.coreRelocations.length && !localBtf) {
    throw new ObjectError('program has CO-RE relocations but the object has no BTF', prog.name ? {symbol: prog.name} : {});
  }
  const cache: CandidateCache = new Map();
  for (const relo of prog.coreRelocations) {
    const kindName = CORE_RELO_KIND_NAMES[relo.kind] ?? (`#${relo.kind}` as CoreReloKindName);
    let entry: CoreRelocationResult;
    try {
      const r = resolveOne(relo, localBtf!, targetBtf, cache);
      entry = {insnIndex: relo.insnIndex, ...r.result, resolved: false};
      let failure = r.failure;
      if (!failure && r.outcome) {
        failure = patch(insns, relo.insnIndex, relo, r.noValidate ? undefined : r.result.localValue, r.outcome, r.result.access);
        if (!failure) {
          entry.resolved = true;
          entry.targetValue = r.outcome.value;
          entry.targetTypeId = r.outcome.targetTypeId;
        }
      }
      if (failure) entry.reason = failure;
    } catch (e) {
      if (!(e instanceof Unresolvable) && !(e instanceof ObjectError)) throw e;
      entry = {
        insnIndex: relo.insnIndex, kind: kindName, localType: `type ${relo.typeId}`, accessStr: relo.accessStr,
        access: relo.accessStr, resolved: false, reason: e instanceof ObjectError ? e.problem : e.message,
      };
    }
    if (!entry.resolved && relo.insnIndex >= 0 && relo.insnIndex < insns.count) insns.poison(relo.insnIndex);
    results.push(entry);
  }
  return {insns: insns.buf, results, poisoned: results.filter((r) => !r.resolved)};
}

/**
 * Explains a verifier rejection at a poisoned instruction: given the
 * instruction index the verifier names, returns the CO-RE failure that put
 * the bad call there.
 */
export function coreFailureAt(report: Pick<CoreReport, 'poisoned'>, insnIndex: number): CoreRelocationResult | undefined {
  return report.poisoned.find((r) => r.insnIndex === insnIndex);
}

/** The helper id of a poisoned instruction, as the verifier prints it (`invalid func unknown#195896080`). */
export const CORE_POISON_HELPER_ID = POISON_CALL_IMM;
