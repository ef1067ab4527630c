// Runs one tool on several targets at once: connects to each concurrently,
// runs the same model per client, and when one target fails (unreachable,
// no privilege, no BTF, its connection dying mid-run) reports it on stderr as
// `bpftools: TARGET: message` while the others go on.
import type {Client} from '../remote/client.js'
import type {Logger} from '../remote/transport.js'
import {reportError} from './error-report.js'
import {ExitCode} from './exit-codes.js'
import type {RemoteTarget} from './remotes.js'

export type Target = {
  /** Position in the list of targets: the order output is printed in. */
  index: number
  name: string
  client: Client
  /** Messages naming this target. */
  logger: Logger
}

export type TargetFailure = {name: string; message: string; exitCode: ExitCode}

export type FanOutOptions = {
  connect(remote: string, logger: Logger): Promise<Client>
  /** Where every message goes; each target's are prefixed with its name. */
  logger: Logger
  verbose?: boolean
  /** Called once per target when it is done, finished or failed, so output waiting on every target need not wait for it. */
  onEnd?(index: number): void | Promise<void>
}

/** A logger whose messages name the target. Spinners are left out: several would overwrite one another. */
export function targetLogger(name: string, base: Logger): Logger {
  return {
    info: (message) => base.info(`${name}: ${message}`),
    debug: (message) => base.debug(`${name}: ${message}`),
  }
}

/** The message of a target's failure, without the target's name when it already starts with it. */
export function failureOf(name: string, error: unknown, verbose = false): TargetFailure {
  const report = reportError(error, {verbose})
  let message = report?.message ?? (error instanceof Error ? error.message : String(error))
  if (message.startsWith(`${name}: `)) message = message.slice(name.length + 2)
  return {name, message, exitCode: report?.exitCode ?? ExitCode.FAILURE}
}

/** Runs `run` on every target concurrently; resolves when all are done, with the failures in target order. */
export async function onEveryTarget(
  targets: readonly RemoteTarget[],
  o: FanOutOptions,
  run: (t: Target) => Promise<unknown>,
): Promise<TargetFailure[]> {
  const failures: (TargetFailure | undefined)[] = await Promise.all(
    targets.map(async ({remote, name}, index) => {
      const logger = targetLogger(name, o.logger)
      try {
        const client = await o.connect(remote, logger)
        await run({index, name, client, logger})
        return undefined
      } catch (e) {
        const failure = failureOf(name, e, o.verbose)
        o.logger.info(`${name}: ${failure.message}`)
        return failure
      } finally {
        await o.onEnd?.(index)
      }
    }),
  )
  return failures.filter((f): f is TargetFailure => f !== undefined)
}
