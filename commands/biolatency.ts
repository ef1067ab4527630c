import {Args, Flags} from '@oclif/core'
import {BaseCommand, dashboardFlag} from '../src/cli/base-command.js'

export default class Biolatency extends BaseCommand<typeof Biolatency> {
  static override summary = 'Summarize block device I/O latency as a histogram, as bcc\'s biolatency.'
  static override description =
    'Times each block request on the target from its issue to the device (or from its insertion into the queue, with -Q) to its completion, using the block tracepoints, and prints a log2 histogram of the latencies every INTERVAL seconds, COUNT times (or once, at Ctrl-C).'

  static override examples = [
    {command: '<%= config.bin %> biolatency', description: 'summarize block I/O latency until Ctrl-C'},
    {command: '<%= config.bin %> biolatency -mT 1', description: 'print 1 second summaries, milliseconds, with timestamps'},
    {command: '<%= config.bin %> biolatency -Q', description: 'include the time requests wait in the OS queue'},
    {command: '<%= config.bin %> biolatency -D 10 1', description: 'one 10 second histogram per disk'},
    {command: '<%= config.bin %> biolatency -F', description: 'a histogram per set of I/O flags'},
    {command: '<%= config.bin %> biolatency -d vda -j 5 3', description: 'disk vda only, three 5 second histograms as JSON lines'},
  ]

  static override args = {
    interval: Args.integer({description: 'Seconds between histograms.', min: 1}),
    count: Args.integer({description: 'Number of histograms to print.', min: 1}),
  }

  // bcc's -j is --json here, which every command has.
  static override baseFlags = {
    ...BaseCommand.baseFlags,
    json: {...BaseCommand.baseFlags.json, char: 'j' as const, summary: 'Print each histogram as a JSON line.'},
  }

  static override flags = {
    dashboard: dashboardFlag,
    timestamp: Flags.boolean({char: 'T', summary: 'Include a timestamp on output.'}),
    queued: Flags.boolean({char: 'Q', summary: 'Include the time in the OS queue.'}),
    milliseconds: Flags.boolean({char: 'm', summary: 'Histograms in milliseconds.'}),
    disks: Flags.boolean({char: 'D', summary: 'A histogram per disk.', exclusive: ['flags']}),
    flags: Flags.boolean({char: 'F', summary: 'A histogram per set of I/O flags.', exclusive: ['disks']}),
    extension: Flags.boolean({char: 'e', summary: 'Also print the average and total latency.'}),
    merge: Flags.boolean({summary: 'With several targets: print one histogram of all of them instead of one per target.'}),
    disk: Flags.string({char: 'd', summary: 'Trace this disk only (a name from /sys/block, e.g. sda or vda).'}),
  }

  public async run(): Promise<void> {
    const f = this.flags
    const [{runBiolatency, timeRequests}, {runEventTool}, {BiolatencyUsageError, checkOptions}] = await Promise.all([
      import('../src/tools/biolatency/run.js'),
      import('../src/cli/run-events.js'),
      import('../src/tools/biolatency/options.js'),
    ])
    const options = {
      intervalSec: this.args.interval,
      count: this.args.count,
      timestamp: f.timestamp,
      queued: f.queued,
      milliseconds: f.milliseconds,
      perDisk: f.disks,
      perFlag: f.flags,
      extended: f.extension,
      disk: f.disk,
    }
    if (f.dashboard) {
      this.oneTargetOnly('--dashboard', 'its panes show one target')
      const {dashboardRefusal} = await import('../src/dashboard/terminal.js')
      const refusal = dashboardRefusal()
      if (refusal) this.error(refusal, {exit: 2})
    }
    try {
      checkOptions(options)
      if (this.severalTargets) {
        const {biolatencyTargetsOutput} = await import('../src/tools/biolatency/sink.js')
        await this.eachTargetCollated(
          (out) => biolatencyTargetsOutput(options, out, this.targetNames, f.merge),
          async (ctx, t, out, interval) => (await timeRequests(t.client, options, ctx, {start: () => out.start(), interval})).requests,
        )
        return
      }
      const client = await this.connect()
      if (f.dashboard) {
        const {biolatencyDashboard} = await import('../src/dashboard/biolatency.js')
        await biolatencyDashboard(client, options, {title: [this.id, ...this.argv].join(' '), machine: f.arch, verbose: f.verbose})
        return
      }
      await runEventTool({json: f.json, machine: f.arch, logger: this.logger}, async (ctx) => {
        const r = await runBiolatency(client, options, ctx)
        return {records: r.requests, lost: 0}
      })
    } catch (e) {
      if (e instanceof BiolatencyUsageError) this.error(e.message, {exit: 2})
      throw e
    }
  }
}
