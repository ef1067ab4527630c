// Editing a spec before load: set `const volatile` globals, resize maps.

import {MapType} from './constants.js';
import {ObjectError} from './errors.js';
import type {GlobalVariable, MapSpec, ObjectSpec} from './types.js';
import type {Btf} from './btf.js';

export type GlobalValue = number | bigint | boolean | string | Uint8Array;

const DATA_KINDS = new Set(['rodata', 'data', 'bss']);

function findVariable(spec: ObjectSpec, name: string, mapName?: string): {map: MapSpec; v: GlobalVariable} {
  const hits: {map: MapSpec; v: GlobalVariable}[] = [];
  for (const map of spec.maps) {
    if (!DATA_KINDS.has(map.kind) || (mapName !== undefined && map.name !== mapName)) continue;
    for (const v of map.variables ?? []) if (v.name === name) hits.push({map, v});
  }
  if (hits.length === 1) return hits[0]!;
  if (hits.length > 1) {
    throw new ObjectError(`global variable is defined in several sections (${hits.map((h) => h.map.name).join(', ')}); say which with the map option`, {symbol: name});
  }
  const known = spec.maps
    .filter((m) => DATA_KINDS.has(m.kind))
    .flatMap((m) => (m.variables ?? []).filter((v) => !v.name.includes('.')).map((v) => v.name));
  throw new ObjectError(`no global variable of that name${mapName ? ` in ${mapName}` : ''} (known: ${known.join(', ') || 'none'})`, {symbol: name});
}

interface NumericType { kind: 'int'; signed: boolean; size: number }
interface FloatType { kind: 'float'; size: number }

function scalarType(btf: Btf | undefined, v: GlobalVariable): NumericType | FloatType | undefined {
  if (!btf || v.btfTypeId === undefined) return undefined;
  const t = btf.type(btf.resolve(v.btfTypeId));
  if (t.kind === 'int') return {kind: 'int', signed: t.signed, size: t.size};
  if (t.kind === 'enum' || t.kind === 'enum64') return {kind: 'int', signed: t.signed, size: t.size};
  if (t.kind === 'ptr') return {kind: 'int', signed: false, size: 8};
  if (t.kind === 'float') return {kind: 'float', size: t.size};
  return undefined;
}

/**
 * Sets a global variable (normally a `const volatile` option in .rodata; also
 * .data/.bss) in the spec's initial data. Numbers, bigints and booleans are
 * written as little-endian integers of the variable's size (range-checked
 * against its BTF type); strings (UTF-8, NUL-terminated) and byte arrays fill
 * arrays and structs, zero-padded.
 */
export function setGlobal(spec: ObjectSpec, name: string, value: GlobalValue, options: {map?: string} = {}): void {
  const {map, v} = findVariable(spec, name, options.map);
  const data = map.initialData;
  if (!data) throw new ObjectError(`map ${map.name} has no initial data`, {symbol: name});
  const fail = (why: string): never => {
    throw new ObjectError(why, {symbol: name});
  };

  if (typeof value === 'string' || value instanceof Uint8Array) {
    const bytes = typeof value === 'string' ? Buffer.from(`${value}\0`, 'utf8') : Buffer.from(value);
    if (bytes.length > v.size) {
      fail(`value is ${typeof value === 'string' ? `a string of ${bytes.length - 1} bytes` : `${bytes.length} bytes`}, the variable holds ${v.size}${typeof value === 'string' ? ' including the NUL' : ''}`);
    }
    data.fill(0, v.offset, v.offset + v.size);
    bytes.copy(data, v.offset);
    return;
  }

  const scalar = scalarType(spec.btf, v);
  if (scalar?.kind === 'float') {
    if (typeof value !== 'number') fail(`the variable is a ${scalar.size * 8}-bit float; pass a number`);
    if (scalar.size === 4) data.writeFloatLE(value as number, v.offset);
    else if (scalar.size === 8) data.writeDoubleLE(value as number, v.offset);
    else fail(`cannot write a ${scalar.size}-byte float`);
    return;
  }
  if (!scalar && !(spec.btf === undefined || v.btfTypeId === undefined)) {
    fail(`the variable is ${spec.btf.describe(v.btfTypeId)} (${v.size} bytes); pass a Buffer or string`);
  }
  const size = scalar?.size ?? v.size;
  if (![1, 2, 4, 8].includes(size)) fail(`the variable is ${v.size} bytes; pass a Buffer`);
  let n: bigint;
  if (typeof value === 'boolean') n = value ? 1n : 0n;
  else if (typeof value === 'bigint') n = value;
  else {
    if (!Number.isInteger(value)) fail(`value ${value} is not an integer`);
    if (!Number.isSafeInteger(value)) fail(`value ${value} is beyond 2^53; pass a bigint`);
    n = BigInt(value);
  }
  const bits = BigInt(size * 8);
  const signed = scalar?.signed;
  const min = signed === false ? 0n : -(1n << (bits - 1n));
  const max = signed === true ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (n < min || n > max) {
    const what = signed === undefined ? `${size}-byte integer` : `${signed ? 'signed' : 'unsigned'} ${size * 8}-bit integer`;
    fail(`value ${n} does not fit the variable's ${what} type (${min}..${max})`);
  }
  const u = BigInt.asUintN(Number(bits), n);
  for (let i = 0; i < size; i++) data[v.offset + i] = Number((u >> BigInt(8 * i)) & 0xffn);
}

/** Sets several globals at once. */
export function setGlobals(spec: ObjectSpec, values: Readonly<Record<string, GlobalValue>>): void {
  for (const [k, val] of Object.entries(values)) setGlobal(spec, k, val);
}

/** Reads a global variable's current bytes from the spec. */
export function getGlobalBytes(spec: ObjectSpec, name: string, options: {map?: string} = {}): Buffer {
  const {map, v} = findVariable(spec, name, options.map);
  return Buffer.from(map.initialData!.subarray(v.offset, v.offset + v.size));
}

/** Changes a map's max_entries before load. */
export function resizeMap(spec: ObjectSpec, name: string, maxEntries: number): void {
  const map = spec.maps.find((m) => m.name === name);
  if (!map) {
    throw new ObjectError(`no map of that name (maps: ${spec.maps.map((m) => m.name).join(', ') || 'none'})`, {symbol: name});
  }
  if (map.kind !== 'btf-map') throw new ObjectError('global-data maps have exactly one entry and cannot be resized', {symbol: name});
  if (!Number.isInteger(maxEntries) || maxEntries <= 0 || maxEntries > 0xffffffff) {
    throw new ObjectError(`max_entries ${maxEntries} is not a positive 32-bit integer`, {symbol: name});
  }
  if ((map.type === MapType.RINGBUF || map.type === MapType.USER_RINGBUF) &&
      (maxEntries < 4096 || (maxEntries & (maxEntries - 1)) !== 0)) {
    throw new ObjectError(`a ring buffer's size must be a power of two and a multiple of the page size, not ${maxEntries}`, {symbol: name});
  }
  map.maxEntries = maxEntries;
}
