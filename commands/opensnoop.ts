import {Flags} from '@oclif/core'
import {BaseCommand, dashboardFlag} from '../src/cli/base-command.js'

export default class Opensnoop extends BaseCommand<typeof Opensnoop> {
  static override summary = 'Trace open() syscalls, as bcc\'s opensnoop.'
  static override description = 'Prints one line per open(2), openat(2) or openat2(2) on the target: PID, COMM, FD (or -1) and ERR, and the path.'
  static override examples = [
    {command: '<%= config.bin %> opensnoop', description: 'trace all open() syscalls on this machine'},
    {command: '<%= config.bin %> opensnoop -T -U', description: 'include timestamps and UIDs'},
    {command: '<%= config.bin %> opensnoop -x', description: 'only show failed opens'},
    {command: '<%= config.bin %> opensnoop -p 181', description: 'only trace PID 181'},
    {command: '<%= config.bin %> opensnoop -n main -d 10', description: 'only process names containing "main", for 10 seconds'},
    {command: '<%= config.bin %> opensnoop -e -f O_WRONLY -f O_RDWR', description: 'only opens for writing, with their flags'},
    {command: '<%= config.bin %> opensnoop -F --remote adb:', description: 'full paths, on the only adb device'},
  ]

  static override flags = {
    dashboard: dashboardFlag,
    timestamp: Flags.boolean({char: 'T', summary: 'Include a timestamp column (seconds since the first event).'}),
    'print-uid': Flags.boolean({char: 'U', summary: 'Print a UID column.'}),
    failed: Flags.boolean({char: 'x', summary: 'Only show failed opens.'}),
    pid: Flags.integer({char: 'p', summary: 'Trace this PID only.', min: 1}),
    tid: Flags.integer({char: 't', summary: 'Trace this TID only.', min: 1}),
    uid: Flags.integer({char: 'u', summary: 'Trace this UID only.', min: 0}),
    duration: Flags.integer({char: 'd', summary: 'Total duration of the trace, in seconds.', min: 1}),
    name: Flags.string({char: 'n', summary: 'Only print process names containing this name.'}),
    extended_fields: Flags.boolean({char: 'e', summary: 'Show extended fields (flags and mode). Also --extended-fields.', aliases: ['extended-fields']}),
    flag_filter: Flags.string({char: 'f', summary: 'Only opens with this flag, named as in C (O_WRONLY); repeatable. Also --flag-filter.', multiple: true, aliases: ['flag-filter']}),
    'full-path': Flags.boolean({char: 'F', summary: 'Show the full path of a file opened with a relative path.'}),
    'buffer-pages': Flags.integer({char: 'b', summary: 'Size of the event ring buffer, in pages (a power of two).', default: 1024, min: 1}),
  }

  public async run(): Promise<void> {
    const f = this.flags
    const pages = f['buffer-pages']
    if ((pages & (pages - 1)) !== 0) this.error(`--buffer-pages must be a power of two, not ${pages}`, {exit: 2})
    if (f.dashboard) {
      this.oneTargetOnly('--dashboard', 'its panes show one target')
      const {dashboardRefusal} = await import('../src/dashboard/terminal.js')
      const refusal = dashboardRefusal()
      if (refusal) this.error(refusal, {exit: 2})
    }
    const options = {
      timestamp: f.timestamp,
      printUid: f['print-uid'],
      failedOnly: f.failed,
      pid: f.pid,
      tid: f.tid,
      uid: f.uid,
      durationSec: f.duration,
      name: f.name,
      extended: f.extended_fields,
      flags: f.flag_filter ?? [],
      fullPath: f['full-path'],
      bufferPages: pages,
    }
    const [{runOpensnoop}, {runEventTool}] = await Promise.all([import('../src/tools/opensnoop/run.js'), import('../src/cli/run-events.js')])
    if (this.severalTargets) {
      await this.eachTargetLabelled((ctx, t) => runOpensnoop(t.client, options, ctx))
      return
    }
    const client = await this.connect()
    if (f.dashboard) {
      const {opensnoopDashboard} = await import('../src/dashboard/opensnoop.js')
      await opensnoopDashboard(client, options, {title: [this.id, ...this.argv].join(' '), machine: f.arch, verbose: f.verbose})
      return
    }
    await runEventTool({json: f.json, machine: f.arch, logger: this.logger}, (ctx) => runOpensnoop(client, options, ctx))
  }
}
