import {BaseCommand} from '../src/cli/base-command.js'

export default class Target extends BaseCommand<typeof Target> {
  static override summary = 'Show what the target is: machine, kernel, bpfd, CPUs, BTF, tracefs, BPF features.'
  static override examples = [
    '<%= config.bin %> target',
    '<%= config.bin %> target --remote adb:',
    '<%= config.bin %> target --remote ssh:pi@raspberry --json',
  ]

  public async run(): Promise<void> {
    const {formatTable, helloJson, helloRows} = await import('../src/cli/hello-report.js')
    const client = await this.connect()
    if (this.flags.json) {
      this.log(JSON.stringify(helloJson(client.transport, client.hello), null, 2))
    } else {
      this.log(formatTable(helloRows(client.transport, client.hello)))
    }
  }
}
