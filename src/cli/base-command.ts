/**
 * The base every bpftools command extends: the shared flags (--remote,
 * --remotes-file, --json, --verbose, --arch), connecting to the target or
 * running a tool on every target (src/cli/fan-out.ts), and turning known
 * errors into a short message and a documented exit code.
 */
import {Command, Flags, type Interfaces} from '@oclif/core'
import {readFileSync} from 'node:fs'
import type {Client} from '../remote/client.js'
import type {Logger} from '../remote/transport.js'
import {readUserConfig} from './config.js'
import {ExitCode} from './exit-codes.js'
import type {Interval} from './collate-intervals.js'
import type {Target} from './fan-out.js'
import type {EventRunContext} from './run-events.js'
import type {PumpResult} from '../tools/event-pump.js'
import {startSpinner} from './progress.js'
import {chooseRemotes, RemotesError, type RemoteTarget} from './remotes.js'

/** --dashboard, for the tools that have a live view (not every command has one). */
export const dashboardFlag = Flags.boolean({summary: 'Show a live terminal dashboard instead of text.', exclusive: ['json']})

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override baseFlags = {
    remote: Flags.string({
      char: 'r',
      summary: 'Target to run on; repeat it to run on several targets at once.',
      description:
        'local (this machine, as root), adb[:SERIAL], ssh:[USER@]HOST, tcp:HOST:PORT[?token=FILE], unix:PATH[?token=FILE], or shell:CMD (CMD speaks the bpfd protocol on its stdio). Without --remote or --remotes-file: $BPFTOOLS_REMOTE, else "remote" in the config file, else local.',
      multiple: true,
      // `-r a FILE` must leave FILE to the command's argument.
      multipleNonGreedy: true,
      helpGroup: 'GLOBAL',
    }),
    'remotes-file': Flags.string({
      summary: 'Also run on every target named in this file: one remote a line, # starts a comment line.',
      helpGroup: 'GLOBAL',
    }),
    json: Flags.boolean({summary: 'Print JSON instead of text.', helpGroup: 'GLOBAL'}),
    verbose: Flags.boolean({summary: 'Report what happens on the way (uploads, round trips, full verifier logs).', helpGroup: 'GLOBAL'}),
    arch: Flags.string({
      summary: 'Target architecture (x86_64, aarch64), instead of what the target reports.',
      helpGroup: 'GLOBAL',
    }),
  }

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  private readonly clients: Client[] = []
  private remoteTargets: RemoteTarget[] | undefined

  public override async init(): Promise<void> {
    await super.init()
    const {args, flags} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.args = args as BaseArgs<T>
    const cacheDir = readUserConfig().cacheDir
    if (cacheDir && !process.env.BPFTOOLS_CACHE_DIR) process.env.BPFTOOLS_CACHE_DIR = cacheDir
    // One --arch for targets of different machines would compile some for the wrong one.
    if (this.flags.arch !== undefined) this.oneTargetOnly('--arch', 'each of several targets is compiled for the architecture it reports')
  }

  /** Messages for the user go to stderr so stdout stays clean for data. */
  protected get logger(): Logger {
    return {
      info: (message) => this.logToStderr(`bpftools: ${message}`),
      debug: (message) => {
        if (this.flags.verbose) this.logToStderr(`bpftools: ${message}`)
      },
      progress: (label) => startSpinner(label),
    }
  }

  /** Every target to run on: --remote and --remotes-file, else the default one. */
  protected targets(): RemoteTarget[] {
    if (this.remoteTargets) return this.remoteTargets
    const fileName = this.flags['remotes-file']
    let file: {name: string; text: string} | undefined
    if (fileName !== undefined) {
      try {
        file = {name: fileName, text: readFileSync(fileName, 'utf8')}
      } catch (e) {
        throw new RemotesError(`--remotes-file ${fileName}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
      }
    }
    const defaults = [process.env.BPFTOOLS_REMOTE, fileName === undefined && !this.flags.remote?.length ? readUserConfig().remote : undefined]
    this.remoteTargets = chooseRemotes({flags: this.flags.remote ?? [], file, defaults})
    return this.remoteTargets
  }

  /** Whether more than one target was named, so output is labelled per target. */
  protected get severalTargets(): boolean {
    return this.targets().length > 1
  }

  /** Refuses a flag that makes no sense with several targets (exit 2). */
  protected oneTargetOnly(flag: string, why: string): void {
    if (this.severalTargets) this.usageError(`${flag} works on one target only (${why}); ${this.targets().length} were given`)
  }

  /** A bad command line: one line on stderr, exit code 2. */
  protected usageError(message: string): never {
    this.logToStderr(`bpftools: ${message}`)
    return this.exit(ExitCode.USAGE)
  }

  /** Connects to `remote`; every connection is closed when the command ends. */
  protected async connectTo(remote: string, logger: Logger = this.logger): Promise<Client> {
    const [{parseRemote}, {Client}] = await Promise.all([
      import('../remote/transports/parse.js'),
      import('../remote/client.js'),
    ])
    const transport = parseRemote(remote)
    logger.debug(`connecting to ${transport.description}`)
    const client = await Client.connect(transport, {logger, arch: this.flags.arch})
    this.clients.push(client)
    return client
  }

  /** Connects to the one target (the first, when a command takes one only). */
  protected async connect(): Promise<Client> {
    if (this.clients[0]) return this.clients[0]
    return this.connectTo(this.targets()[0]!.remote)
  }

  /**
   * Runs `run` on every target concurrently; a failing target is reported as
   * `bpftools: TARGET: message` and the others go on. Exits non-zero (the
   * first failure's code) when any failed.
   */
  protected async onEveryTarget(run: (t: Target) => Promise<unknown>, onEnd?: (index: number) => void | Promise<void>): Promise<void> {
    const {onEveryTarget} = await import('./fan-out.js')
    const failures = await onEveryTarget(
      this.targets(),
      {connect: (remote, logger) => this.connectTo(remote, logger), logger: this.logger, verbose: this.flags.verbose, onEnd},
      run,
    )
    if (failures.length) this.exit(failures[0]!.exitCode)
  }

  /**
   * Runs an event tool on every target under one Ctrl-C and one stdout,
   * each target's lines labelled with its name (TARGET column, "target"
   * field).
   */
  protected async eachTargetLabelled(run: (ctx: EventRunContext, t: Target) => Promise<PumpResult>): Promise<void> {
    const [{runEventTool, lostMessage}, {labelledOutputs}] = await Promise.all([import('./run-events.js'), import('./labelled-output.js')])
    const names = this.targetNames
    await runEventTool({json: this.flags.json, machine: this.flags.arch, logger: this.logger}, async (ctx) => {
      const outputs = labelledOutputs(names, ctx)
      let records = 0
      await this.onEveryTarget(
        async (t) => {
          const r = await run({...ctx, ...outputs.forTarget(t.index), logger: t.logger}, t)
          records += r.records
          if (r.lost > 0) t.logger.info(lostMessage(r.lost))
        },
        (index) => outputs.end(index),
      )
      return {records, lost: 0}
    })
  }

  /**
   * Runs an aggregating tool on every target under one Ctrl-C and one
   * stdout: each interval is printed once every target has delivered it
   * (or is done), by the output `output` makes. `run` returns what it counted.
   */
  protected async eachTargetCollated<I extends Interval, O extends {intervals(parts: readonly (I | undefined)[]): Promise<void>}>(
    output: (out: EventRunContext) => O,
    run: (ctx: EventRunContext, t: Target, out: O, interval: (i: I) => Promise<void>) => Promise<number>,
  ): Promise<void> {
    const [{runEventTool}, {collateIntervals}] = await Promise.all([import('./run-events.js'), import('./collate-intervals.js')])
    await runEventTool({json: this.flags.json, machine: this.flags.arch, logger: this.logger}, async (ctx) => {
      const out = output(ctx)
      const collator = collateIntervals<I>(this.targets().length, (parts) => out.intervals(parts))
      let records = 0
      await this.onEveryTarget(
        async (t) => {
          // Not `records += await ...`: that reads `records` before the targets run concurrently, and the last to finish would win.
          const counted = await run({...ctx, logger: t.logger}, t, out, (i) => collator.add(t.index, i))
          records += counted
        },
        (index) => collator.end(index),
      )
      return {records, lost: 0}
    })
  }

  /** The names output is labelled with, in target order. */
  protected get targetNames(): string[] {
    return this.targets().map((t) => t.name)
  }

  public override async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    const {reportError} = await import('./error-report.js')
    const report = reportError(error, {verbose: this.flags?.verbose})
    if (!report) return super.catch(error)
    this.logToStderr(`bpftools: ${report.message}`)
    this.exit(report.exitCode)
  }

  public override async finally(error: Error | undefined): Promise<unknown> {
    const clients = this.clients.splice(0)
    await Promise.all(
      clients.map(async (client) => {
        if (this.flags.verbose) {
          const s = client.stats
          this.logToStderr(
            `bpftools: ${client.transport}: ${s.requests} requests in ${s.roundTrips} round trips, ` +
              `${s.bytesSent} bytes sent, ${s.bytesReceived} received, ${s.eventFrames} event frames`,
          )
        }
        await client.close().catch(() => undefined)
      }),
    )
    return super.finally(error)
  }
}
