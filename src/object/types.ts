// The object specs: plain data describing what a BPF object file asks for.
// Nothing here is live; src/loader turns specs into kernel objects.

import type {Btf} from './btf.js';
import type {AttachTarget} from './sections.js';

export type MapKind = 'btf-map' | 'rodata' | 'data' | 'bss' | 'kconfig';

/** A global variable inside a global-data map (.rodata/.data/.bss). */
export interface GlobalVariable {
  name: string;
  /** Byte offset inside the map value. */
  offset: number;
  size: number;
  /** BTF id of the variable's type (not the VAR), when the object has BTF. */
  btfTypeId?: number;
}

export interface MapSpec {
  /** Symbol name for BTF maps; section name (`.rodata`, `.bss`, `.kconfig`, `.rodata.str1.1`) for internal maps. */
  name: string;
  kind: MapKind;
  /** enum bpf_map_type. */
  type: number;
  keySize: number;
  valueSize: number;
  /**
   * 0 for a BPF_MAP_TYPE_PERF_EVENT_ARRAY that did not say: the loader uses
   * the target's number of possible CPUs.
   */
  maxEntries: number;
  flags: number;
  numaNode?: number;
  mapExtra?: bigint;
  /** LIBBPF_PIN_* as written in the object (bpftools does not pin). */
  pinning?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  /** Template of the inner map for ARRAY_OF_MAPS / HASH_OF_MAPS. */
  inner?: MapSpec;
  /** Initial value of a global-data map (zeros for .bss); editable through setGlobal(). */
  initialData?: Buffer;
  /** Variables of a global-data map, for setGlobal(). */
  variables?: GlobalVariable[];
  /** ELF section the map came from. */
  section: string;
}

/** ld_imm64 instruction that must carry a map handle. */
export interface MapRelocation {
  /** Index (in 8-byte instructions) of the first half of the ld_imm64 in ProgramSpec.insns. */
  insnIndex: number;
  mapName: string;
  /** `fd`: BPF_PSEUDO_MAP_FD; `value`: BPF_PSEUDO_MAP_VALUE with `offset` into the map value. */
  kind: 'fd' | 'value';
  offset: number;
}

export interface FuncInfo {
  /** Instruction index (kernel units). */
  insnOff: number;
  /** BTF id of the FUNC. */
  typeId: number;
}

export interface LineInfo {
  /** Instruction index (kernel units). */
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  line: number;
  col: number;
}

/** A CO-RE relocation as recorded by clang, at its final instruction index. */
export interface CoreRelocation {
  insnIndex: number;
  /** Root type id in the object's BTF. */
  typeId: number;
  accessStr: string;
  /** enum bpf_core_relo_kind (see CoreReloKind). */
  kind: number;
}

/** Where one function sits inside ProgramSpec.insns. */
export interface FunctionLayout {
  name: string;
  section: string;
  /** First instruction index in ProgramSpec.insns. */
  start: number;
  /** Number of instructions. */
  length: number;
}

export interface ProgramSpec {
  /** Function symbol name. */
  name: string;
  /** ELF section name (the SEC() string). */
  section: string;
  /** enum bpf_prog_type (0 when the section name is not a known convention). */
  progType: number;
  /** enum bpf_attach_type, when the program type needs one at load time. */
  expectedAttachType?: number;
  attach: AttachTarget;
  /** BPF_PROG_LOAD prog_flags the section implies (e.g. sleepable). */
  flags: number;
  license: string;
  /** The program followed by every subprogram it calls, call offsets fixed up. Map loads are not yet relocated. */
  insns: Buffer;
  /** Function layout: [0] is the program itself, then appended subprograms. */
  functions: FunctionLayout[];
  funcInfo: FuncInfo[];
  lineInfo: LineInfo[];
  mapRelocations: MapRelocation[];
  coreRelocations: CoreRelocation[];
}

/** A `__kconfig` extern the loader must supply (see resolveKconfig). */
export interface KconfigExtern {
  name: string;
  /** Byte offset in the `.kconfig` map value. */
  offset: number;
  size: number;
  /** How the value is written: bool/tristate/char/int/uint, or a char array (string). */
  type: 'bool' | 'tristate' | 'char' | 'int' | 'uint' | 'string';
  /** Declared `__weak`: may be left unresolved (reads as zero). */
  weak: boolean;
}

export interface ObjectSpec {
  license: string;
  /** Contents of the `version` section, when present. */
  kernVersion?: number;
  /** The object's BTF with DATASEC sizes and offsets fixed up (what the kernel wants). */
  btf?: Btf;
  maps: MapSpec[];
  programs: ProgramSpec[];
  kconfig: KconfigExtern[];
}
