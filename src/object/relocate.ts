// Map relocation: write live map handles into a program's ld_imm64s.

import {ObjectError} from './errors.js';
import {BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, Insns} from './insn.js';
import type {MapRelocation} from './types.js';

export interface RelocatableProgram {
  name?: string;
  insns: Buffer;
  mapRelocations: readonly MapRelocation[];
}

/**
 * Returns a copy of the program's instructions with every map reference
 * pointing at a handle: `src_reg=BPF_PSEUDO_MAP_FD, imm=handle` for map
 * references, `src_reg=BPF_PSEUDO_MAP_VALUE, imm=handle`, next imm = offset
 * for global data. Pass the CO-RE-relocated instructions as `prog.insns`
 * when CO-RE applies (`{...prog, insns: core.insns}`).
 */
export function relocateProgram(
  prog: RelocatableProgram,
  mapHandles: ReadonlyMap<string, number> | Readonly<Record<string, number>>,
): Buffer {
  const lookup = mapHandles instanceof Map
    ? (n: string) => mapHandles.get(n)
    : (n: string) => (Object.prototype.hasOwnProperty.call(mapHandles, n) ? (mapHandles as Record<string, number>)[n] : undefined);
  const out = Buffer.from(prog.insns);
  const insns = new Insns(out);
  const who = prog.name ? {symbol: prog.name} : {};
  for (const r of prog.mapRelocations) {
    const handle = lookup(r.mapName);
    if (handle === undefined) {
      throw new ObjectError(`program uses map '${r.mapName}', but no handle was given for it`, who);
    }
    if (!Number.isInteger(handle) || handle < 0 || handle > 0x7fffffff) {
      throw new ObjectError(`handle ${handle} for map '${r.mapName}' is not a valid descriptor`, who);
    }
    if (r.insnIndex + 1 >= insns.count || !insns.isLdImm64(r.insnIndex)) {
      throw new ObjectError(`map relocation for '${r.mapName}' points at instruction ${r.insnIndex}, which is not a 64-bit load`, who);
    }
    insns.setSrc(r.insnIndex, r.kind === 'fd' ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE);
    insns.setImm(r.insnIndex, handle);
    insns.setImm(r.insnIndex + 1, r.kind === 'fd' ? 0 : r.offset);
  }
  return out;
}
