/**
 * Running a tracing tool as a child process the way a user does: our CLI
 * (`bin/bpftools TOOL`, over `local` or a `tcp:` bpfd), or a peer such as
 * libbpf-tools' binaries. Waits on what the tool prints, never on time, and
 * puts the tool's output into every failure message.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {join} from 'node:path'
import {BPFTOOLS, REPO} from './programs.js'

export type Transport = 'local' | 'tcp'

export const TRANSPORTS: readonly Transport[] = ['local', 'tcp']

export const BPFD = join(REPO, 'daemon', 'out', `bpfd-${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}`)

export type Exit = {code: number | null; signal: NodeJS.Signals | null; atMs: number}

const now = () => performance.now()

/** `bpfd --listen 127.0.0.1:0`, serving one client. */
export class Bpfd {
  private constructor(readonly child: ChildProcess, readonly address: string, private readonly err: () => string) {}

  static start(): Promise<Bpfd> {
    const child = spawn(BPFD, ['--listen', '127.0.0.1:0'], {stdio: ['ignore', 'ignore', 'pipe']})
    let err = ''
    return new Promise((resolve, reject) => {
      child.stderr!.setEncoding('utf8')
      child.stderr!.on('data', (d: string) => {
        err += d
        const m = /bpfd: listening on (\S+)/.exec(err)
        if (m) resolve(new Bpfd(child, m[1]!, () => err))
      })
      child.once('error', reject)
      child.once('exit', (code) => reject(new Error(`bpfd exited (${code}) before listening: ${err}`)))
    })
  }

  get remote(): string {
    return `tcp:${this.address}`
  }

  get stderr(): string {
    return this.err()
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((r) => this.child.once('exit', r))
    this.child.kill('SIGTERM')
    await exited
  }
}

export type StartOptions = {
  /** Shown in failure messages. */
  label: string
  /**
   * When the tool is ready: its first stdout line (the header), or a line
   * on stderr matching this pattern.
   */
  ready?: 'header' | RegExp
  readyTimeoutMs?: number
  /** Started before the tool, stopped after it. */
  bpfd?: Bpfd
}

/** Every tool still running, so a failed or timed-out test can stop them all. */
const live = new Set<ToolProcess>()

export class ToolProcess {
  stdout = ''
  stderr = ''
  readonly spawnedAtMs = now()
  readyAtMs = NaN
  readonly exited: Promise<Exit>
  private exit: Exit | undefined
  private readonly waiters = new Set<() => void>()

  private constructor(readonly child: ChildProcess, readonly command: string[], readonly label: string, readonly bpfd?: Bpfd) {
    child.stdout!.setEncoding('utf8')
    child.stderr!.setEncoding('utf8')
    child.stdout!.on('data', (d: string) => {
      this.stdout += d
      this.wake()
    })
    child.stderr!.on('data', (d: string) => {
      this.stderr += d
      this.wake()
    })
    live.add(this)
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        live.delete(this)
        this.exit = {code, signal, atMs: now()}
        this.wake()
        resolve(this.exit)
      })
    })
  }

  static async start(command: string[], o: StartOptions): Promise<ToolProcess> {
    const child = spawn(command[0]!, command.slice(1), {stdio: ['ignore', 'pipe', 'pipe']})
    const t = new ToolProcess(child, command, o.label, o.bpfd)
    const ready = o.ready ?? 'header'
    try {
      await t.waitFor(
        () => (ready === 'header' ? t.stdout.includes('\n') : ready.test(t.stderr)),
        ready === 'header' ? 'its header line' : `a line matching ${ready} on stderr`,
        o.readyTimeoutMs ?? 20000,
      )
    } catch (e) {
      await t.stop()
      throw e
    }
    t.readyAtMs = now()
    return t
  }

  /** The complete stdout lines, the header included. */
  get lines(): string[] {
    const end = this.stdout.lastIndexOf('\n')
    return end < 0 ? [] : this.stdout.slice(0, end).split('\n')
  }

  /** The stdout lines after the header. */
  get dataLines(): string[] {
    return this.lines.slice(1)
  }

  get header(): string {
    return this.lines[0] ?? ''
  }

  /** Resolves once `done()` holds; rejects with the output on timeout or exit. */
  waitFor(done: () => boolean, what: string, timeoutMs = 20000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        let ok = false
        try {
          ok = done()
        } catch (e) {
          finish(new Error(`${this.label}: ${(e as Error).message}\n${this.report()}`))
          return
        }
        if (ok) finish()
        else if (this.exit) finish(new Error(`${this.label} exited (${this.exit.code ?? this.exit.signal}) before ${what}\n${this.report()}`))
      }
      const timer = setTimeout(() => finish(new Error(`${this.label}: no ${what} after ${timeoutMs} ms\n${this.report()}`)), timeoutMs)
      const finish = (err?: Error) => {
        clearTimeout(timer)
        this.waiters.delete(check)
        if (err) reject(err)
        else resolve()
      }
      this.waiters.add(check)
      check()
    })
  }

  /** Ends the tool as Ctrl-C does and waits for it (and its bpfd). */
  async stop(timeoutMs = 10000): Promise<Exit> {
    if (!this.exit) this.child.kill('SIGINT')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs)
    const exit = await this.exited
    clearTimeout(timer)
    await this.bpfd?.stop()
    return exit
  }

  /** The tool's command line and output, for failure messages. */
  report(maxLines = 60): string {
    const lines = this.stdout.split('\n')
    const shown = lines.length <= maxLines ? lines : [...lines.slice(0, 10), `... ${lines.length - maxLines} lines ...`, ...lines.slice(-(maxLines - 10))]
    return [
      `--- ${this.label}: ${this.command.join(' ')}${this.exit ? ` (exit ${this.exit.code ?? this.exit.signal})` : ''}`,
      '--- stdout:',
      ...shown,
      '--- stderr:',
      this.stderr.trimEnd(),
      ...(this.bpfd ? ['--- bpfd stderr:', this.bpfd.stderr.trimEnd()] : []),
    ].join('\n')
  }

  private wake(): void {
    for (const w of [...this.waiters]) w()
  }
}

/** Starts `bin/bpftools TOOL ARGS` on a transport; tcp gets a bpfd of its own. */
export async function startBpftools(tool: string, args: string[], transport: Transport, o: Omit<StartOptions, 'bpfd'>): Promise<ToolProcess> {
  const bpfd = transport === 'tcp' ? await Bpfd.start() : undefined
  const remote = bpfd ? bpfd.remote : 'local'
  try {
    return await ToolProcess.start([BPFTOOLS, tool, '--remote', remote, ...args], {...o, label: `${o.label} [${transport}]`, bpfd})
  } catch (e) {
    await bpfd?.stop()
    throw e
  }
}

/** Starts a libbpf-tools binary with its stdout line-buffered (it is a pipe here). */
export function startPeer(path: string, args: string[], label: string): Promise<ToolProcess> {
  return ToolProcess.start(['stdbuf', '-oL', path, ...args], {label})
}

/** Stops every tool, whatever happened to the others. */
export async function stopAll(tools: Iterable<ToolProcess | undefined>): Promise<void> {
  await Promise.all([...tools].map((t) => t?.stop().catch(() => undefined)))
}

/**
 * Starts tools together; when one fails to start, stops the others before
 * rethrowing, so no tracer outlives the test.
 */
export async function startTogether(starts: Promise<ToolProcess>[]): Promise<ToolProcess[]> {
  const settled = await Promise.allSettled(starts)
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  const started = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  if (failed) {
    await stopAll(started)
    throw failed.reason
  }
  return started
}

/** Stops every tool still running (an after() hook's safety net). */
export function stopEveryTool(): Promise<void> {
  return stopAll([...live])
}
