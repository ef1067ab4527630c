/**
 * The base every bpftools command extends: the shared flags (--remote,
 * --json, --verbose, --arch), connecting to the target, and turning known
 * errors into a short message and a documented exit code.
 */
import {Command, Flags, type Interfaces} from '@oclif/core'
import type {Client} from '../remote/client.js'
import type {Logger} from '../remote/transport.js'
import {readUserConfig} from './config.js'
import {startSpinner} from './progress.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override baseFlags = {
    remote: Flags.string({
      char: 'r',
      summary: 'Target to run on.',
      description:
        'local (this machine, as root), adb:[SERIAL], ssh:[USER@]HOST, tcp:HOST:PORT[?token=FILE], unix:PATH[?token=FILE], or shell:CMD (CMD speaks the bpfd protocol on its stdio).',
      env: 'BPFTOOLS_REMOTE',
      default: async () => readUserConfig().remote ?? 'local',
      defaultHelp: async () => 'local, or "remote" in the config file',
      helpGroup: 'GLOBAL',
    }),
    json: Flags.boolean({summary: 'Print JSON instead of text.', helpGroup: 'GLOBAL'}),
    dashboard: Flags.boolean({summary: 'Show a live terminal dashboard instead of text.', exclusive: ['json'], helpGroup: 'GLOBAL'}),
    verbose: Flags.boolean({summary: 'Report what happens on the way (uploads, round trips, full verifier logs).', helpGroup: 'GLOBAL'}),
    arch: Flags.string({
      summary: 'Target architecture (x86_64, aarch64), instead of what the target reports.',
      helpGroup: 'GLOBAL',
    }),
  }

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  private client: Client | undefined

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

  /** Connects to the target named by --remote; the connection is closed when the command ends. */
  protected async connect(): Promise<Client> {
    if (this.client) return this.client
    const [{parseRemote}, {Client}] = await Promise.all([
      import('../remote/transports/parse.js'),
      import('../remote/client.js'),
    ])
    const transport = parseRemote(this.flags.remote)
    this.logger.debug(`connecting to ${transport.description}`)
    this.client = await Client.connect(transport, {logger: this.logger, arch: this.flags.arch})
    return this.client
  }

  public override async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    const {reportError} = await import('./error-report.js')
    const report = reportError(error, {verbose: this.flags?.verbose})
    if (!report) return super.catch(error)
    this.logToStderr(`bpftools: ${report.message}`)
    this.exit(report.exitCode)
  }

  public override async finally(error: Error | undefined): Promise<unknown> {
    const client = this.client
    this.client = undefined
    if (client) {
      if (this.flags.verbose) {
        const s = client.stats
        this.logToStderr(
          `bpftools: ${client.transport}: ${s.requests} requests in ${s.roundTrips} round trips, ` +
            `${s.bytesSent} bytes sent, ${s.bytesReceived} received, ${s.eventFrames} event frames`,
        )
      }
      await client.close()
    }
    return super.finally(error)
  }
}
