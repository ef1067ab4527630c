// Instruction index → source line, from a program's line_info and the BTF
// strings it points at (for annotating verifier rejections).

import type {Btf} from './btf.js';
import type {FunctionLayout, LineInfo} from './types.js';

export interface SourceLine {
  /** The function the instruction belongs to. */
  func?: string;
  /** Instruction index the line record starts at. */
  insnOff: number;
  file: string;
  line: number;
  col: number;
  /** The source text of the line as clang recorded it. */
  text: string;
}

/** Finds the source line an instruction was compiled from (undefined without line info). */
export function sourceLineAt(
  prog: {lineInfo: readonly LineInfo[]; functions?: readonly FunctionLayout[]},
  btf: Btf,
  insnIndex: number,
): SourceLine | undefined {
  const fn = prog.functions?.find((f) => insnIndex >= f.start && insnIndex < f.start + f.length);
  const floor = fn ? fn.start : 0;
  const li = prog.lineInfo;
  // Last record at or before insnIndex (records are sorted by insnOff).
  let lo = 0;
  let hi = li.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (li[mid]!.insnOff <= insnIndex) {
      best = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  // Line 0 marks compiler-made code: report the nearest real line before it.
  while (best >= 0 && li[best]!.line === 0) best--;
  if (best < 0) return undefined;
  const rec = li[best]!;
  if (rec.insnOff < floor) return undefined;
  const out: SourceLine = {
    insnOff: rec.insnOff,
    file: btf.string(rec.fileNameOff),
    line: rec.line,
    col: rec.col,
    text: btf.string(rec.lineOff),
  };
  if (fn) out.func = fn.name;
  return out;
}

/** `file:line: source text` (the file's base name unless `fullPath`). */
export function formatSourceLine(s: SourceLine, options: {fullPath?: boolean} = {}): string {
  const file = options.fullPath ? s.file : s.file.slice(s.file.lastIndexOf('/') + 1);
  return `${file}:${s.line}: ${s.text.trim()}`;
}

/** sourceLineAt + formatSourceLine in one call; undefined when there is no line info. */
export function describeInsn(
  prog: {lineInfo: readonly LineInfo[]; functions?: readonly FunctionLayout[]},
  btf: Btf,
  insnIndex: number,
  options: {fullPath?: boolean} = {},
): string | undefined {
  const s = sourceLineAt(prog, btf, insnIndex);
  return s && formatSourceLine(s, options);
}
