/**
 * Measuring helpers every bench shares: medians and timers, a bpfd listener,
 * and what /proc says about a tree of processes (CPU time, peak RSS).
 */
import {execFile, spawn, type ChildProcess} from 'node:child_process'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {bpfdPath, hostArch} from '../src/remote/bpfd-binary.js'
import {REPO} from '../test/tools/helpers/programs.js'

const run = promisify(execFile)

/** /proc/PID/stat times are in clock ticks; USER_HZ is 100 on every Linux architecture. */
const TICKS_PER_SECOND = 100

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error('median of no figures')
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - t) / 1e6
}

export async function medianMs(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < runs; i++) times.push(await timeMs(fn))
  return median(times)
}

/** This machine's bpfd. */
export function bpfdBinary(): string {
  const arch = hostArch()
  if (!arch) throw new Error(`no bpfd build for ${process.arch}`)
  return bpfdPath(arch)
}

/** A `bpfd --listen 127.0.0.1:0` and the address it chose. */
export async function startListener(env: NodeJS.ProcessEnv = process.env): Promise<{child: ChildProcess; address: string}> {
  const child = spawn(bpfdBinary(), ['--listen', '127.0.0.1:0'], {stdio: ['ignore', 'ignore', 'pipe'], env})
  let text = ''
  const address = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8')
      const m = /bpfd: listening on (\S+)/.exec(text)
      if (m) resolve(m[1]!)
    })
    child.once('exit', (code) => reject(new Error(`bpfd --listen exited (${code}): ${text.trim()}`)))
    child.once('error', reject)
  })
  child.stderr!.resume()
  return {child, address}
}

/** Signals a child (if it still runs) and waits for it to exit. */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done()
    child.once('exit', () => done())
    child.kill(signal)
  })
}

type ProcStat = {ppid: number; comm: string; ticks: number}

function procStats(): Map<number, ProcStat> {
  const stats = new Map<number, ProcStat>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let text: string
    try {
      text = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue
    }
    // Fields after the parenthesised comm: state ppid ... utime(14) stime(15).
    const close = text.lastIndexOf(')')
    const f = text.slice(close + 2).split(' ')
    stats.set(Number(name), {ppid: Number(f[1]), comm: text.slice(text.indexOf('(') + 1, close), ticks: Number(f[11]) + Number(f[12])})
  }
  return stats
}

/** The processes `roots` and all their descendants still alive, with their comm. */
export function processTree(roots: number[]): Map<number, string> {
  const stats = procStats()
  const tree = new Map<number, string>()
  const todo = [...roots]
  while (todo.length) {
    const pid = todo.pop()!
    const s = stats.get(pid)
    if (!s || tree.has(pid)) continue
    tree.set(pid, s.comm)
    for (const [child, c] of stats) if (c.ppid === pid) todo.push(child)
  }
  return tree
}

/** The CPU time of processes with all their descendants, in seconds. */
export function treeCpuSeconds(roots: number[]): number {
  const stats = procStats()
  let ticks = 0
  for (const pid of processTree(roots).keys()) ticks += stats.get(pid)?.ticks ?? 0
  return ticks / TICKS_PER_SECOND
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

export function vmRssKb(pid: number): number {
  const kb = statusKb(pid, 'VmRSS')
  if (kb === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return kb
}

/**
 * Peak RSS (VmHWM) of every process in the trees of `roots`, by comm.
 * Read while they still run: a process's high-water mark goes with it.
 */
export function peakRssKb(roots: number[]): Map<string, number> {
  const byComm = new Map<string, number>()
  for (const [pid, comm] of processTree(roots)) {
    const kb = statusKb(pid, 'VmHWM')
    if (kb !== undefined) byComm.set(comm, (byComm.get(comm) ?? 0) + kb)
  }
  return byComm
}

/** The busy CPU ticks of the whole machine so far, from /proc/stat. */
export function machineBusyTicks(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal: all but idle and iowait.
  return cpu.reduce((n, v, i) => (i === 3 || i === 4 ? n : n + v), 0)
}

/** CPU ticks of this process and every child it has waited for (which includes theirs). */
export function ownTicks(): number {
  const text = readFileSync('/proc/self/stat', 'utf8')
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // utime stime cutime cstime are fields 14-17.
  return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
}

export const TICKS_PER_SEC = TICKS_PER_SECOND

/** Compiles bench/<source>.c with gcc to `out`. */
export async function compileBenchC(source: string, out: string): Promise<string> {
  try {
    await run('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, join(REPO, 'bench', `${source}.c`)])
  } catch (e) {
    const err = e as Error & {stderr?: string}
    throw new Error(`gcc ${source}.c failed: ${err.stderr ?? err.message}`)
  }
  return out
}

/** A command's stdout, or undefined when it cannot run. */
export async function commandOutput(argv: string[]): Promise<string | undefined> {
  try {
    const {stdout} = await run(argv[0]!, argv.slice(1), {timeout: 10_000})
    return stdout.trim()
  } catch {
    return undefined
  }
}

export type LineWait = {
  argv: string[]
  /** Milliseconds from spawn until the line. */
  ms: number
  child: ChildProcess
  /** Everything the child printed so far, and on. */
  stdout: () => string
  stderr: () => string
  exited: Promise<void>
}

/**
 * Spawns `argv` and waits for a stdout line matching `ready`. Rejects with
 * the child's stderr when it exits first or takes over `timeoutMs`.
 */
export async function spawnUntilLine(argv: string[], ready: RegExp, o: {env?: NodeJS.ProcessEnv; timeoutMs?: number} = {}): Promise<LineWait> {
  const started = performance.now()
  const child = spawn(argv[0]!, argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe'], env: o.env ?? process.env})
  let out = ''
  let err = ''
  let scanned = 0
  child.stdout!.setEncoding('utf8')
  child.stderr!.setEncoding('utf8')
  const exited = new Promise<void>((r) => child.once('close', () => r()))
  child.stderr!.on('data', (d: string) => (err += d))
  const ms = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${argv[0]} showed no ready line in ${o.timeoutMs ?? 60_000} ms: ${err.trim()}`))
    }, o.timeoutMs ?? 60_000)
    child.stdout!.on('data', (d: string) => {
      out += d
      const end = out.lastIndexOf('\n')
      if (end < scanned) return
      const lines = out.slice(scanned, end).split('\n')
      scanned = end + 1
      if (lines.some((l) => ready.test(l))) {
        clearTimeout(timer)
        resolve(performance.now() - started)
      }
    })
    child.once('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    void exited.then(() => {
      clearTimeout(timer)
      reject(new ExitedEarly(argv[0]!, child.exitCode, err, out))
    })
  })
  return {argv, ms, child, stdout: () => out, stderr: () => err, exited}
}

/** A tool that exited before it was ready, with what it said. */
export class ExitedEarly extends Error {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
    readonly stdout: string,
  ) {
    super(`${command} exited (${code}) before it was ready: ${stderr.trim().split('\n').slice(-3).join(' / ')}`)
  }
}

/**
 * Ends a child with SIGINT, as a user would, then SIGKILL if it lingers.
 * bpftrace gets SIGINT again every 500 ms: 0.17 can catch one just before it
 * sleeps in epoll_wait and sleep on. (Ours takes a second SIGINT as "stop
 * now, skip the summary", so it gets one.)
 */
export async function interrupt(w: {child: ChildProcess; exited: Promise<void>; argv: string[]}, graceMs = 15_000): Promise<void> {
  const running = () => w.child.exitCode === null && w.child.signalCode === null
  if (running()) w.child.kill('SIGINT')
  const again = w.argv[0] === 'bpftrace' ? setInterval(() => running() && w.child.kill('SIGINT'), 500) : undefined
  const timer = setTimeout(() => w.child.kill('SIGKILL'), graceMs)
  await w.exited
  clearTimeout(timer)
  clearInterval(again)
}
