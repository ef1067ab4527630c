import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../src/cli/base-command.js'
import {ExitCode} from '../src/cli/exit-codes.js'

export default class Run extends BaseCommand<typeof Run> {
  static override summary = 'Load and run any BPF program: C source or a compiled object.'
  static override description = `Compiles FILE for the target's architecture (or takes it as is when it is an ELF object), loads every map and program, and attaches each program where its section name says (tracepoint/CAT/NAME, raw_tp/NAME, kprobe/FUNC, uprobe/PATH:FUNC ...). Until Ctrl-C or --duration it prints each ring-buffer and perf-buffer record as "[MAP] hex bytes" and bpf_printk output as "[trace_pipe] line"; then every map's contents, decoded through BTF where its types are known.

With --json every line is a JSON object: {"map":"events","data":"<base64>"} per record, {"trace_pipe":"..."} per bpf_printk line, and at the end {"map":"counts","type":"hash","entries":[{"key":...,"value":...}]} per map (global data: "variables"; per-CPU maps: a value per CPU; integers beyond 2^53 as decimal strings).`

  static override examples = [
    {command: '<%= config.bin %> run counter.bpf.c -d 5', description: 'run for 5 seconds, then print the maps'},
    {command: '<%= config.bin %> run prog.bpf.c --set targ_pid=181 --remote adb:', description: 'set a const volatile global, on the only adb device'},
    {command: '<%= config.bin %> run prog.o --attach handle=tracepoint/syscalls/sys_enter_openat', description: 'attach program "handle" to another tracepoint'},
    {command: '<%= config.bin %> run prog.bpf.c --json | jq .', description: 'records and maps as JSON lines'},
  ]

  static override args = {
    file: Args.string({description: 'BPF C source (*.bpf.c) or a BPF ELF object.', required: true}),
  }

  static override flags = {
    set: Flags.string({char: 's', summary: 'Set a global before load: NAME=VALUE (integer, true/false, enumerator, or string for a char array); repeatable.', multiple: true}),
    attach: Flags.string({char: 'a', summary: 'Attach program PROG elsewhere: PROG=SECTION, e.g. handle=tracepoint/syscalls/sys_enter_openat; repeatable.', multiple: true}),
    duration: Flags.integer({char: 'd', summary: 'Stop after this many seconds.', min: 1}),
    'include-dir': Flags.string({char: 'I', summary: 'Another directory for #include when compiling; repeatable.', multiple: true}),
  }

  public async run(): Promise<void> {
    const f = this.flags
    const [{runObject}, {RunOptionError}, {runEventTool}] = await Promise.all([
      import('../src/tools/run/run.js'),
      import('../src/tools/run/options.js'),
      import('../src/cli/run-events.js'),
    ])
    const options = {file: this.args.file, set: f.set ?? [], attach: f.attach ?? [], includeDirs: f['include-dir'] ?? [], durationSec: f.duration}
    if (this.severalTargets) {
      await this.eachTargetLabelled((ctx, t) => runObject(t.client, options, ctx))
      return
    }
    const client = await this.connect()
    try {
      await runEventTool({json: f.json, machine: f.arch, logger: this.logger}, (ctx) => runObject(client, options, ctx))
    } catch (e) {
      if (!(e instanceof RunOptionError)) throw e
      this.logToStderr(`bpftools: ${e.message}`)
      this.exit(ExitCode.USAGE)
    }
  }
}
