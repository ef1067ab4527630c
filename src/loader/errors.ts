// Errors of making an object live on a target. Facts in fields; the CLI's
// error report turns them into what the user reads.

/** The verifier (or the kernel's BTF checker) rejected a program. */
export class VerifierError extends Error {
  override readonly name = 'VerifierError'
  /** What the verifier said about the instruction it stopped at. */
  readonly complaint?: string
  /** Index of the instruction the verifier stopped at. */
  readonly insn?: number
  /** `file:line: text` of the C source the verifier stopped at. */
  readonly source?: string

  constructor(
    readonly program: string,
    /** The kernel's errno name (EACCES, EINVAL, E2BIG ...). */
    readonly errname: string,
    /** The verifier's log; the kernel annotates it with source lines from the line info bpftools sends. */
    readonly log: string,
    /** Why a CO-RE relocation the verifier tripped over could not be resolved. */
    readonly coreFailure?: string,
    /** `file:line: text` of the C source the rejected instruction came from (by the instruction's index). */
    source?: string,
  ) {
    const {insn, complaint} = verifierComplaint(log)
    const at = source ?? lastAnnotation(log)
    const why = coreFailure ?? complaint
    super(`the kernel rejected program '${program}' (${errname})${why ? `: ${why}` : ''}${at ? `\n  at ${at}` : ''}`)
    if (at !== undefined) this.source = at
    if (complaint !== undefined) this.complaint = complaint
    if (insn !== undefined) this.insn = insn
  }

  /** The end of the log, where the verifier says what it did not accept. */
  logTail(lines = 30): string {
    const all = this.log.trimEnd().split('\n')
    return (all.length > lines ? ['...', ...all.slice(-lines)] : all).join('\n')
  }
}

const INSN_LINE = /^(\d+): \([0-9a-f]{2}\)/

/**
 * The instruction the verifier stopped at (the last one it printed) and its
 * first words after it; the summary line (`processed N insns`) and source
 * annotations are not complaints.
 */
export function verifierComplaint(log: string): {insn?: number; complaint?: string} {
  const lines = log.split('\n').map((l) => l.trimEnd())
  let last = -1
  lines.forEach((l, i) => {
    if (INSN_LINE.test(l)) last = i
  })
  const words = (l: string) => l !== '' && !l.startsWith(';') && !/^processed \d+ insns/.test(l) && !INSN_LINE.test(l) && !/^(from \d+ to \d+|\d+): R\d/.test(l)
  const complaint = lines.slice(last + 1).find(words) ?? (last < 0 ? lines.filter(words).pop() : undefined)
  const out: {insn?: number; complaint?: string} = {}
  if (last >= 0) out.insn = Number(INSN_LINE.exec(lines[last]!)![1])
  if (complaint) out.complaint = complaint
  return out
}

/** The last `; text @ file:line` the kernel wrote into the log, as `file:line: text`. */
function lastAnnotation(log: string): string | undefined {
  const all = [...log.matchAll(/^; (.*) @ (\S+:\d+)$/gm)]
  const m = all.pop()
  return m ? `${m[2]}: ${m[1]!.trim()}` : undefined
}

/** A program could not be attached where its section name says. */
export class AttachError extends Error {
  override readonly name = 'AttachError'

  constructor(
    readonly program: string,
    readonly target: string,
    readonly errname: string | undefined,
    detail: string,
  ) {
    super(`cannot attach program '${program}' to ${target}: ${detail}`)
  }
}

/** The object asks for something the target cannot give (a map type, BTF, a program type). */
export class LoadError extends Error {
  override readonly name = 'LoadError'
}
