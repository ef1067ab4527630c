// Errors of making an object live on a target. Facts in fields; the CLI's
// error report turns them into what the user reads.

/** The verifier (or the kernel's BTF checker) rejected a program. */
export class VerifierError extends Error {
  override readonly name = 'VerifierError'

  constructor(
    readonly program: string,
    /** The kernel's errno name (EACCES, EINVAL, E2BIG ...). */
    readonly errname: string,
    /** The verifier's log; the kernel annotates it with source lines from the line info bpftools sends. */
    readonly log: string,
    /** Why a CO-RE relocation the verifier tripped over could not be resolved. */
    readonly coreFailure?: string,
  ) {
    super(`the kernel rejected program '${program}' (${errname})${coreFailure ? `: ${coreFailure}` : ''}`)
  }

  /** The end of the log, where the verifier says what it did not accept. */
  logTail(lines = 30): string {
    const all = this.log.trimEnd().split('\n')
    return (all.length > lines ? ['...', ...all.slice(-lines)] : all).join('\n')
  }
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
