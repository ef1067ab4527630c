// Functions, their relocations, and programs: each program gets its own
// instruction buffer with every subprogram it reaches appended and its
// bpf-to-bpf calls, func/line info and CO-RE records moved to match.

import type {BtfExt} from './btf-ext.js';
import {
  SHF_EXECINSTR, SHN_UNDEF, SHT_PROGBITS, STB_GLOBAL, STB_WEAK, STT_FUNC, STT_SECTION,
  type ElfFile, type ElfSection,
} from './elf.js';
import {ObjectError} from './errors.js';
import {
  BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, INSN_SIZE, Insns,
} from './insn.js';
import type {CoreRelocation, FuncInfo, FunctionLayout, LineInfo, MapRelocation} from './types.js';

export interface ElfFunction {
  name: string;
  section: ElfSection;
  /** First instruction index inside the section. */
  start: number;
  length: number;
  global: boolean;
}

type CodeRef = {section: number; insn: number};

type Reloc =
  | {type: 'call'; target: CodeRef}
  | {type: 'func'; target: CodeRef}
  | {type: 'map'; mapName: string; kind: 'fd' | 'value'; offset: number};

/** How relocations find maps (built by parseObject). */
export interface MapResolver {
  /** The BTF-defined map whose definition starts at this `.maps` offset. */
  btfMapAt(offset: number): string | undefined;
  /** The global-data map made from this ELF section. */
  dataMapOf(sectionIndex: number): string | undefined;
  /** `.kconfig` extern: its offset in the `.kconfig` map. */
  kconfigOffset(name: string): number | undefined;
  isKsym(name: string): boolean;
  /** Whether the object has BTF (externs can only be classified with it). */
  hasBtf: boolean;
}

export interface LinkedProgram {
  main: ElfFunction;
  insns: Buffer;
  functions: FunctionLayout[];
  funcInfo: FuncInfo[];
  lineInfo: LineInfo[];
  mapRelocations: MapRelocation[];
  coreRelocations: CoreRelocation[];
}

export class Linker {
  private readonly functions = new Map<string, ElfFunction>();
  private readonly bySection = new Map<number, ElfFunction[]>();
  private readonly relocs = new Map<number, Map<number, Reloc>>();

  constructor(private readonly elf: ElfFile, private readonly maps: MapResolver, private readonly ext: BtfExt | undefined) {
    for (const sec of elf.sections) {
      if (sec.type !== SHT_PROGBITS || !(sec.flags & SHF_EXECINSTR) || sec.size === 0) continue;
      if (sec.size % INSN_SIZE !== 0) {
        throw new ObjectError(`code section size ${sec.size} is not a multiple of 8`, {section: sec.name});
      }
      this.collectFunctions(sec);
    }
    for (const sec of elf.sections) {
      if (this.bySection.has(sec.index)) this.collectRelocations(sec);
    }
  }

  /** Every function in every code section. */
  allFunctions(): ElfFunction[] {
    return [...this.bySection.values()].flat();
  }

  /** Functions that are programs: global functions outside `.text`. */
  programFunctions(): ElfFunction[] {
    return this.allFunctions().filter((f) => f.global && f.section.name !== '.text');
  }

  private collectFunctions(sec: ElfSection): void {
    // One function per start offset; of aliases, the global symbol names it.
    const syms = this.elf.symbols
      .filter((s) => s.shndx === sec.index && s.type === STT_FUNC)
      .sort((a, b) => a.value - b.value || (b.bind === STB_GLOBAL ? 1 : 0) - (a.bind === STB_GLOBAL ? 1 : 0))
      .filter((s, i, all) => i === 0 || all[i - 1]!.value !== s.value);
    const count = sec.size / INSN_SIZE;
    const list: ElfFunction[] = [];
    syms.forEach((s, i) => {
      if (s.value % INSN_SIZE !== 0) {
        throw new ObjectError(`function starts at byte ${s.value}, not on an instruction boundary`, {section: sec.name, symbol: s.name});
      }
      const start = s.value / INSN_SIZE;
      const next = i + 1 < syms.length ? syms[i + 1]!.value / INSN_SIZE : count;
      const end = s.size > 0 ? Math.min(start + Math.ceil(s.size / INSN_SIZE), next) : next;
      if (start >= count || end > count || end <= start) {
        throw new ObjectError(`function spans instructions ${start}..${end}, outside the section (${count} instructions)`, {section: sec.name, symbol: s.name});
      }
      const f: ElfFunction = {
        name: s.name, section: sec, start, length: end - start,
        global: s.bind === STB_GLOBAL || s.bind === STB_WEAK,
      };
      list.push(f);
      this.functions.set(`${sec.index}:${start}`, f);
    });
    this.bySection.set(sec.index, list);
  }

  private collectRelocations(sec: ElfSection): void {
    const table = new Map<number, Reloc>();
    const insns = new Insns(sec.data);
    const count = insns.count;
    const where = (i: number) => ({section: sec.name, offset: i * INSN_SIZE});
    for (const r of this.elf.relocations.get(sec.index) ?? []) {
      if (r.type === 0) continue;
      if (r.offset % INSN_SIZE !== 0) {
        throw new ObjectError(`relocation at byte ${r.offset} is not on an instruction boundary`, {section: sec.name});
      }
      const i = r.offset / INSN_SIZE;
      const sym = this.elf.symbols[r.symbol]!;
      const symName = sym.name || (sym.type === STT_SECTION ? this.elf.sections[sym.shndx]?.name ?? '?' : `#${sym.index}`);
      if (insns.isCall(i)) {
        const src = insns.src(i);
        if (src === BPF_PSEUDO_KFUNC_CALL || sym.shndx === SHN_UNDEF) {
          throw new ObjectError(`call to kernel function '${symName}' (kfunc): not supported by bpftools`, where(i));
        }
        if (src !== BPF_PSEUDO_CALL) {
          throw new ObjectError(`relocated call to '${symName}' is not a bpf-to-bpf call (src_reg ${src})`, where(i));
        }
        if (!this.bySection.has(sym.shndx)) {
          throw new ObjectError(`call to '${symName}', which is not in a code section`, where(i));
        }
        if (sym.value % INSN_SIZE !== 0) throw new ObjectError(`call target '${symName}' is misaligned`, where(i));
        table.set(i, {type: 'call', target: {section: sym.shndx, insn: sym.value / INSN_SIZE + insns.imm(i) + 1}});
        continue;
      }
      if (!insns.isLdImm64(i)) {
        throw new ObjectError(`relocation against '${symName}' is on an instruction (opcode 0x${insns.code(i).toString(16)}) that is neither a 64-bit load nor a call`, where(i));
      }
      if (i + 1 >= count) throw new ObjectError('64-bit load is cut off at the end of the section', where(i));
      const imm = insns.imm(i);
      if (sym.shndx === SHN_UNDEF) {
        const off = this.maps.kconfigOffset(sym.name);
        if (off !== undefined) {
          table.set(i, {type: 'map', mapName: '.kconfig', kind: 'value', offset: off});
        } else if (this.maps.isKsym(sym.name)) {
          throw new ObjectError(`'${sym.name}' is a __ksym extern (kernel symbol address): not supported by bpftools`, where(i));
        } else {
          throw new ObjectError(this.maps.hasBtf
            ? `unresolved extern '${sym.name}' (only __kconfig externs are supported)`
            : `extern '${sym.name}' cannot be resolved: the object has no BTF (compile with -g)`, where(i));
        }
        continue;
      }
      const target = this.elf.sections[sym.shndx];
      if (!target) throw new ObjectError(`relocation against '${symName}' in unknown section ${sym.shndx}`, where(i));
      const symOff = sym.value + (sym.type === STT_SECTION ? imm : 0);
      if (target.name === '.maps') {
        const name = this.maps.btfMapAt(symOff);
        if (!name) throw new ObjectError(`relocation against '${symName}' at .maps+${symOff}, where no map is defined`, where(i));
        table.set(i, {type: 'map', mapName: name, kind: 'fd', offset: 0});
        continue;
      }
      if (this.bySection.has(sym.shndx)) {
        const byteOff = sym.value + imm;
        if (byteOff % INSN_SIZE !== 0) throw new ObjectError(`function reference to '${symName}' is misaligned`, where(i));
        table.set(i, {type: 'func', target: {section: sym.shndx, insn: byteOff / INSN_SIZE}});
        continue;
      }
      const dataMap = this.maps.dataMapOf(sym.shndx);
      if (dataMap !== undefined) {
        const offset = sym.value + imm;
        if (offset < 0 || offset > target.size) {
          throw new ObjectError(`reference to '${symName}' at offset ${offset} is outside ${target.name} (${target.size} bytes)`, where(i));
        }
        table.set(i, {type: 'map', mapName: dataMap, kind: 'value', offset});
        continue;
      }
      throw new ObjectError(`relocation against '${symName}' in section ${JSON.stringify(target.name)}, which is neither a map, global data nor code`, where(i));
    }
    // bpf-to-bpf calls inside one section that clang resolved itself.
    for (let i = 0; i < count; i++) {
      if (table.has(i)) {
        if (insns.isLdImm64(i)) i++;
        continue;
      }
      if (insns.isCall(i) && insns.src(i) === BPF_PSEUDO_CALL) {
        table.set(i, {type: 'call', target: {section: sec.index, insn: i + insns.imm(i) + 1}});
      } else if (insns.isLdImm64(i)) {
        if (insns.src(i) === BPF_PSEUDO_FUNC) {
          table.set(i, {type: 'func', target: {section: sec.index, insn: i + insns.imm(i) + 1}});
        }
        i++;
      }
    }
    this.relocs.set(sec.index, table);
  }

  private functionAt(ref: CodeRef, from: ElfFunction, insn: number): ElfFunction {
    const f = this.functions.get(`${ref.section}:${ref.insn}`);
    if (!f) {
      const sec = this.elf.sections[ref.section]!;
      throw new ObjectError(`call from '${from.name}' to ${sec.name}+${ref.insn * INSN_SIZE}, which is not the start of a function`,
        {section: from.section.name, offset: (from.start + insn) * INSN_SIZE});
    }
    return f;
  }

  /** Builds one program's instructions with every subprogram it reaches appended. */
  link(main: ElfFunction): LinkedProgram {
    const order: ElfFunction[] = [main];
    const starts = new Map<ElfFunction, number>([[main, 0]]);
    let total = main.length;
    for (let k = 0; k < order.length; k++) {
      const f = order[k]!;
      const table = this.relocs.get(f.section.index)!;
      for (let i = f.start; i < f.start + f.length; i++) {
        const r = table.get(i);
        if (!r || r.type === 'map') continue;
        const callee = this.functionAt(r.target, f, i - f.start);
        if (!starts.has(callee)) {
          starts.set(callee, total);
          total += callee.length;
          order.push(callee);
        }
      }
    }

    const buf = Buffer.alloc(total * INSN_SIZE);
    const insns = new Insns(buf);
    const functions: FunctionLayout[] = [];
    const funcInfo: FuncInfo[] = [];
    const lineInfo: LineInfo[] = [];
    const mapRelocations: MapRelocation[] = [];
    const coreRelocations: CoreRelocation[] = [];
    for (const f of order) {
      const base = starts.get(f)!;
      const sec = f.section;
      sec.data.copy(buf, base * INSN_SIZE, f.start * INSN_SIZE, (f.start + f.length) * INSN_SIZE);
      functions.push({name: f.name, section: sec.name, start: base, length: f.length});
      const table = this.relocs.get(sec.index)!;
      for (let i = f.start; i < f.start + f.length; i++) {
        const r = table.get(i);
        if (!r) continue;
        const at = base + (i - f.start);
        if (r.type === 'map') {
          mapRelocations.push({insnIndex: at, mapName: r.mapName, kind: r.kind, offset: r.offset});
          continue;
        }
        const callee = this.functionAt(r.target, f, i - f.start);
        insns.setImm(at, starts.get(callee)! - (at + 1));
        if (r.type === 'func') insns.setSrc(at, BPF_PSEUDO_FUNC);
      }
      // Byte offsets in .BTF.ext → instruction indices in this program.
      const inRange = (byteOff: number) => byteOff % INSN_SIZE === 0 && byteOff / INSN_SIZE >= f.start && byteOff / INSN_SIZE < f.start + f.length;
      const moved = (byteOff: number) => base + byteOff / INSN_SIZE - f.start;
      for (const r of this.ext?.funcInfo.get(sec.name) ?? []) {
        if (inRange(r.insnOff)) funcInfo.push({insnOff: moved(r.insnOff), typeId: r.typeId});
      }
      for (const r of this.ext?.lineInfo.get(sec.name) ?? []) {
        if (inRange(r.insnOff)) lineInfo.push({...r, insnOff: moved(r.insnOff)});
      }
      for (const r of this.ext?.coreRelos.get(sec.name) ?? []) {
        if (inRange(r.insnOff)) coreRelocations.push({insnIndex: moved(r.insnOff), typeId: r.typeId, accessStr: r.accessStr, kind: r.kind});
      }
    }
    funcInfo.sort((a, b) => a.insnOff - b.insnOff);
    lineInfo.sort((a, b) => a.insnOff - b.insnOff);
    return {main, insns: buf, functions, funcInfo, lineInfo, mapRelocations, coreRelocations};
  }
}
