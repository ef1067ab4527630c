import {Args, Flags} from '@oclif/core'
import {BaseCommand, dashboardFlag} from '../src/cli/base-command.js'

export default class Stackcount extends BaseCommand<typeof Stackcount> {
  static override summary = 'Count the stacks that lead to an event, as bcc\'s stackcount.'
  static override description = [
    'Counts how often each distinct kernel and user stack reached the event, and prints each stack (leaf first) with its count, the most frequent last.',
    '',
    'PATTERN is t:CATEGORY:EVENT for a tracepoint (wildcards allowed: t:block:*), k:FUNCTION or FUNCTION for a kernel function (kprobes; not every kernel has them), or u:LIBRARY:FUNCTION for a user function (LIBRARY a path, or a name such as c or libc.so.6 found on the target).',
    '',
    'User stacks are walked by frame pointers, as bcc\'s are: code built without them (-fomit-frame-pointer, the default of many compilers at -O2) gives short or wrong user stacks. A frameless function on top of the stack, such as a libc syscall wrapper, hides its direct caller: in a stack through syscall(), the function that called syscall() does not appear; one that uses the frame pointer register for data, as glibc\'s open() does, leaves one [unknown] frame after its own and ends the user stack there.',
  ].join('\n')

  static override examples = [
    {command: '<%= config.bin %> stackcount t:syscalls:sys_enter_openat', description: 'count kernel and user stacks that open files'},
    {command: '<%= config.bin %> stackcount -K t:block:block_rq_issue', description: 'kernel stacks issuing block I/O'},
    {command: '<%= config.bin %> stackcount -P -U -p 185 t:syscalls:sys_enter_write', description: 'user stacks of PID 185 writing'},
    {command: '<%= config.bin %> stackcount -f --svg io.svg -D 10 \'t:block:*\'', description: 'folded stacks and a flame graph of 10 s of block events'},
    {command: '<%= config.bin %> stackcount -i 5 -T t:sched:sched_switch', description: 'every 5 seconds, with a timestamp'},
    {command: '<%= config.bin %> stackcount u:c:malloc -p 185', description: 'stacks calling malloc in PID 185 (uprobe)'},
  ]

  static override args = {
    pattern: Args.string({required: true, description: 'The event: t:CATEGORY:EVENT, k:FUNCTION, FUNCTION or u:LIBRARY:FUNCTION.'}),
  }

  // -r is bcc's regexp flag here, so the target is --remote only.
  static override baseFlags = {
    ...BaseCommand.baseFlags,
    remote: {...BaseCommand.baseFlags.remote, char: undefined},
  }

  static override flags = {
    dashboard: dashboardFlag,
    pid: Flags.integer({char: 'p', summary: 'Trace this PID only.', min: 1}),
    cpu: Flags.integer({char: 'c', summary: 'Trace this CPU only.', min: 0}),
    interval: Flags.integer({char: 'i', summary: 'Print and clear the counts every INTERVAL seconds.', min: 1}),
    duration: Flags.integer({char: 'D', summary: 'Total duration of the trace, in seconds.', min: 1}),
    timestamp: Flags.boolean({char: 'T', summary: 'Print a timestamp before each output.'}),
    regexp: Flags.boolean({char: 'r', summary: 'The pattern\'s parts are regular expressions (matched from the start), not * wildcards.'}),
    offset: Flags.boolean({char: 's', summary: 'Show symbol offsets (name+0x1f).'}),
    perpid: Flags.boolean({char: 'P', summary: 'Count stacks per process, printing its name and PID.'}),
    'kernel-stacks-only': Flags.boolean({char: 'K', summary: 'Count kernel stacks only.', exclusive: ['user-stacks-only']}),
    'user-stacks-only': Flags.boolean({char: 'U', summary: 'Count user stacks only.', exclusive: ['kernel-stacks-only']}),
    'show-addresses': Flags.boolean({char: 'v', summary: 'Show each frame\'s raw address before its name (bcc\'s -v).'}),
    delimited: Flags.boolean({char: 'd', summary: 'Insert -- between the kernel and the user stack.'}),
    folded: Flags.boolean({char: 'f', summary: 'Folded output: one `comm;user;frames;kernel;frames count` line per stack, for flame graph tools.'}),
    svg: Flags.string({summary: 'Also write an interactive flame graph of every stack counted to this file (SVG).'}),
    merge: Flags.boolean({summary: 'With several targets: print the stacks of all of them added up (by their symbols) instead of per target.'}),
    'max-stacks': Flags.integer({summary: 'Distinct stacks kept per interval (size of the count and stack maps).', default: 16384, min: 16}),
  }

  public async run(): Promise<void> {
    const f = this.flags
    const [{runStackcount, countStacks}, {runEventTool}, {parsePattern, stackChoice, StackcountUsageError}] = await Promise.all([
      import('../src/tools/stackcount/run.js'),
      import('../src/cli/run-events.js'),
      import('../src/tools/stackcount/options.js'),
    ])
    const options = {
      pattern: this.args.pattern,
      pid: f.pid,
      cpu: f.cpu,
      intervalSec: f.interval,
      durationSec: f.duration,
      timestamp: f.timestamp,
      regexp: f.regexp,
      offset: f.offset,
      perPid: f.perpid,
      kernelOnly: f['kernel-stacks-only'],
      userOnly: f['user-stacks-only'],
      verbose: f['show-addresses'],
      delimited: f.delimited,
      folded: f.folded,
      svg: f.svg,
      maxStacks: f['max-stacks'],
    }
    if (f.dashboard) this.oneTargetOnly('--dashboard', 'its panes show one target')
    if (f.svg) this.oneTargetOnly('--svg', 'one flame graph file; use -f for folded stacks of every target')
    if (f.merge && f['show-addresses']) this.usageError('--merge adds up stacks by their symbols: their addresses differ from target to target, so -v cannot show them')
    if (f.dashboard) {
      const {dashboardRefusal} = await import('../src/dashboard/terminal.js')
      const refusal = dashboardRefusal()
      if (refusal) this.error(refusal, {exit: 2})
    }
    try {
      // A bad pattern is reported before the target is reached.
      stackChoice(options, parsePattern(options.pattern))
      if (this.severalTargets) {
        const {stackcountTargetsOutput} = await import('../src/tools/stackcount/sink.js')
        await this.eachTargetCollated(
          (out) => stackcountTargetsOutput(options, out, this.targetNames, f.merge),
          async (ctx, t, out, interval) => (await countStacks(t.client, options, ctx, {start: (info) => out.start(t.index, info), interval})).events,
        )
        return
      }
      const client = await this.connect()
      if (f.dashboard) {
        const {stackcountDashboard} = await import('../src/dashboard/stackcount.js')
        await stackcountDashboard(client, options, {title: [this.id, ...this.argv].join(' '), machine: f.arch, verbose: f.verbose})
        return
      }
      await runEventTool({json: f.json, machine: f.arch, logger: this.logger}, async (ctx) => {
        const r = await runStackcount(client, options, ctx)
        return {records: r.events, lost: 0}
      })
    } catch (e) {
      if (e instanceof StackcountUsageError) this.error(e.message, {exit: 2})
      throw e
    }
  }
}
