// clang leaves every DATASEC's size at 0 and some variable offsets unset in
// an object file; the kernel wants them exact. Fill them in from the ELF
// section sizes and symbols, and lay out the `.kconfig` externs.

import {Btf, BtfLinkage, type BtfDatasec, type BtfType, type BtfVar} from './btf.js';
import {SHN_UNDEF, STB_WEAK, STT_SECTION, type ElfFile} from './elf.js';
import {ObjectError} from './errors.js';
import type {KconfigExtern} from './types.js';

export interface DatasecFixup {
  btf: Btf;
  kconfig: KconfigExtern[];
  /** Size of the `.kconfig` map value (0 when there are no kconfig externs). */
  kconfigSize: number;
  /** Names of `.ksyms` externs (not supported by bpftools). */
  ksyms: string[];
}

function kconfigType(btf: Btf, typeId: number, name: string): KconfigExtern['type'] {
  const t = btf.type(btf.resolve(typeId));
  if (t.kind === 'int') {
    if (t.bool) return 'bool';
    if (t.char && t.size === 1) return 'char';
    if (t.size > 8) throw new ObjectError(`kconfig extern has a ${t.size}-byte integer type`, {symbol: name});
    return t.signed ? 'int' : 'uint';
  }
  if (t.kind === 'enum' && t.name === 'libbpf_tristate') return 'tristate';
  if (t.kind === 'enum' || t.kind === 'enum64') return t.signed ? 'int' : 'uint';
  if (t.kind === 'array') {
    const e = btf.type(btf.resolve(t.type));
    if (e.kind === 'int' && e.size === 1) return 'string';
  }
  throw new ObjectError(`kconfig extern has unsupported type ${btf.describe(typeId)} (use bool, a tristate, an integer or a char array)`, {symbol: name});
}

/** Returns a fixed-up copy of the object's BTF plus the kconfig layout. */
export function fixupDatasecs(btf: Btf, elf: ElfFile): DatasecFixup {
  const replacements = new Map<number, BtfType>();
  const kconfig: KconfigExtern[] = [];
  const ksyms: string[] = [];
  let kconfigSize = 0;

  const symbolIn = (name: string, shndx: number) =>
    elf.symbols.find((s) => s.shndx === shndx && s.type !== STT_SECTION && s.name === name);

  for (const t of btf.types()) {
    if (t.kind !== 'datasec') continue;
    const vars = t.vars.map((v) => ({...v}));
    const varType = (id: number): BtfVar => {
      const vt = btf.type(id);
      if (vt.kind !== 'var') {
        throw new ObjectError(`DATASEC ${t.name} entry refers to BTF type ${id}, which is a ${vt.kind}, not a VAR`, {section: '.BTF'});
      }
      return vt;
    };

    if (t.name === '.kconfig' || t.name === '.ksyms') {
      let off = 0;
      for (const v of vars) {
        const vt = varType(v.type);
        if (t.name === '.ksyms') {
          ksyms.push(vt.name);
          continue;
        }
        const sym = elf.symbols.find((s) => s.shndx === SHN_UNDEF && s.name === vt.name);
        const size = btf.sizeof(vt.type);
        if (size <= 0 || size > 4096) {
          throw new ObjectError(`kconfig extern is ${size} bytes; at most 4096 are supported`, {section: '.kconfig', symbol: vt.name});
        }
        const align = btf.alignof(vt.type);
        off = Math.ceil(off / align) * align;
        kconfig.push({name: vt.name, offset: off, size, type: kconfigType(btf, vt.type, vt.name), weak: sym?.bind === STB_WEAK});
        v.offset = off;
        v.size = size;
        off += size;
        // The kernel rejects extern VARs; the loader provides them as allocated data.
        replacements.set(vt.id, {...vt, linkage: BtfLinkage.global});
      }
      if (t.name === '.kconfig') {
        kconfigSize = Math.ceil(off / 8) * 8;
        replacements.set(t.id, {...t, size: kconfigSize, vars} satisfies BtfDatasec);
      }
      continue;
    }

    const sec = elf.sectionByName(t.name);
    if (!sec) {
      throw new ObjectError(`BTF DATASEC ${JSON.stringify(t.name)} has no ELF section of that name`, {section: '.BTF'});
    }
    for (const v of vars) {
      const vt = varType(v.type);
      const sym = symbolIn(vt.name, sec.index);
      if (sym) {
        v.offset = sym.value;
      } else if (vt.linkage !== BtfLinkage.static) {
        throw new ObjectError(`variable has BTF but no ELF symbol in ${t.name}`, {section: t.name, symbol: vt.name});
      }
      if (v.offset + v.size > sec.size) {
        throw new ObjectError(`variable at ${v.offset}+${v.size} lies outside the section (${sec.size} bytes)`, {section: t.name, symbol: vt.name});
      }
    }
    vars.sort((a, b) => a.offset - b.offset);
    replacements.set(t.id, {...t, size: sec.size, vars} satisfies BtfDatasec);
  }
  return {btf: replacements.size ? btf.withTypes(replacements) : btf, kconfig, kconfigSize, ksyms};
}
