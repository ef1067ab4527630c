// stackcount and biolatency on several targets: per-target sections under a
// `target = NAME` line, or with --merge one sum. The merging and the layout
// are checked exactly on known data; then end to end with `local` and a tcp
// bpfd on loopback, which see the same kernel.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {after, before, describe, it, test} from 'node:test'
import {formatLog2Hist} from '../../src/output/histogram.js'
import {BUCKETS, type Histogram} from '../../src/tools/biolatency/hist.js'
import type {BiolatencyOptions} from '../../src/tools/biolatency/options.js'
import {biolatencyTargetsOutput, mergeHistograms, type BiolatencyInterval} from '../../src/tools/biolatency/sink.js'
import type {SymbolizedStack} from '../../src/tools/stackcount/format.js'
import type {StackcountOptions} from '../../src/tools/stackcount/options.js'
import {mergeStacks, stackcountTargetsOutput, type StackcountInterval} from '../../src/tools/stackcount/sink.js'
import {BPFTOOLS, toolsUnavailable} from './helpers/programs.js'
import {Bpfd, stopEveryTool, ToolProcess} from './helpers/tool-process.js'
import {killEveryWorkload, Workload} from './helpers/workload.js'

const run = promisify(execFile)

function hist(counts: Record<number, number>, section?: Histogram['section']): Histogram {
  const buckets = new Array<bigint>(BUCKETS).fill(0n)
  for (const [i, n] of Object.entries(counts)) buckets[Number(i)] = BigInt(n)
  return section ? {section, buckets} : {buckets}
}

function collect(): {out: {json: boolean; write(t: string): void}; text: () => string} {
  let text = ''
  return {out: {json: false, write: (t) => void (text += t)}, text: () => text}
}

const BIO: BiolatencyOptions = {timestamp: false, queued: false, milliseconds: false, perDisk: false, perFlag: false, extended: false}
const time = new Date(2026, 0, 2, 3, 4, 5)

test('histograms of several targets add up bucket by bucket, a section with a section of the same name', () => {
  const merged = mergeHistograms([
    [hist({6: 3, 7: 1}, {name: 'disk', value: 'vda'}), hist({8: 2}, {name: 'disk', value: 'vdb'})],
    [hist({6: 4}, {name: 'disk', value: 'vda'}), hist({9: 5}, {name: 'disk', value: 'sda'})],
  ])
  assert.deepEqual(merged, [hist({9: 5}, {name: 'disk', value: 'sda'}), hist({6: 7, 7: 1}, {name: 'disk', value: 'vda'}), hist({8: 2}, {name: 'disk', value: 'vdb'})])
})

test('biolatency: per target under a target line, or merged as one target prints', async () => {
  const a: BiolatencyInterval = {index: 0, last: true, time, histograms: [hist({6: 3, 7: 1})]}
  const b: BiolatencyInterval = {index: 0, last: true, time, histograms: [hist({6: 4, 8: 2})]}
  const names = ['local', 'tcp:127.0.0.1:4000']
  const per = collect()
  await biolatencyTargetsOutput(BIO, per.out, names, false).intervals([a, b])
  const h = (c: Record<number, number>) => formatLog2Hist(hist(c).buckets, 'usecs')
  assert.equal(per.text(), `\ntarget = local\n${h({6: 3, 7: 1})}\ntarget = tcp:127.0.0.1:4000\n${h({6: 4, 8: 2})}`)
  const merged = collect()
  await biolatencyTargetsOutput(BIO, merged.out, names, true).intervals([a, b])
  assert.equal(merged.text(), `\n${h({6: 7, 7: 1, 8: 2})}`)
  // A target that failed has no part: the others print without it.
  const rest = collect()
  await biolatencyTargetsOutput(BIO, rest.out, names, false).intervals([undefined, b])
  assert.equal(rest.text(), `\ntarget = tcp:127.0.0.1:4000\n${h({6: 4, 8: 2})}`)
  let json = ''
  await biolatencyTargetsOutput(BIO, {json: true, write: (t) => void (json += t)}, names, false).intervals([a, b])
  const objects = json.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  assert.deepEqual(objects.map((o) => Object.keys(o)[0]), ['target', 'target'])
  assert.deepEqual(objects.map((o) => o.target), names)
})

const frames = (names: string[], base: bigint) => names.map((name, i) => ({address: base + BigInt(i), name}))

test('stacks of several targets add up by their symbols, whatever their addresses', () => {
  const s = (count: number, kernel: string[], base: bigint, pid?: number): SymbolizedStack => ({pid, comm: 'wl', count, kernel: frames(kernel, base), user: []})
  const merged = mergeStacks([
    [s(3, ['a', 'b'], 0x1000n), s(1, ['c'], 0x1000n)],
    [s(4, ['a', 'b'], 0x9000n), s(2, ['d'], 0x9000n)],
  ])
  assert.deepEqual(merged.map((m) => [m.kernel.map((f) => f.name).join(';'), m.count, m.kernel[0]!.address]), [
    ['a;b', 7, 0x1000n],
    ['c', 1, 0x1000n],
    ['d', 2, 0x9000n],
  ])
  // Per process (-P): the same stack in two processes stays two.
  assert.equal(mergeStacks([[s(1, ['a'], 0n, 10)], [s(1, ['a'], 0n, 11)]]).length, 2)
})

test('stackcount: per-target sections, folded with the target as root frame, or merged', async () => {
  const o = {pattern: 't:x:y', verbose: false, folded: false, timestamp: false} as StackcountOptions
  const names = ['local', 'tcp:127.0.0.1:4000']
  const stack = (count: number): SymbolizedStack => ({comm: 'wl', count, kernel: frames(['k1', 'k2'], 0n), user: []})
  const parts: StackcountInterval[] = [{index: 0, last: true, time, stacks: [stack(3)]}, {index: 0, last: true, time, stacks: [stack(4)]}]
  const choice = {kernel: true, user: false, delimiter: false, perPid: false}
  const per = collect()
  const perOut = stackcountTargetsOutput(o, per.out, names, false)
  await perOut.start(1, {probes: 1, choice})
  await perOut.intervals(parts)
  assert.equal(
    per.text(),
    'Tracing 1 functions for "t:x:y" on tcp:127.0.0.1:4000... Hit Ctrl-C to end.\n' +
      '\ntarget = local\n  k1\n  k2\n    3\n\ntarget = tcp:127.0.0.1:4000\n  k1\n  k2\n    4\n\nDetaching...\n',
  )
  const merged = collect()
  await stackcountTargetsOutput(o, merged.out, names, true).intervals(parts)
  assert.equal(merged.text(), '\n  k1\n  k2\n    7\n\nDetaching...\n')
  const folded = collect()
  await stackcountTargetsOutput({...o, folded: true}, folded.out, names, false).intervals(parts)
  assert.equal(folded.text(), 'local;wl;k2;k1 3\ntcp:127.0.0.1:4000;wl;k2;k1 4\n')
})

// A known number of getppid(2) calls on command, from a process whose pid -p names.
const WORKLOAD_C = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void)
{
	char line[32];
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", getpid());
	while (fgets(line, sizeof(line), stdin)) {
		long n = strtol(line, NULL, 10);
		for (long i = 0; i < n; i++)
			syscall(SYS_getppid);
		printf("done %ld\n", n);
	}
	return 0;
}
`

const CALLS = 37

describe('stackcount and biolatency on local and a tcp bpfd', {skip: toolsUnavailable()}, () => {
  let dir: string
  let w: Workload
  let pid: number

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bpftools-multi-agg-'))
    writeFileSync(join(dir, 'wl.c'), WORKLOAD_C)
    await run('gcc', ['-O2', '-o', join(dir, 'bpft-mtppid'), join(dir, 'wl.c')])
    const started = await Workload.start(join(dir, 'bpft-mtppid'), 'bpft-mtppid')
    w = started.w
    pid = Number(started.ready[0])
  })

  after(async () => {
    await stopEveryTool()
    killEveryWorkload()
    rmSync(dir, {recursive: true, force: true})
  })

  /** stackcount -K -p on both targets, CALLS getppid calls while both trace, then Ctrl-C. */
  async function stackcount(extra: string[]): Promise<{tool: ToolProcess; tcp: string}> {
    const bpfd = await Bpfd.start()
    const args = ['stackcount', '--verbose', '-K', '-p', String(pid), ...extra, 't:syscalls:sys_enter_getppid', '--remote', 'local', '--remote', bpfd.remote]
    const attached = /^bpftools: (local|tcp:\S+): attached to 1 of 1 probes$/gm
    const tool = await ToolProcess.start([BPFTOOLS, ...args], {label: `stackcount ${extra.join(' ')}`, bpfd, ready: /attached to 1 of 1 probes/})
    try {
      await tool.waitFor(() => (tool.stderr.match(attached) ?? []).length === 2, 'both targets tracing')
      assert.equal(await w.ask(String(CALLS)), `done ${CALLS}`)
    } finally {
      const exit = await tool.stop()
      assert.equal(exit.code, 0, tool.report())
    }
    return {tool, tcp: bpfd.remote}
  }

  /** The frames of a stack: lines of two-space indented names. */
  const FRAMES = '((?:  \\S+\\n)+)'

  it('stackcount: each target counts every call under its own line; --merge adds them up', async () => {
    const {tool, tcp} = await stackcount([])
    assert.deepEqual(tool.lines.slice(0, 2).sort(), ['local', tcp].map((n) => `Tracing 1 functions for "t:syscalls:sys_enter_getppid" on ${n}... Hit Ctrl-C to end.`).sort())
    const body = tool.stdout.slice(tool.stdout.indexOf('\n', tool.stdout.indexOf('\n') + 1) + 1)
    const per = new RegExp(`^\\ntarget = local\\n${FRAMES}    ${CALLS}\\n\\ntarget = ${tcp.replace(/\./g, '\\.')}\\n${FRAMES}    ${CALLS}\\n\\nDetaching\\.\\.\\.\\n$`).exec(body)
    assert.ok(per, tool.report())
    assert.equal(per[1], per[2], 'one kernel, one stack')
    assert.match(per[1]!, /entry_SYSCALL_64|el0_svc/)

    const merged = await stackcount(['--merge'])
    const mergedBody = merged.tool.stdout.slice(merged.tool.stdout.indexOf('\n', merged.tool.stdout.indexOf('\n') + 1) + 1)
    assert.equal(mergedBody, `\n${per[1]}    ${2 * CALLS}\n\nDetaching...\n`, merged.tool.report())
  })

  it('stackcount -f: folded stacks with each target as the root frame', async () => {
    const {tool, tcp} = await stackcount(['-f'])
    const lines = tool.lines.filter((l) => !l.startsWith('Tracing '))
    assert.equal(lines.length, 2, tool.report())
    const [local, remote] = lines.map((l) => /^(\S+?);(.+) (\d+)$/.exec(l))
    assert.deepEqual([local?.[1], local?.[3], remote?.[1], remote?.[3]], ['local', String(CALLS), tcp, String(CALLS)], tool.report())
    assert.equal(local![2], remote![2])
  })

  it('biolatency: a histogram per target, or with --merge one for all', async (t) => {
    const file = join(dir, 'data')
    await run('dd', ['if=/dev/zero', `of=${file}`, 'bs=4096', 'count=40', 'conv=fsync'])
    const directIo = () => run('dd', ['if=/dev/zero', `of=${file}`, 'bs=4096', 'count=40', 'oflag=direct', 'conv=notrunc']).then(() => 40)
    const biolatency = async (extra: string[]) => {
      const bpfd = await Bpfd.start()
      const tool = await ToolProcess.start([BPFTOOLS, 'biolatency', '--verbose', ...extra, '-r', 'local', '-r', bpfd.remote], {
        label: `biolatency ${extra.join(' ')}`,
        ready: /timing block requests/,
        bpfd,
      })
      let ios = 0
      try {
        await tool.waitFor(() => (tool.stderr.match(/: timing block requests from/g) ?? []).length === 2, 'both targets timing')
        ios = await directIo()
      } finally {
        const exit = await tool.stop()
        assert.equal(exit.code, 0, tool.report())
      }
      return {tool, ios, tcp: bpfd.remote}
    }
    const total = (text: string) => [...text.matchAll(/^ +\d+ -> \d+ +: (\d+) +\|/gm)].reduce((a, m) => a + Number(m[1]), 0)

    const per = await biolatency([])
    const sections = per.tool.stdout.split(/^target = /m)
    assert.equal(sections[0], 'Tracing block device I/O... Hit Ctrl-C to end.\n\n', per.tool.report())
    assert.deepEqual(sections.slice(1).map((s) => s.slice(0, s.indexOf('\n'))), ['local', per.tcp])
    for (const s of sections.slice(1)) assert.ok(total(s) >= per.ios, `${total(s)} requests in a target's histogram, ${per.ios} made\n${per.tool.report()}`)

    const merged = await biolatency(['--merge'])
    assert.doesNotMatch(merged.tool.stdout, /^target = /m, merged.tool.report())
    assert.equal(merged.tool.stdout.match(/usecs +: count +distribution/g)?.length, 1, merged.tool.report())
    // Both targets saw every request: the sum holds each twice.
    assert.ok(total(merged.tool.stdout) >= 2 * merged.ios, `${total(merged.tool.stdout)} requests merged, ${merged.ios} made\n${merged.tool.report()}`)
    t.diagnostic(`per target: ${sections.slice(1).map(total).join(', ')}; merged: ${total(merged.tool.stdout)}`)
  })
})
