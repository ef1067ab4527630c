// parseObject: ELF bytes → ObjectSpec (maps, programs, BTF, kconfig externs).

import {parseBtfExt, type BtfExt} from './btf-ext.js';
import {Btf} from './btf.js';
import {fixupDatasecs} from './datasec.js';
import {parseElf, STT_OBJECT} from './elf.js';
import {ObjectError} from './errors.js';
import {Linker} from './link.js';
import {globalDataMaps, kconfigMap, parseBtfMaps} from './maps.js';
import {parseSectionName} from './sections.js';
import type {KconfigExtern, MapSpec, ObjectSpec, ProgramSpec} from './types.js';

/** Parses a BPF object file (as clang -target bpf -g writes it) into specs. */
export function parseObject(buf: Buffer): ObjectSpec {
  const elf = parseElf(buf);

  if (elf.sectionByName('maps') && elf.symbols.some((s) => s.type === STT_OBJECT && elf.sections[s.shndx]?.name === 'maps')) {
    throw new ObjectError('legacy map definitions (struct bpf_map_def in SEC("maps")) are not supported; use BTF-defined maps in SEC(".maps")', {section: 'maps'});
  }

  const licenseSec = elf.sectionByName('license');
  let license = '';
  if (licenseSec) {
    const nul = licenseSec.data.indexOf(0);
    license = licenseSec.data.toString('latin1', 0, nul < 0 ? licenseSec.data.length : nul);
  }
  const versionSec = elf.sectionByName('version');
  let kernVersion: number | undefined;
  if (versionSec) {
    if (versionSec.data.length !== 4) throw new ObjectError(`version section is ${versionSec.data.length} bytes, expected 4`, {section: 'version'});
    kernVersion = versionSec.data.readUInt32LE(0);
  }

  let btf: Btf | undefined;
  let ext: BtfExt | undefined;
  let kconfig: KconfigExtern[] = [];
  let kconfigSize = 0;
  let ksyms: string[] = [];
  const btfSec = elf.sectionByName('.BTF');
  if (btfSec) {
    const raw = Btf.parse(btfSec.data);
    const fixed = fixupDatasecs(raw, elf);
    btf = fixed.btf;
    kconfig = fixed.kconfig;
    kconfigSize = fixed.kconfigSize;
    ksyms = fixed.ksyms;
    const extSec = elf.sectionByName('.BTF.ext');
    if (extSec) ext = parseBtfExt(extSec.data, btf);
  }

  const maps: MapSpec[] = [];
  const placed = parseBtfMaps(btf, elf);
  for (const p of placed) maps.push(p.spec);
  const data = globalDataMaps(btf, elf);
  for (const d of data) maps.push(d.spec);
  if (kconfig.length) {
    const m = kconfigMap(btf!, kconfigSize);
    m.variables = kconfig.map((k) => ({name: k.name, offset: k.offset, size: k.size}));
    maps.push(m);
  }
  const names = new Set<string>();
  for (const m of maps) {
    if (names.has(m.name)) throw new ObjectError(`two maps are named '${m.name}'`, {symbol: m.name});
    names.add(m.name);
  }

  const btfMapsByOffset = new Map(placed.map((p) => [p.offset, p.spec.name]));
  const dataMapsBySection = new Map(data.map((d) => [d.sectionIndex, d.spec.name]));
  const kconfigByName = new Map(kconfig.map((k) => [k.name, k.offset]));
  const ksymNames = new Set(ksyms);
  const linker = new Linker(elf, {
    btfMapAt: (off) => btfMapsByOffset.get(off),
    dataMapOf: (idx) => dataMapsBySection.get(idx),
    kconfigOffset: (name) => kconfigByName.get(name),
    isKsym: (name) => ksymNames.has(name),
    hasBtf: btf !== undefined,
  }, ext);

  const programs: ProgramSpec[] = [];
  for (const f of linker.programFunctions()) {
    const sec = parseSectionName(f.section.name);
    const linked = linker.link(f);
    const prog: ProgramSpec = {
      name: f.name,
      section: f.section.name,
      progType: sec.progType,
      attach: sec.attach,
      flags: sec.flags,
      license,
      insns: linked.insns,
      functions: linked.functions,
      funcInfo: linked.funcInfo,
      lineInfo: linked.lineInfo,
      mapRelocations: linked.mapRelocations,
      coreRelocations: linked.coreRelocations,
    };
    if (sec.expectedAttachType !== undefined) prog.expectedAttachType = sec.expectedAttachType;
    programs.push(prog);
  }

  const spec: ObjectSpec = {license, maps, programs, kconfig};
  if (kernVersion !== undefined) spec.kernVersion = kernVersion;
  if (btf) spec.btf = btf;
  return spec;
}

/** The program with this name; throws ObjectError listing the programs when absent. */
export function findProgram(spec: ObjectSpec, name: string): ProgramSpec {
  const p = spec.programs.find((x) => x.name === name);
  if (!p) throw new ObjectError(`no program named '${name}' (programs: ${spec.programs.map((x) => x.name).join(', ') || 'none'})`);
  return p;
}

/** The map with this name; throws ObjectError listing the maps when absent. */
export function findMap(spec: ObjectSpec, name: string): MapSpec {
  const m = spec.maps.find((x) => x.name === name);
  if (!m) throw new ObjectError(`no map named '${name}' (maps: ${spec.maps.map((x) => x.name).join(', ') || 'none'})`);
  return m;
}
