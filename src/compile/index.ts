// src/compile: BPF C → object bytes (clang -target bpf), cached by content.

export {compileBpf, defaultCacheDir, parseDiagnostics, packageForHeader, type CompileOptions, type CompileResult, type InlineSource} from './compile.js';
export {archFromMachine, isBpfArch, BPF_ARCHES, type BpfArch} from './arch.js';
export {CompileError, type CompileErrorKind, type Diagnostic} from './errors.js';
export {findClang, findExecutable} from './toolchain.js';
