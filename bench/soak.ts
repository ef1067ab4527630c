/**
 * A soak of opensnoop: a steady open() load for some minutes, traced over
 * `local` and then over tcp, sampling the RSS of the host process and of
 * bpfd every 10 s, then checking that every open was printed or reported
 * lost. Prints a table and writes bench/SOAK.md.
 *
 *   npm run soak -- [--minutes 10] [--rate 50000] [--transports local,tcp] [--note TEXT] [--out FILE]
 */
import {execFile, spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, hostname, loadavg, release, tmpdir, totalmem} from 'node:os'
import {join} from 'node:path'
import {createInterface} from 'node:readline'
import {promisify, parseArgs} from 'node:util'
import {BPFTOOLS, REPO} from '../test/tools/helpers/programs.js'
import {Bpfd} from '../test/tools/helpers/tool-process.js'
import {childNamed, cpuSeconds, memory} from '../test/faults/procfs.js'
import {describeVerdict, soakMarkdown, summaryTable, verdict, type Sample, type SoakRun} from './soak-report.js'

const PATHS = 64
const SAMPLE_MS = 10_000

function usage(message: string): never {
  process.stderr.write(`soak: ${message}\nusage: npm run soak -- [--minutes N] [--rate OPENS_PER_S] [--transports local,tcp] [--note TEXT] [--out FILE]\n`)
  process.exit(2)
}

function options() {
  let v
  try {
    v = parseArgs({
      options: {
        minutes: {type: 'string', default: '10'},
        rate: {type: 'string', default: '50000'},
        transports: {type: 'string', default: 'local,tcp'},
        note: {type: 'string', default: ''},
        out: {type: 'string', default: join(REPO, 'bench', 'SOAK.md')},
      },
    }).values
  } catch (e) {
    usage((e as Error).message)
  }
  const minutes = Number(v.minutes)
  const rate = Number(v.rate)
  if (!(minutes > 0)) usage(`--minutes must be a positive number, not '${v.minutes}'`)
  if (!Number.isInteger(rate) || rate <= 0) usage(`--rate must be a positive integer, not '${v.rate}'`)
  const transports = v.transports.split(',')
  for (const t of transports) if (t !== 'local' && t !== 'tcp') usage(`unknown transport '${t}' (local or tcp)`)
  return {seconds: Math.round(minutes * 60), rate, transports, note: v.note, out: v.out}
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Counts occurrences of `needle` in a byte stream, also across chunk boundaries. */
class Counter {
  count = 0
  private carry = Buffer.alloc(0)
  constructor(private readonly needle: Buffer) {}
  add(chunk: Buffer): void {
    const b = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk
    for (let i = b.indexOf(this.needle); i >= 0; i = b.indexOf(this.needle, i + this.needle.length)) this.count++
    this.carry = Buffer.from(b.subarray(Math.max(0, b.length - (this.needle.length - 1))))
  }
}

/** Lines a child prints, as a queue to wait on. */
function lineReader(child: ChildProcess, onLine: (l: string) => void): (match: RegExp, timeoutMs: number) => Promise<RegExpExecArray> {
  const seen: string[] = []
  let wake = () => {}
  createInterface({input: child.stdout!}).on('line', (l) => {
    onLine(l)
    seen.push(l)
    wake()
  })
  return async (match, timeoutMs) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = seen.findIndex((l) => match.test(l))
      if (i >= 0) return match.exec(seen.splice(0, i + 1).pop()!)!
      if (Date.now() > deadline) throw new Error(`no line matching ${match} within ${timeoutMs} ms`)
      await new Promise<void>((r) => {
        wake = r
        setTimeout(r, 200)
      })
    }
  }
}

async function soak(transport: 'local' | 'tcp', exe: string, seconds: number, rate: number): Promise<SoakRun> {
  const dir = mkdtempSync(join(tmpdir(), 'bpftools-soak-'))
  for (let i = 0; i < PATHS; i++) writeFileSync(join(dir, `f${i}`), '')
  const load = spawn(exe, [dir, String(PATHS)], {stdio: ['pipe', 'pipe', 'inherit']})
  let opens = 0
  const loadLine = lineReader(load, (l) => {
    const m = /^tick (\d+)$/.exec(l)
    if (m) opens = Number(m[1])
  })
  let bpfd: Bpfd | undefined
  let tool: ChildProcess | undefined
  try {
    const loadPid = Number((await loadLine(/^ready (\d+)$/, 10_000))[1])
    bpfd = transport === 'tcp' ? await Bpfd.start() : undefined
    const remote = bpfd ? bpfd.remote : 'local'
    tool = spawn(BPFTOOLS, ['opensnoop', '-p', String(loadPid), '--remote', remote], {stdio: ['ignore', 'pipe', 'pipe']})
    const lines = new Counter(Buffer.from(`${dir}/f`))
    let header = false
    let stderr = ''
    tool.stdout!.on('data', (d: Buffer) => {
      header ||= d.includes('\n')
      lines.add(d)
    })
    tool.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    const closed = new Promise<number | null>((r) => tool!.once('close', (code) => r(code)))
    for (let t = 0; !header; t += 100) {
      if (t > 30_000 || tool.exitCode !== null) throw new Error(`opensnoop did not start: ${stderr}`)
      await sleep(100)
    }
    const bpfdPid = bpfd ? bpfd.child.pid : childNamed(tool.pid!, 'bpfd')
    if (!bpfdPid) throw new Error('cannot find the bpfd of the local transport')

    const samples: Sample[] = []
    const t0 = Date.now()
    load.stdin!.write(`go ${seconds} ${rate}\n`)
    const sample = () => {
      const s: Sample = {atSec: Math.round((Date.now() - t0) / 1000), opens, lines: lines.count, hostRssKiB: memory(tool!.pid).rssKiB, bpfdRssKiB: memory(bpfdPid).rssKiB}
      samples.push(s)
      process.stderr.write(`soak ${transport}: ${s.atSec} s, ${opens} opens, ${s.lines} lines, host ${(s.hostRssKiB / 1024).toFixed(1)} MiB, bpfd ${(s.bpfdRssKiB / 1024).toFixed(1)} MiB\n`)
    }
    const sampler = setInterval(sample, SAMPLE_MS)
    const done = await loadLine(/^done (\d+) (\d+) (\d+)$/, (seconds + 60) * 1000)
    clearInterval(sampler)
    opens = Number(done[1])
    sample()
    const total = Number(done[1])
    // Let the output catch up with what is still in flight, then stop as Ctrl-C does.
    for (let last = -1, still = 0; still < 20 && lines.count < total; await sleep(100)) {
      still = lines.count === last ? still + 1 : 0
      last = lines.count
    }
    const hostCpuSec = cpuSeconds(tool.pid)
    const bpfdCpuSec = cpuSeconds(bpfdPid)
    tool.kill('SIGINT')
    const exitCode = await closed
    const lost = Number(/(\d+) events lost/.exec(stderr)?.[1] ?? 0)
    if (exitCode !== 0) process.stderr.write(`soak ${transport}: opensnoop exited ${exitCode}: ${stderr}\n`)
    return {
      transport,
      seconds,
      targetRate: rate,
      opens: total,
      failedOpens: Number(done[2]),
      loadNs: Number(done[3]),
      lines: lines.count,
      lost,
      exitCode,
      hostCpuSec,
      bpfdCpuSec,
      samples,
    }
  } finally {
    if (tool && tool.exitCode === null && tool.signalCode === null) tool.kill('SIGKILL')
    load.kill('SIGKILL')
    await bpfd?.stop()
    rmSync(dir, {recursive: true, force: true})
  }
}

async function main(): Promise<void> {
  const o = options()
  if (process.getuid?.() !== 0) usage('the soak traces with BPF and needs root')
  const build = mkdtempSync(join(tmpdir(), 'bpftools-soak-build-'))
  const exe = join(build, 'open-paced')
  try {
    await promisify(execFile)('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', exe, join(REPO, 'bench', 'open-paced.c')])
    const machine = {
      date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      host: hostname(),
      kernel: release(),
      cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
      cpus: cpus().length,
      memGiB: Math.round(totalmem() / 2 ** 30),
      loadAtStart: loadavg().map((l) => l.toFixed(2)).join(' '),
      note: o.note,
    }
    const runs: SoakRun[] = []
    for (const t of o.transports as ('local' | 'tcp')[]) {
      const r = await soak(t, exe, o.seconds, o.rate)
      runs.push(r)
      process.stderr.write(`soak ${t}: ${describeVerdict(verdict(r))}\n`)
    }
    process.stdout.write(summaryTable(runs) + '\n')
    const command = `npm run soak -- --minutes ${o.seconds / 60} --rate ${o.rate} --transports ${o.transports.join(',')}`
    writeFileSync(o.out, soakMarkdown(machine, runs, command))
    process.stderr.write(`soak: wrote ${o.out}\n`)
    if (!runs.every((r) => verdict(r).ok)) process.exitCode = 1
  } finally {
    rmSync(build, {recursive: true, force: true})
  }
}

await main()
