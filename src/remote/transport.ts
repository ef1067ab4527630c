/**
 * What every transport provides: a way to open a byte stream to a bpfd.
 * Transports move bytes and nothing else; the Client speaks the protocol.
 */
import type {Readable, Writable} from 'node:stream'

/** Where transports report what they do (uploading bpfd, using su, ...). */
export interface Logger {
  /** Something the user should know about. */
  info(message: string): void
  /** Details for `--verbose`. */
  debug(message: string): void
  /** A slow step has begun (a first compile, a download from the target); call the result when it ends. */
  progress?(label: string): () => void
}

export const silentLogger: Logger = {
  info() {},
  debug() {},
}

/** An open byte stream to a bpfd. */
export interface Channel {
  /** Bytes from bpfd. */
  readonly readable: Readable
  /** Bytes to bpfd. */
  readonly writable: Writable
  /** Sent as `auth token=...` before anything else when present. */
  readonly authToken?: string
  /**
   * Why the stream ended, for an error message: child exit status and stderr
   * tail, or the socket error. Called once the readable side has ended or
   * failed; waits briefly for a child process to be reaped.
   */
  endReason(): Promise<EndReason>
  /** Ends the stream at once: kills a child process, destroys a socket. */
  destroy(): void
}

export interface EndReason {
  /** e.g. `bpfd exited with code 1`, `ssh exited with status 255`, `connection reset`. */
  readonly reason: string
  readonly stderrTail?: string
}

export interface OpenOptions {
  readonly logger?: Logger
  /** Target architecture override (`x86_64`, `aarch64`) for picking the bpfd binary. */
  readonly arch?: string
}

export interface Transport {
  /** How the user names this target: `local`, `adb:R58M123`, `tcp:127.0.0.1:5555`. */
  readonly description: string
  open(options?: OpenOptions): Promise<Channel>
}
