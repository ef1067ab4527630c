// biolatency's tp_btf variant against another kernel's BTF: the x86_64
// test guest (Debian's 6.1 kernel under QEMU) with a blank virtio disk that
// only the workload touches, so each run sees exactly its requests.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {guestSkipReason} from '../targets/cli.js'
import {Guest} from '../targets/guest.js'
import {BPFTOOLS} from './helpers/programs.js'
import {ToolProcess} from './helpers/tool-process.js'

const BLOCKS = 40

const VARIANTS = {
  tp_btf: ['-u', 'BPFTOOLS_ASSUME_NO_BTF'],
  tracepoints: ['BPFTOOLS_ASSUME_NO_BTF=1'],
}

/** Requests by section (`disk = vda`, `flags = Sync-Write`) in bcc's histogram text. */
function sections(text: string): Map<string, number> {
  const out = new Map<string, number>()
  let section = ''
  for (const line of text.split('\n')) {
    const s = /^(?:disk|flags) = (.+)$/.exec(line)
    if (s) section = s[1]!
    const b = /^ +\d+ -> \d+ +: (\d+) +\|/.exec(line)
    if (b) out.set(section, (out.get(section) ?? 0) + Number(b[1]))
  }
  return out
}

describe('biolatency on the x86_64 guest (6.1)', {skip: await guestSkipReason('x86_64')}, () => {
  let guest: Guest

  before(async () => {
    guest = await Guest.start({arch: 'x86_64', disk: true})
  }, {timeout: 180_000})

  after(async () => {
    await guest?.stop()
  })

  /** biolatency ARGS on the guest around BLOCKS direct writes and reads of its disk. */
  async function histograms(variant: keyof typeof VARIANTS, args: string[]): Promise<{tool: ToolProcess; sections: Map<string, number>}> {
    const command = ['/usr/bin/env', ...VARIANTS[variant], BPFTOOLS, 'biolatency', '--remote', guest.remote, '--verbose', ...args]
    const tool = await ToolProcess.start(command, {label: `biolatency [${variant}]`, ready: /timing block requests from/, readyTimeoutMs: 60_000})
    try {
      await guest.check(`dd if=/dev/zero of=/dev/vda bs=4096 count=${BLOCKS} oflag=direct && dd if=/dev/vda of=/dev/null bs=4096 count=${BLOCKS} iflag=direct`)
    } finally {
      await tool.stop()
    }
    return {tool, sections: sections(tool.stdout)}
  }

  it('-D names the guest\'s disk, read from struct request', async () => {
    const {tool, sections: s} = await histograms('tp_btf', ['-D'])
    assert.match(tool.stderr, /with BTF tracepoints \(tp_btf\)/, tool.report())
    assert.deepEqual([...s.keys()], ['vda'], tool.report())
    assert.ok(s.get('vda')! >= 2 * BLOCKS, tool.report())
  })

  it('-F: the flags from cmd_flags are the ones the tracepoints\' rwbs gives', async () => {
    const btf = await histograms('tp_btf', ['-F'])
    const tp = await histograms('tracepoints', ['-F'])
    const report = `${btf.tool.report()}\n${tp.tool.report()}`
    const workload = (s: Map<string, number>) => [...s].filter(([, n]) => n >= BLOCKS).map(([flags]) => flags).sort()
    assert.deepEqual(workload(btf.sections), workload(tp.sections), report)
    assert.ok(workload(tp.sections).some((f) => /(^|-)Write$/.test(f)) && workload(tp.sections).some((f) => /(^|-)Read$/.test(f)), report)
  })
})
