/**
 * The exit codes every bpftools command uses. Scripts may rely on them.
 */
export const ExitCode = {
  /** Success. */
  OK: 0,
  /** The work failed on the target (a kernel error, a verifier rejection) or an unexpected error. */
  FAILURE: 1,
  /** Bad command line: unknown flag, invalid value, malformed --remote. */
  USAGE: 2,
  /** The target could not be reached, or the connection to it died. */
  UNREACHABLE: 3,
  /** Not privileged enough: not root locally, no root/su on the device, EPERM/EACCES from the kernel, a rejected token. */
  PERMISSION: 4,
  /** bpfd sent something this bpftools does not understand (including another protocol version). */
  PROTOCOL: 5,
} as const

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]
