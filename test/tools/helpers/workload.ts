/**
 * A workload program driven line by line: it prints "ready ..." once
 * started, then answers each command written to its stdin with lines on
 * its stdout. Its own answers are what a tracer's output is checked against.
 */
import {spawn, type ChildProcess} from 'node:child_process'

export type WorkloadOptions = {uid?: number; gid?: number; cwd?: string}

/** Every workload still running, so a failed or timed-out test can end them all. */
const live = new Set<Workload>()

/** Kills every workload still running (an after() hook's safety net). */
export function killEveryWorkload(): void {
  for (const w of live) w.kill()
}

export class Workload {
  private buffered = ''
  private readonly queue: string[] = []
  private readonly readers: ((line: string | undefined) => void)[] = []
  private ended = false
  private stderr = ''
  readonly exited: Promise<number | null>

  private constructor(readonly child: ChildProcess, readonly label: string) {
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (d: string) => {
      this.buffered += d
      let nl
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        this.push(this.buffered.slice(0, nl))
        this.buffered = this.buffered.slice(nl + 1)
      }
    })
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (d: string) => (this.stderr += d))
    live.add(this)
    this.exited = new Promise((resolve) => {
      child.once('close', (code) => {
        live.delete(this)
        this.ended = true
        for (const r of this.readers.splice(0)) r(undefined)
        resolve(code)
      })
    })
  }

  /** Starts the program and waits for its "ready" line; returns it split into words after "ready". */
  static async start(path: string, label: string, o: WorkloadOptions = {}): Promise<{w: Workload; ready: string[]}> {
    const child = spawn(path, [], {stdio: ['pipe', 'pipe', 'pipe'], uid: o.uid, gid: o.gid, cwd: o.cwd})
    const w = new Workload(child, label)
    const line = await w.readLine()
    if (!line.startsWith('ready ')) throw new Error(`${label}: expected "ready ...", got ${JSON.stringify(line)}`)
    return {w, ready: line.split(' ').slice(1)}
  }

  get pid(): number {
    return this.child.pid!
  }

  readLine(): Promise<string> {
    const line = this.queue.shift()
    if (line !== undefined) return Promise.resolve(line)
    if (this.ended) return Promise.reject(new Error(`${this.label} ended: ${this.stderr}`))
    return new Promise((resolve, reject) => {
      this.readers.push((l) => (l === undefined ? reject(new Error(`${this.label} ended: ${this.stderr}`)) : resolve(l)))
    })
  }

  /** Sends one command and returns its one-line answer. */
  async ask(command: string): Promise<string> {
    this.child.stdin!.write(command + '\n')
    return this.readLine()
  }

  /** Sends one command and collects answer lines up to and including the one `last` matches. */
  async askUntil(command: string, last: (line: string) => boolean): Promise<string[]> {
    this.child.stdin!.write(command + '\n')
    const lines: string[] = []
    for (;;) {
      const line = await this.readLine()
      lines.push(line)
      if (last(line)) return lines
    }
  }

  /** Ends the program's input and waits for it to exit. */
  async end(): Promise<void> {
    this.child.stdin!.end()
    await this.exited
  }

  kill(): void {
    if (!this.ended) this.child.kill('SIGKILL')
  }

  private push(line: string): void {
    const r = this.readers.shift()
    if (r) r(line)
    else this.queue.push(line)
  }
}
