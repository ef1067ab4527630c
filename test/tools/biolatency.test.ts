// biolatency against this machine's disk through a real bpfd, in both of
// its variants (tp_btf reading struct request, and the classic tracepoints
// forced with BPFTOOLS_ASSUME_NO_BTF=1): direct (O_DIRECT) writes and reads
// of a file give block requests the histogram must count; a tracefs
// instance counts the completions the block tracepoints saw independently,
// over a window enclosing the tool's.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {promisify} from 'node:util'
import {after, before, describe, it} from 'node:test'
import {BPFTOOLS, toolsUnavailable} from './helpers/programs.js'
import {ToolProcess} from './helpers/tool-process.js'

const run = promisify(execFile)
const TRACEFS = '/sys/kernel/tracing'
const BLOCKS = 40

type Variant = {name: string; env: string[]; verbose: RegExp; skip: string | false}

/** The two programs biolatency chooses between, each forced through the environment (env(1) execs, so Ctrl-C still reaches the tool). */
const VARIANTS: readonly Variant[] = [
  {
    name: 'tp_btf',
    env: ['-u', 'BPFTOOLS_ASSUME_NO_BTF'],
    verbose: /with BTF tracepoints \(tp_btf\), requests keyed by struct request/,
    skip: existsSync('/sys/kernel/btf/vmlinux') ? false : 'no kernel BTF',
  },
  {
    name: 'tracepoints',
    env: ['BPFTOOLS_ASSUME_NO_BTF=1'],
    verbose: /with tracepoints \(BPFTOOLS_ASSUME_NO_BTF=1\), requests keyed by dev and sector/,
    skip: false,
  },
]

function biolatency(v: Variant, args: string[], ready?: RegExp): Promise<ToolProcess> {
  return ToolProcess.start(['/usr/bin/env', ...v.env, BPFTOOLS, 'biolatency', ...args], {label: `biolatency [${v.name}]`, ready})
}

/** The disk holding the temporary directory, and its kernel dev_t as the tracepoints record it. */
function diskOf(dir: string): {name: string; dev: number} | undefined {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' '))
  // The longest mount point containing dir.
  const m = mounts.filter((f) => f[4] && (dir + '/').startsWith(f[4] === '/' ? '/' : f[4] + '/')).sort((a, b) => b[4]!.length - a[4]!.length)[0]
  const source = m?.[m.indexOf('-') + 2]
  if (!source?.startsWith('/dev/')) return undefined
  const name = source.slice(5)
  if (!existsSync(`/sys/block/${name}/dev`)) return undefined // a partition or a mapper device: keep it simple
  const [major, minor] = readFileSync(`/sys/block/${name}/dev`, 'utf8').trim().split(':').map(Number)
  return {name, dev: ((major! << 20) | minor!) >>> 0}
}

/**
 * How many times the kernel skipped the tool's BPF programs (recursion_misses
 * in the fdinfo of the programs its bpfd holds): a tracepoint program does
 * not run while another BPF program or a bpf(2) map call of any process
 * holds the CPU, which a busy machine makes common. Each skip loses at most
 * one request. 0 once the tool is gone.
 */
function programMisses(tool: ToolProcess): number {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8')
    } catch {
      return ''
    }
  }
  const pid = tool.child.pid
  if (pid === undefined) return 0
  const tasks = (() => {
    try {
      return readdirSync(`/proc/${pid}/task`)
    } catch {
      return []
    }
  })()
  // bpfd is the tool's child on the local transport.
  const children = tasks.flatMap((t) => read(`/proc/${pid}/task/${t}/children`).trim().split(/\s+/).filter(Boolean))
  let misses = 0
  for (const child of children) {
    let fds: string[] = []
    try {
      fds = readdirSync(`/proc/${child}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      let target = ''
      try {
        target = readlinkSync(`/proc/${child}/fd/${fd}`)
      } catch {
        continue
      }
      if (target !== 'anon_inode:bpf-prog') continue
      misses += Number(/^recursion_misses:\s*(\d+)/m.exec(read(`/proc/${child}/fdinfo/${fd}`))?.[1] ?? 0)
    }
  }
  return misses
}

/** Counts block_rq_complete events of one disk in a tracefs instance of its own. */
class CompletionCounter {
  private readonly dir: string
  private readonly event: string

  constructor(name: string) {
    this.dir = join(TRACEFS, 'instances', `bpftools-test-${process.pid}-${name}`)
    this.event = join(this.dir, 'events', 'block', 'block_rq_complete')
  }

  start(dev: number): void {
    mkdirSync(this.dir)
    writeFileSync(join(this.dir, 'buffer_size_kb'), '4096')
    writeFileSync(join(this.event, 'filter'), `dev == ${dev}`)
    writeFileSync(join(this.event, 'enable'), '1')
  }

  stop(): number {
    writeFileSync(join(this.event, 'enable'), '0')
    const text = readFileSync(join(this.dir, 'trace'), 'utf8')
    return text.split('\n').filter((l) => l.includes('block_rq_complete:')).length
  }

  remove(): void {
    if (!existsSync(this.dir)) return
    try {
      writeFileSync(join(this.event, 'enable'), '0')
    } catch {}
    rmdirSync(this.dir)
  }
}

/** bcc's histogram text → bucket counts by section (`` for none). */
function parseHistograms(text: string): Map<string, {low: number; high: number; count: number}[]> {
  const out = new Map<string, {low: number; high: number; count: number}[]>()
  let section = ''
  for (const line of text.split('\n')) {
    const s = /^(disk|flags) = (.+)$/.exec(line)
    if (s) section = s[2]!
    const b = /^ +(\d+) -> (\d+) +: (\d+) +\|[* +]*\|$/.exec(line)
    if (b) {
      if (!out.has(section)) out.set(section, [])
      out.get(section)!.push({low: Number(b[1]), high: Number(b[2]), count: Number(b[3])})
    }
  }
  return out
}

const sum = (xs: {count: number}[]) => xs.reduce((a, x) => a + x.count, 0)

const unavailable = toolsUnavailable() ?? (existsSync(TRACEFS + '/events/block') ? false : 'no block tracepoints')

for (const v of VARIANTS) describe(`biolatency [${v.name}] (real kernel)`, {skip: unavailable || v.skip}, () => {
  let dir: string
  let file: string
  let disk: {name: string; dev: number} | undefined
  const counter = new CompletionCounter(v.name)

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bpftools-biolatency-'))
    file = join(dir, 'data')
    disk = diskOf(dir)
    // Allocated and on disk before the trace, so the direct writes below are plain overwrites.
    await run('dd', ['if=/dev/zero', `of=${file}`, 'bs=4096', `count=${BLOCKS}`, 'conv=fsync'])
  })

  after(() => {
    counter.remove()
    rmSync(dir, {recursive: true, force: true})
  })

  /** BLOCKS direct writes then BLOCKS direct reads, one request each at least. */
  async function directIo(): Promise<number> {
    await run('dd', ['if=/dev/zero', `of=${file}`, 'bs=4096', `count=${BLOCKS}`, 'oflag=direct', 'conv=notrunc'])
    await run('dd', [`if=${file}`, 'of=/dev/null', 'bs=4096', `count=${BLOCKS}`, 'iflag=direct'])
    return 2 * BLOCKS
  }

  it('-D: the disk\'s histogram counts every request, and no more than the tracepoints saw', async (t) => {
    if (!disk) return t.skip(`${dir} is not on a whole disk`)
    counter.start(disk.dev)
    const tool = await biolatency(v, ['-D'])
    let ios = 0
    let missed = 0
    try {
      assert.equal(tool.header, 'Tracing block device I/O... Hit Ctrl-C to end.')
      ios = await directIo()
      missed = programMisses(tool)
    } finally {
      await tool.stop()
    }
    const seen = counter.stop()
    const hists = parseHistograms(tool.stdout)
    assert.ok(tool.stdout.includes(`\n\ndisk = ${disk.name}\n     usecs               : count     distribution\n`), tool.report())
    const total = sum(hists.get(disk.name) ?? [])
    assert.ok(total + missed >= ios, `${total} requests in the histogram, ${missed} program runs skipped, ${ios} made\n${tool.report()}`)
    t.diagnostic(`${ios} requests made, ${total} in the histogram, ${missed} program runs skipped, ${seen} completions seen`)
    assert.ok(total <= seen, `${total} requests in the histogram, ${seen} completions seen by the tracepoints\n${tool.report()}`)
  })

  it('-j -m -d DISK: JSON lines with the same buckets, in milliseconds', async (t) => {
    if (!disk) return t.skip(`${dir} is not on a whole disk`)
    const tool = await biolatency(v, ['--verbose', '-j', '-m', '-d', disk.name], /timing block requests from/)
    let ios = 0
    let missed = 0
    try {
      ios = await directIo()
      missed = programMisses(tool)
    } finally {
      await tool.stop()
    }
    assert.match(tool.stderr, v.verbose, tool.report())
    const lines = tool.stdout.trim().split('\n')
    assert.equal(lines.length, 1, tool.report())
    const j = JSON.parse(lines[0]!) as {ts: string; val_type: string; data: {'interval-start': number; 'interval-end': number; count: number}[]}
    assert.equal(j.val_type, 'msecs')
    assert.match(j.ts, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
    assert.deepEqual(j.data[0] && [j.data[0]['interval-start'], j.data[0]['interval-end']], [0, 1])
    j.data.forEach((b, i) => assert.equal(b['interval-end'], 2 ** (i + 1) - 1))
    assert.ok(sum(j.data) + missed >= ios, `${missed} program runs skipped\n${tool.report()}`)
  })

  it('-F -Q -e with an interval and count: per-flag histograms and the average', async () => {
    const tool = await biolatency(v, ['-F', '-Q', '-e', '-T', '5', '1'])
    let ios = 0
    let missed = 0
    let exit
    try {
      const started = performance.now()
      ios = await directIo()
      missed = programMisses(tool)
      // A machine busy enough to stretch the workload past the interval cannot run this test.
      assert.ok(!tool.stdout.includes('avg = '), `the workload took ${Math.round(performance.now() - started)} ms, past the 5 s interval\n${tool.report()}`)
      // The count ends it: after its one interval it must exit by itself (a
      // Ctrl-C sent once the -e line is out could land while it releases).
      exit = await Promise.race([tool.exited, sleep(15_000)])
    } finally {
      await tool.stop()
    }
    assert.ok(exit, `no exit 15 s after the workload\n${tool.report()}`)
    assert.equal(exit.code, 0, tool.report())
    assert.match(tool.stdout, /^Tracing block device I\/O\.\.\. Hit Ctrl-C to end\.\n\n\d\d:\d\d:\d\d\n\nflags = /, tool.report())
    const hists = parseHistograms(tool.stdout)
    const writes = [...hists].filter(([f]) => /(^|-)Write$/.test(f)).flatMap(([, b]) => b)
    const reads = [...hists].filter(([f]) => /(^|-)Read$/.test(f)).flatMap(([, b]) => b)
    assert.ok(sum(writes) + missed >= BLOCKS && sum(reads) + missed >= BLOCKS, `${missed} program runs skipped\n${tool.report()}`)
    const e = /\navg = (\d+) usecs, total: (\d+) usecs, count: (\d+)\n\n/.exec(tool.stdout)
    assert.ok(e, tool.report())
    const all = [...hists.values()].flat()
    assert.equal(Number(e[3]), sum(all), `the count of -e is the histograms' total\n${tool.report()}`)
    assert.ok(Number(e[3]) + missed >= ios, `${missed} program runs skipped\n${tool.report()}`)
    // Both truncated from the exact total, as bcc's %ld does.
    assert.ok(Math.abs(Number(e[1]) - Number(e[2]) / Number(e[3])) <= 1, `avg is total / count\n${tool.report()}`)
  })

  // Flags spelled from struct request's cmd_flags must be the kernel's own
  // rwbs for the same requests: both variants watch one workload.
  if (v.name === 'tp_btf') {
    it('-F: the workload\'s Write and Read flags as the tracepoints name them', async (t) => {
      if (!disk) return t.skip(`${dir} is not on a whole disk`)
      const [btf, tp] = await Promise.all([biolatency(v, ['-F', '-d', disk.name]), biolatency(VARIANTS[1]!, ['-F', '-d', disk.name])])
      let missed = {btf: 0, tp: 0}
      try {
        await directIo()
        missed = {btf: programMisses(btf), tp: programMisses(tp)}
      } finally {
        await Promise.all([btf.stop(), tp.stop()])
      }
      const byFlags = (tool: ToolProcess) => new Map([...parseHistograms(tool.stdout)].map(([flags, b]) => [flags, sum(b)]))
      const [fromRequest, fromRwbs] = [byFlags(btf), byFlags(tp)]
      // What the workload made: the sections of the kernel's rwbs holding at least its requests.
      const workload = [...fromRwbs].filter(([, n]) => n + missed.tp >= BLOCKS).map(([flags]) => flags)
      const report = `program runs skipped: ${missed.btf} tp_btf, ${missed.tp} tracepoints\n${btf.report()}\n${tp.report()}`
      assert.ok(workload.some((f) => /(^|-)Write$/.test(f)) && workload.some((f) => /(^|-)Read$/.test(f)), report)
      for (const flags of workload) {
        const n = fromRequest.get(flags) ?? 0
        assert.ok(n + missed.btf >= BLOCKS, `flags = ${flags}: ${n} requests from struct request\n${report}`)
      }
      t.diagnostic(`from struct request: ${[...fromRequest].map(([f, n]) => `${f} ${n}`).join(', ')}; from rwbs: ${[...fromRwbs].map(([f, n]) => `${f} ${n}`).join(', ')}`)
    })
  }
})
