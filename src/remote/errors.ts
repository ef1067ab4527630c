/**
 * Errors of the remote layer. Each carries the facts as fields so callers can
 * react to them (an errno name, a verifier log) and one place in the CLI can
 * turn them into the message a user reads.
 */

/** bpfd answered a request with an `err` frame. */
export class BpfdError extends Error {
  override readonly name = 'BpfdError'

  constructor(
    /** The operation of the failed request (`map_create`, `prog_load`, ...). */
    readonly op: string,
    /** Symbolic errno name as the target spells it (`ENOENT`). */
    readonly errname: string,
    /** Errno number on the target. */
    readonly errno: number,
    /** The target's message (`bpf(BPF_MAP_CREATE): Invalid argument`). */
    readonly detail: string,
    /** The verifier or BTF log, decoded as text, when bpfd sent one. */
    readonly log?: string,
    /** The request line bpfd pointed at, when it sent `line=`. */
    readonly line?: number,
  ) {
    super(`${op}: ${detail || errname} (${errname})`)
  }
}

/** The byte stream to bpfd could not be set up or died. */
export class TransportError extends Error {
  override readonly name = 'TransportError'
  /** The last lines the child process (bpfd, ssh, adb) wrote to stderr. */
  readonly stderrTail?: string

  constructor(
    /** How the user named the target (`adb:R58M123`, `ssh:pi@host`, `local`). */
    readonly transport: string,
    /** A sentence naming the transport: `connection to adb:X closed: bpfd exited with code 1`. */
    message: string,
    options?: {cause?: unknown; stderrTail?: string},
  ) {
    const tail = options?.stderrTail?.trim()
    super(tail ? `${message}: ${tail}` : message, {cause: options?.cause})
    this.stderrTail = tail || undefined
  }
}

/** bpfd (or whatever is at the other end) sent something the protocol does not allow. */
export class ProtocolError extends Error {
  override readonly name: string = 'ProtocolError'

  constructor(
    message: string,
    /** The offending field, when one field was at fault. */
    readonly field?: string,
    /** The start of the offending line, for diagnosis. */
    readonly frame?: string,
  ) {
    super(message)
  }
}

/** bpfd speaks a different protocol version than this host. */
export class ProtocolVersionError extends ProtocolError {
  override readonly name = 'ProtocolVersionError'

  constructor(
    readonly transport: string,
    readonly hostVersion: number,
    readonly targetVersion: number | undefined,
    detail: string,
  ) {
    super(
      `${transport}: bpfd speaks protocol ${targetVersion ?? '(unknown)'}, this bpftools speaks ${hostVersion}` +
        (detail ? ` (${detail})` : ''),
    )
  }
}

/** A `--remote` string that names no known transport or is malformed. */
export class RemoteSpecError extends Error {
  override readonly name = 'RemoteSpecError'

  constructor(
    readonly spec: string,
    reason: string,
  ) {
    super(
      `invalid remote '${spec}': ${reason}\n` +
        'valid forms: local, shell:CMD, ssh:[USER@]HOST, adb:[SERIAL], tcp:HOST:PORT[?token=FILE], unix:PATH[?token=FILE]',
    )
  }
}

/** The target can be reached but we lack the privilege to run bpfd there. */
export class PermissionError extends Error {
  override readonly name = 'PermissionError'

  constructor(
    readonly transport: string,
    reason: string,
  ) {
    super(`${transport}: ${reason}`)
  }
}
