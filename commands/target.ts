import {BaseCommand} from '../src/cli/base-command.js'

export default class Target extends BaseCommand<typeof Target> {
  static override summary = 'Show what the target is: machine, kernel, bpfd, CPUs, BTF, tracefs, BPF features.'
  static override examples = [
    '<%= config.bin %> target',
    '<%= config.bin %> target --remote adb:',
    '<%= config.bin %> target --remote ssh:pi@raspberry --json',
    '<%= config.bin %> target --remotes-file lab.txt',
  ]

  public async run(): Promise<void> {
    const {formatTable, helloJson, helloRows} = await import('../src/cli/hello-report.js')
    if (this.severalTargets) {
      // One table (JSON: one object a line) per target that answered, in target order.
      const shown: (string | undefined)[] = this.targets().map(() => undefined)
      try {
        await this.onEveryTarget(async (t) => {
          shown[t.index] = this.flags.json ? JSON.stringify(helloJson(t.client.transport, t.client.hello)) : formatTable(helloRows(t.client.transport, t.client.hello))
        })
      } finally {
        const out = shown.filter((s): s is string => s !== undefined)
        if (out.length) this.log(out.join(this.flags.json ? '\n' : '\n\n'))
      }
      return
    }
    const client = await this.connect()
    if (this.flags.json) {
      this.log(JSON.stringify(helloJson(client.transport, client.hello), null, 2))
    } else {
      this.log(formatTable(helloRows(client.transport, client.hello)))
    }
  }
}
