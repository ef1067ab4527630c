// Map specs: BTF-defined maps in `.maps`, and the global-data maps libbpf
// makes from `.rodata*`, `.data*`, `.bss*` and `.kconfig`.

import type {Btf, BtfComposite} from './btf.js';
import {MapFlags, MapType} from './constants.js';
import {SHF_ALLOC, SHF_EXECINSTR, SHT_NOBITS, SHT_PROGBITS, STT_OBJECT, type ElfFile, type ElfSection} from './elf.js';
import {ObjectError} from './errors.js';
import type {GlobalVariable, MapKind, MapSpec} from './types.js';

/** A BTF-defined map plus where its definition sits in `.maps`. */
export interface PlacedMap {
  spec: MapSpec;
  /** Byte offset of the definition inside the `.maps` section. */
  offset: number;
}

/** Reads a `__uint(name, N)` member: `int (*name)[N]`. */
function uintMember(btf: Btf, typeId: number, map: string, member: string): number {
  const p = btf.type(btf.skipQualifiers(typeId));
  if (p.kind !== 'ptr') {
    throw new ObjectError(`map field '${member}' is not written as __uint(${member}, ...) (BTF ${btf.describe(typeId)})`, {section: '.maps', symbol: map});
  }
  const a = btf.type(btf.skipQualifiers(p.type));
  if (a.kind !== 'array') {
    throw new ObjectError(`map field '${member}' is not written as __uint(${member}, ...) (points to ${btf.describe(p.type)})`, {section: '.maps', symbol: map});
  }
  return a.nelems;
}

/** Reads a `__type(name, T)` member: `T *name`; returns T's id. */
function typeMember(btf: Btf, typeId: number, map: string, member: string): number {
  const p = btf.type(btf.skipQualifiers(typeId));
  if (p.kind !== 'ptr') {
    throw new ObjectError(`map field '${member}' is not written as __type(${member}, ...) (BTF ${btf.describe(typeId)})`, {section: '.maps', symbol: map});
  }
  return p.type;
}

function parseMapDef(btf: Btf, def: BtfComposite, name: string, isInner: boolean): MapSpec {
  const spec: MapSpec = {
    name, kind: 'btf-map', type: MapType.UNSPEC, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0, section: '.maps',
  };
  let keySize: number | undefined;
  let valueSize: number | undefined;
  for (const m of def.members) {
    switch (m.name) {
      case 'type': spec.type = uintMember(btf, m.type, name, m.name); break;
      case 'max_entries': spec.maxEntries = uintMember(btf, m.type, name, m.name); break;
      case 'map_flags': spec.flags = uintMember(btf, m.type, name, m.name); break;
      case 'numa_node': spec.numaNode = uintMember(btf, m.type, name, m.name); break;
      case 'pinning': spec.pinning = uintMember(btf, m.type, name, m.name); break;
      case 'map_extra': spec.mapExtra = BigInt(uintMember(btf, m.type, name, m.name)); break;
      case 'key_size': keySize = uintMember(btf, m.type, name, m.name); break;
      case 'value_size': valueSize = uintMember(btf, m.type, name, m.name); break;
      case 'key': {
        const id = typeMember(btf, m.type, name, m.name);
        const size = btf.sizeof(id);
        if (keySize !== undefined && keySize !== size) {
          throw new ObjectError(`key_size ${keySize} disagrees with the key type's size ${size}`, {section: '.maps', symbol: name});
        }
        keySize = size;
        spec.btfKeyTypeId = id;
        break;
      }
      case 'value': {
        const id = typeMember(btf, m.type, name, m.name);
        const size = btf.sizeof(id);
        if (valueSize !== undefined && valueSize !== size) {
          throw new ObjectError(`value_size ${valueSize} disagrees with the value type's size ${size}`, {section: '.maps', symbol: name});
        }
        valueSize = size;
        spec.btfValueTypeId = id;
        break;
      }
      case 'values': {
        // __array(values, struct {...}): an array of pointers to the inner map's definition
        // (maps of maps) or to a function prototype (prog arrays, initial values only).
        if (isInner) throw new ObjectError('an inner map cannot itself hold maps', {section: '.maps', symbol: name});
        const arr = btf.type(btf.skipQualifiers(m.type));
        if (arr.kind !== 'array') throw new ObjectError(`map field 'values' is not an __array(...)`, {section: '.maps', symbol: name});
        const ptr = btf.type(btf.skipQualifiers(arr.type));
        if (ptr.kind !== 'ptr') throw new ObjectError(`map field 'values' is not an array of pointers`, {section: '.maps', symbol: name});
        const target = btf.type(btf.resolve(ptr.type));
        if (target.kind === 'struct') {
          spec.inner = parseMapDef(btf, target, `${name}.inner`, true);
        } else if (target.kind !== 'func_proto') {
          throw new ObjectError(`map field 'values' points to ${btf.describe(ptr.type)}; expected a map definition struct`, {section: '.maps', symbol: name});
        }
        break;
      }
      default:
        throw new ObjectError(`unknown map definition field '${m.name}'`, {section: '.maps', symbol: name});
    }
  }
  if (spec.type === MapType.UNSPEC && !isInner) {
    throw new ObjectError('map definition has no type (__uint(type, BPF_MAP_TYPE_...))', {section: '.maps', symbol: name});
  }
  const isMapOfMaps = spec.type === MapType.ARRAY_OF_MAPS || spec.type === MapType.HASH_OF_MAPS;
  if (isMapOfMaps) {
    if (!spec.inner) throw new ObjectError('map of maps needs __array(values, struct {...}) describing the inner map', {section: '.maps', symbol: name});
    if (valueSize !== undefined && valueSize !== 4) {
      throw new ObjectError(`map of maps must have 4-byte values, not ${valueSize}`, {section: '.maps', symbol: name});
    }
    valueSize = 4;
  } else if (spec.inner) {
    throw new ObjectError(`only ARRAY_OF_MAPS and HASH_OF_MAPS can describe inner maps`, {section: '.maps', symbol: name});
  }
  if (spec.type === MapType.PERF_EVENT_ARRAY) {
    keySize ??= 4;
    valueSize ??= 4;
  }
  spec.keySize = keySize ?? 0;
  spec.valueSize = valueSize ?? 0;
  if (spec.type === MapType.ARRAY_OF_MAPS || spec.type === MapType.ARRAY || spec.type === MapType.PERCPU_ARRAY) {
    if (spec.keySize === 0) spec.keySize = 4;
  }
  return spec;
}

/** BTF-defined maps from the `.maps` DATASEC (BTF must already be fixed up). */
export function parseBtfMaps(btf: Btf | undefined, elf: ElfFile): PlacedMap[] {
  const sec = elf.sectionByName('.maps');
  if (!sec) return [];
  if (!btf) {
    throw new ObjectError('object has BTF-defined maps but no .BTF section (compile with -g)', {section: '.maps'});
  }
  const ds = btf.find('.maps', 'datasec');
  if (!ds || ds.kind !== 'datasec') {
    if (sec.size === 0) return [];
    throw new ObjectError('no BTF DATASEC describes the .maps section', {section: '.maps'});
  }
  const out: PlacedMap[] = [];
  for (const v of ds.vars) {
    const vt = btf.type(v.type);
    if (vt.kind !== 'var') throw new ObjectError(`.maps DATASEC entry ${v.type} is not a VAR`, {section: '.BTF'});
    const def = btf.type(btf.resolve(vt.type));
    if (def.kind !== 'struct') {
      throw new ObjectError(`map definition is ${btf.describe(vt.type)}, not a struct`, {section: '.maps', symbol: vt.name});
    }
    out.push({spec: parseMapDef(btf, def, vt.name, false), offset: v.offset});
  }
  return out;
}

/** The kind of global-data map a section makes, if any. */
export function globalDataKind(sec: ElfSection): MapKind | undefined {
  if (!(sec.flags & SHF_ALLOC) || (sec.flags & SHF_EXECINSTR)) return undefined;
  if (sec.type !== SHT_PROGBITS && sec.type !== SHT_NOBITS) return undefined;
  const is = (p: string) => sec.name === p || sec.name.startsWith(`${p}.`);
  if (is('.rodata')) return 'rodata';
  if (is('.data')) return 'data';
  if (is('.bss')) return 'bss';
  return undefined;
}

/** Largest global-data section accepted (the kernel's own limit is lower: KMALLOC_MAX_SIZE). */
export const MAX_GLOBAL_DATA_SIZE = 64 * 1024 * 1024;

/** One global-data map per non-empty `.rodata*`/`.data*`/`.bss*` section. */
export function globalDataMaps(btf: Btf | undefined, elf: ElfFile): {spec: MapSpec; sectionIndex: number}[] {
  const out: {spec: MapSpec; sectionIndex: number}[] = [];
  for (const sec of elf.sections) {
    const kind = globalDataKind(sec);
    if (!kind || sec.size === 0) continue;
    if (sec.size > MAX_GLOBAL_DATA_SIZE) {
      throw new ObjectError(`global data section is ${sec.size} bytes, more than bpftools accepts (${MAX_GLOBAL_DATA_SIZE})`, {section: sec.name});
    }
    const variables: GlobalVariable[] = [];
    const seen = new Set<string>();
    const ds = btf?.find(sec.name, 'datasec');
    if (btf && ds && ds.kind === 'datasec') {
      for (const v of ds.vars) {
        const vt = btf.type(v.type);
        if (vt.kind !== 'var') continue;
        variables.push({name: vt.name, offset: v.offset, size: v.size, btfTypeId: vt.type});
        seen.add(vt.name);
      }
    }
    for (const s of elf.symbols) {
      if (s.shndx !== sec.index || s.type !== STT_OBJECT || seen.has(s.name) || !s.name) continue;
      variables.push({name: s.name, offset: s.value, size: s.size});
      seen.add(s.name);
    }
    variables.sort((a, b) => a.offset - b.offset);
    const spec: MapSpec = {
      name: sec.name,
      kind,
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: sec.size,
      maxEntries: 1,
      flags: kind === 'rodata' ? MapFlags.RDONLY_PROG : 0,
      initialData: sec.type === SHT_NOBITS ? Buffer.alloc(sec.size) : Buffer.from(sec.data),
      variables,
      section: sec.name,
    };
    if (ds) spec.btfValueTypeId = ds.id;
    out.push({spec, sectionIndex: sec.index});
  }
  return out;
}

/** The `.kconfig` map holding the values of `__kconfig` externs. */
export function kconfigMap(btf: Btf, size: number): MapSpec {
  const spec: MapSpec = {
    name: '.kconfig',
    kind: 'kconfig',
    type: MapType.ARRAY,
    keySize: 4,
    valueSize: size,
    maxEntries: 1,
    flags: MapFlags.RDONLY_PROG,
    initialData: Buffer.alloc(size),
    variables: [],
    section: '.kconfig',
  };
  const ds = btf.find('.kconfig', 'datasec');
  if (ds) spec.btfValueTypeId = ds.id;
  return spec;
}
