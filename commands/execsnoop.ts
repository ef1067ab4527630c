import {Flags} from '@oclif/core'
import {BaseCommand, dashboardFlag} from '../src/cli/base-command.js'

export default class Execsnoop extends BaseCommand<typeof Execsnoop> {
  static override summary = 'Trace new processes via exec() syscalls, as bcc\'s execsnoop.'
  static override description =
    'Prints one line per exec on the target: the new command name, PID, parent PID, return value and arguments. Arguments are read from the new image, so they are complete even when the caller\'s strings were not paged in.'
  static override examples = [
    {command: '<%= config.bin %> execsnoop', description: 'trace all exec() syscalls'},
    {command: '<%= config.bin %> execsnoop -x', description: 'include failed exec()s'},
    {command: '<%= config.bin %> execsnoop -T -U', description: 'include a time column and UIDs'},
    {command: '<%= config.bin %> execsnoop -q', description: 'add "quotemarks" around arguments'},
    {command: '<%= config.bin %> execsnoop -n main', description: 'only print command lines whose name matches "main"'},
    {command: '<%= config.bin %> execsnoop -l tpkg', description: 'only print commands where an argument contains "tpkg"'},
    {command: '<%= config.bin %> execsnoop -P 181 --remote ssh:pi@raspberry', description: 'only children of PID 181, on another machine'},
  ]

  static override flags = {
    dashboard: dashboardFlag,
    time: Flags.boolean({char: 'T', summary: 'Include a time column (HH:MM:SS).'}),
    timestamp: Flags.boolean({char: 't', summary: 'Include a timestamp column (seconds since start).'}),
    fails: Flags.boolean({char: 'x', summary: 'Include failed exec()s.'}),
    uid: Flags.integer({char: 'u', summary: 'Trace this UID only.', min: 0}),
    quote: Flags.boolean({char: 'q', summary: 'Add quotemarks (") around arguments.'}),
    name: Flags.string({char: 'n', summary: 'Only print commands whose name matches this regex.'}),
    line: Flags.string({char: 'l', summary: 'Only print commands whose arguments match this regex.'}),
    'print-uid': Flags.boolean({char: 'U', summary: 'Print a UID column.'}),
    'max-args': Flags.integer({summary: 'Maximum number of arguments parsed and displayed.', default: 20, min: 1}),
    ppid: Flags.integer({char: 'P', summary: 'Trace this parent PID only.', min: 0}),
    duration: Flags.integer({char: 'd', summary: 'Total duration of the trace, in seconds.', min: 1}),
  }

  public async run(): Promise<void> {
    const f = this.flags
    const regex = (flag: string, text: string | undefined) => {
      if (text === undefined) return undefined
      try {
        return new RegExp(text)
      } catch (e) {
        this.error(`--${flag}: not a regular expression: ${(e as Error).message}`, {exit: 2})
      }
    }
    const options = {
      time: f.time,
      timestamp: f.timestamp,
      failed: f.fails,
      uid: f.uid,
      quote: f.quote,
      name: regex('name', f.name),
      line: regex('line', f.line),
      printUid: f['print-uid'],
      maxArgs: f['max-args'],
      ppid: f.ppid,
    }
    if (f.dashboard) {
      this.oneTargetOnly('--dashboard', 'its panes show one target')
      const {dashboardRefusal} = await import('../src/dashboard/terminal.js')
      const refusal = dashboardRefusal()
      if (refusal) this.error(refusal, {exit: 2})
    }
    const [{runExecsnoop}, {runEventTool}] = await Promise.all([import('../src/tools/execsnoop/run.js'), import('../src/cli/run-events.js')])
    if (this.severalTargets) {
      await this.eachTargetLabelled((ctx, t) => runExecsnoop(t.client, options, {...ctx, durationSec: f.duration}))
      return
    }
    const client = await this.connect()
    if (f.dashboard) {
      const {execsnoopDashboard} = await import('../src/dashboard/execsnoop.js')
      await execsnoopDashboard(client, options, {title: [this.id, ...this.argv].join(' '), machine: f.arch, verbose: f.verbose, durationSec: f.duration})
      return
    }
    await runEventTool({json: f.json, machine: f.arch, logger: this.logger}, (ctx) => runExecsnoop(client, options, {...ctx, durationSec: f.duration}))
  }
}
