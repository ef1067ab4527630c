/**
 * The one place that turns known errors into what a user reads and the exit
 * code a script sees (pure: the command prints it).
 */
import {
  BpfdError,
  PermissionError,
  ProtocolError,
  RemoteSpecError,
  TransportError,
} from '../remote/errors.js'
import {ExitCode} from './exit-codes.js'
import {AttachError, LoadError, VerifierError} from '../loader/errors.js'
import {CompileError} from '../compile/errors.js'
import {ObjectError} from '../object/errors.js'
import {OpenFlagError} from '../tools/opensnoop/open-flags.js'
import {RecordError} from '../tools/record-layout.js'
import {RunOptionError} from '../tools/run/options.js'
import {ConfigError} from './config.js'
import {RemotesError} from './remotes.js'

export interface ErrorReport {
  readonly message: string
  readonly exitCode: ExitCode
}

/** Lines of a verifier log shown without --verbose: its end says what went wrong. */
const LOG_TAIL_LINES = 30

function logExcerpt(log: string, verbose: boolean): string {
  const lines = log.trimEnd().split('\n')
  if (verbose || lines.length <= LOG_TAIL_LINES) return lines.join('\n')
  return [`... (${lines.length - LOG_TAIL_LINES} earlier lines; --verbose shows all)`, ...lines.slice(-LOG_TAIL_LINES)].join('\n')
}

/** The report for a known error; undefined for errors the CLI framework should handle. */
export function reportError(error: unknown, options: {verbose?: boolean} = {}): ErrorReport | undefined {
  const verbose = options.verbose ?? false
  if (error instanceof BpfdError) {
    let message = error.message
    if (error.log?.trim()) message += `\n${logExcerpt(error.log, verbose)}`
    const denied = error.errname === 'EPERM' || error.errname === 'EACCES'
    return {message, exitCode: denied ? ExitCode.PERMISSION : ExitCode.FAILURE}
  }
  if (error instanceof RemoteSpecError) return {message: error.message, exitCode: ExitCode.USAGE}
  if (error instanceof PermissionError) return {message: error.message, exitCode: ExitCode.PERMISSION}
  if (error instanceof TransportError) return {message: error.message, exitCode: ExitCode.UNREACHABLE}
  if (error instanceof VerifierError) {
    const exitCode = error.errname === 'EPERM' ? ExitCode.PERMISSION : ExitCode.FAILURE
    return {message: `${error.message}\nverifier log:\n${logExcerpt(error.log, verbose)}`, exitCode}
  }
  if (error instanceof AttachError) {
    const exitCode = error.errname === 'EPERM' || error.errname === 'EACCES' ? ExitCode.PERMISSION : ExitCode.FAILURE
    return {message: error.message, exitCode}
  }
  if (error instanceof LoadError || error instanceof CompileError || error instanceof RecordError) {
    return {message: error.message, exitCode: ExitCode.FAILURE}
  }
  if (error instanceof ObjectError) return {message: `not a usable BPF object: ${error.message}`, exitCode: ExitCode.FAILURE}
  if (error instanceof OpenFlagError || error instanceof ConfigError || error instanceof RemotesError || error instanceof RunOptionError) return {message: error.message, exitCode: ExitCode.USAGE}
  if (error instanceof ProtocolError) {
    const frame = verbose && error.frame ? `\nline: ${error.frame}` : ''
    return {message: error.message + frame, exitCode: ExitCode.PROTOCOL}
  }
  return undefined
}
