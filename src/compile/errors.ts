/** One clang diagnostic line (`file:line:col: error: message`). */
export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  severity: 'error' | 'fatal error' | 'warning' | 'note';
  message: string;
}

export type CompileErrorKind =
  | 'clang-missing' // no clang executable
  | 'headers-missing' // a system header (bpf/bpf_helpers.h, asm/types.h...) is not installed
  | 'source-missing' // the source file cannot be read
  | 'diagnostics' // clang rejected the program
  | 'unsupported-arch'
  | 'failed'; // anything else (clang crashed, cache unwritable...)

/**
 * Compiling BPF C failed. `message` is what a user reads; the fields carry
 * the facts: which source, clang's trimmed stderr and parsed diagnostics, and
 * the Debian package that would fix a missing tool or header.
 */
export class CompileError extends Error {
  override readonly name = 'CompileError';
  readonly kind: CompileErrorKind;
  /** Source path (or the name given to inline code). */
  readonly source?: string;
  /** clang's stderr, trimmed to a readable length. */
  readonly stderr: string;
  readonly diagnostics: Diagnostic[];
  readonly exitCode?: number;
  /** Debian package that provides what is missing. */
  readonly package?: string;
  /** The header clang could not find. */
  readonly missingHeader?: string;
  /** The clang command line, for reproducing. */
  readonly command?: string[];

  constructor(kind: CompileErrorKind, message: string, facts: {
    source?: string; stderr?: string; diagnostics?: Diagnostic[]; exitCode?: number;
    package?: string; missingHeader?: string; command?: string[]; cause?: unknown;
  } = {}) {
    super(message, facts.cause === undefined ? undefined : {cause: facts.cause});
    this.kind = kind;
    this.stderr = facts.stderr ?? '';
    this.diagnostics = facts.diagnostics ?? [];
    if (facts.source !== undefined) this.source = facts.source;
    if (facts.exitCode !== undefined) this.exitCode = facts.exitCode;
    if (facts.package !== undefined) this.package = facts.package;
    if (facts.missingHeader !== undefined) this.missingHeader = facts.missingHeader;
    if (facts.command !== undefined) this.command = facts.command;
  }
}
