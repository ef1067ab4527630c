// Runs a host fuzz target for a number of cases or a time, in a child
// process watched from here: a case that throws the wrong error, hangs, or
// takes the process down (memory, V8 aborts) is a finding, kept with its input.

import {fork} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {pack, unpack, type ChildJob, type ChildMessage} from './child.js'
import {caseRng} from './prng.js'
import {makeContext, targets, type TargetName} from './targets.js'

export interface FuzzOptions {
  target: TargetName
  seed: number
  /** Cases to run (default: unbounded, until `millis`). */
  iterations?: number
  /** Time to run (default: unbounded, until `iterations`). */
  millis?: number
  /** Replay these inputs instead of generating cases. */
  inputs?: Buffer[]
  /** Objects to mutate (the objects target). */
  corpus?: {name: string; bytes: Buffer}[]
  /** A case running this long is a hang (default 10 s). */
  hangMillis?: number
  /** Heap the child may use (default 512 MiB); running out is a crash. */
  memoryMb?: number
  /** Stop early after this many findings (default 10). */
  maxFindings?: number
}

export interface FuzzFinding {
  target: TargetName
  seed: number
  index: number
  kind: 'contract' | 'hang' | 'crash'
  message: string
  input: Buffer
}

export interface FuzzResult {
  target: TargetName
  execs: number
  millis: number
  findings: FuzzFinding[]
}

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url))

function readProgress(file: string, fallback: number): number {
  try {
    return Number(readFileSync(file).readBigUInt64LE(0))
  } catch {
    return fallback
  }
}

/** The line of a dead process's stderr that says why (V8 and Node fatal errors). */
function why(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.replace(/^#\s*/, '').trim()).filter(Boolean)
  return lines.find((l) => /fatal|out of memory|RangeError|Error:/i.test(l) && !/^Fatal error in/.test(l)) ?? lines.at(-1) ?? 'no message'
}

/** Runs one child from case `start`; resolves with the next case to run. */
function runChild(
  opts: FuzzOptions,
  start: number,
  end: number,
  deadline: number,
  progressFile: string,
  onFinding: (f: FuzzFinding) => void,
): Promise<number> {
  const cell = Buffer.alloc(8)
  cell.writeBigUInt64LE(BigInt(start))
  writeFileSync(progressFile, cell)
  const child = fork(CHILD, [], {
    env: {...process.env, BPFTOOLS_FUZZ_CHILD: '1'},
    execArgv: [`--max-old-space-size=${opts.memoryMb ?? 512}`],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-4000)
  })
  const job: ChildJob = {
    target: opts.target,
    seed: opts.seed,
    start,
    end,
    deadline,
    inputs: opts.inputs?.map(pack),
    corpus: (opts.corpus ?? []).map((c) => ({name: c.name, bytes: pack(c.bytes)})),
    progressFile,
  }
  child.send(job)
  const hangMillis = opts.hangMillis ?? 10_000
  const inputOf = (index: number): Buffer => {
    if (opts.inputs) return opts.inputs[index] ?? Buffer.alloc(0)
    return targets[opts.target].make(caseRng(opts.seed, index), makeContext(opts.corpus ?? []))
  }
  const report = (kind: FuzzFinding['kind'], index: number, message: string) =>
    onFinding({target: opts.target, seed: opts.seed, index, kind, message, input: inputOf(index)})
  return new Promise((resolve) => {
    let done: number | undefined
    let hung = false
    let seen = start
    let since = Date.now()
    const watch = setInterval(() => {
      const now = readProgress(progressFile, seen)
      if (now !== seen) {
        seen = now
        since = Date.now()
      } else if (Date.now() - since > hangMillis) {
        hung = true
        child.kill('SIGKILL')
      }
    }, 250)
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'finding') {
        onFinding({target: opts.target, seed: opts.seed, index: m.index, kind: 'contract', message: m.message, input: unpack(m.input)})
      } else {
        done = m.next
      }
    })
    child.on('exit', (code, signal) => {
      clearInterval(watch)
      if (done !== undefined) return resolve(done)
      const at = readProgress(progressFile, seen)
      if (hung) report('hang', at, `case ran over ${hangMillis} ms`)
      else report('crash', at, `the process died (${signal ?? `exit ${code}`}): ${why(stderr)}`)
      resolve(at + 1)
    })
  })
}

export async function fuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const t0 = Date.now()
  const deadline = opts.millis === undefined ? Number.MAX_SAFE_INTEGER : t0 + opts.millis
  const end = opts.inputs ? opts.inputs.length : opts.iterations ?? Number.MAX_SAFE_INTEGER
  const maxFindings = opts.maxFindings ?? 10
  const findings: FuzzFinding[] = []
  const dir = mkdtempSync(join(tmpdir(), 'bpftools-fuzz-'))
  let next = 0
  try {
    while (next < end && Date.now() < deadline && findings.length < maxFindings) {
      next = await runChild(opts, next, end, deadline, join(dir, 'progress'), (f) => findings.push(f))
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
  return {target: opts.target, execs: Math.min(next, end), millis: Date.now() - t0, findings}
}

/** Saves a finding's input as a regression file; returns its path. */
export function saveFinding(f: FuzzFinding, dir: string): string {
  const sub = join(dir, f.target)
  mkdirSync(sub, {recursive: true})
  const name = `${f.kind}-${createHash('sha1').update(f.input).digest('hex').slice(0, 12)}.${targets[f.target].ext}`
  const path = join(sub, name)
  writeFileSync(path, f.input)
  return path
}
