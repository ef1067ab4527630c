// src/object: pure functions over BPF object bytes. No I/O, no remote.
//
// The loader's path through it:
//   spec = parseObject(bytes)                         maps, programs, BTF, kconfig externs
//   setGlobal(spec, 'targ_pid', 42); resizeMap(...)   tool options, before load
//   resolveKconfig(spec, {release, machine})          fills the .kconfig map's data
//   btf = sanitizeBtf(spec.btf, btfFeaturesForKernel(release)).encode()   → btf_load
//   maps: spec.maps (inner templates first), initialData written, rodata/kconfig frozen
//   core = relocateCore(prog, spec.btf, kernelBtf)    CO-RE against the target's BTF
//   insns = relocateProgram({...prog, insns: core.insns}, handlesByMapName)
//   prog_load with encodeFuncInfo/encodeLineInfo, attach_btf_id = findAttachBtfId(prog, kernelBtf)
//   on rejection: coreFailureAt(core, insn) and describeInsn(prog, spec.btf, insn)

export {ObjectError, type ObjectErrorLocation} from './errors.js';
export {parseElf, EM_BPF, type ElfFile, type ElfSection, type ElfSymbol, type ElfRelocation} from './elf.js';
export {
  Btf, BtfKindNumber, BtfLinkage, essentialName,
  type BtfKind, type BtfType, type BtfInt, type BtfPtr, type BtfArray, type BtfComposite, type BtfMember,
  type BtfEnum, type BtfEnum64, type BtfFwd, type BtfRef, type BtfFunc, type BtfFuncProto, type BtfVar,
  type BtfDatasec, type BtfVarSecinfo, type BtfFloat, type BtfDeclTag, type BtfParseOptions,
} from './btf.js';
export {
  parseBtfExt, encodeFuncInfo, encodeLineInfo, CoreReloKind, CORE_RELO_KIND_NAMES,
  FUNC_INFO_RECORD_SIZE, LINE_INFO_RECORD_SIZE,
  type BtfExt, type FuncInfoRecord, type LineInfoRecord, type CoreReloRecord, type CoreReloKindName,
} from './btf-ext.js';
export {sanitizeBtf, btfFeaturesForKernel, ALL_BTF_FEATURES, type BtfFeatures} from './btf-sanitize.js';
export {MapType, ProgType, AttachType, MapFlags, ProgFlags, enumName} from './constants.js';
export {parseSectionName, type AttachTarget, type SectionInfo} from './sections.js';
export {parseObject, findProgram, findMap} from './spec.js';
export type {
  ObjectSpec, MapSpec, MapKind, ProgramSpec, GlobalVariable, MapRelocation, FuncInfo, LineInfo,
  CoreRelocation, FunctionLayout, KconfigExtern,
} from './types.js';
export {setGlobal, setGlobals, getGlobalBytes, resizeMap, type GlobalValue} from './edit.js';
export {resolveKconfig, kernelVersionCode, parseKconfigText, type KconfigTarget} from './kconfig.js';
export {relocateProgram, type RelocatableProgram} from './relocate.js';
export {relocateCore, coreFailureAt, CORE_POISON_HELPER_ID, type CoreReport, type CoreRelocationResult} from './core.js';
export {sourceLineAt, formatSourceLine, describeInsn, type SourceLine} from './line-info.js';
export {findAttachBtfId} from './attach-btf.js';
export {INSN_SIZE, POISON_CALL_IMM} from './insn.js';
