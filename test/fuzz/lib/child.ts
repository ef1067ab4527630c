// Runs fuzz cases in a child process, so the parent can stop one that hangs
// or takes the process down (V8's fatal out-of-memory and invalid-size
// aborts are not exceptions) and still name the case. Does nothing unless
// the parent started it: the test runner loads every file under test/.

import {closeSync, openSync, writeSync} from 'node:fs'

import {Finding} from './finding.js'
import {caseRng} from './prng.js'
import {makeContext, targets, type TargetName} from './targets.js'

export interface ChildJob {
  target: TargetName
  seed: number
  /** Generated cases start..end-1, or inputs[start..] when given. */
  start: number
  end: number
  deadline: number
  inputs?: string[]
  corpus: {name: string; bytes: string}[]
  /** File whose first 8 bytes hold the case being run (little-endian). */
  progressFile: string
}

export type ChildMessage =
  | {type: 'finding'; index: number; message: string; input: string}
  | {type: 'done'; next: number}

/** Buffers travel base64 over IPC, which is JSON. */
export const pack = (b: Buffer): string => b.toString('base64')
export const unpack = (s: string): Buffer => Buffer.from(s, 'base64')

function run(job: ChildJob): void {
  const t = targets[job.target]
  const ctx = makeContext(job.corpus.map((c) => ({name: c.name, bytes: unpack(c.bytes)})))
  const fd = openSync(job.progressFile, 'r+')
  const cell = Buffer.alloc(8)
  const end = job.inputs ? job.inputs.length : job.end
  let i = job.start
  for (; i < end && Date.now() < job.deadline; i++) {
    cell.writeBigUInt64LE(BigInt(i))
    writeSync(fd, cell, 0, 8, 0)
    const input = job.inputs ? unpack(job.inputs[i]!) : t.make(caseRng(job.seed, i), ctx)
    try {
      t.check(input)
    } catch (e) {
      const message = e instanceof Finding ? e.message : `the checker itself failed: ${e instanceof Error ? e.stack : String(e)}`
      process.send!({type: 'finding', index: i, message, input: pack(input)} satisfies ChildMessage)
    }
  }
  closeSync(fd)
  process.send!({type: 'done', next: i} satisfies ChildMessage, () => process.disconnect())
}

if (process.env.BPFTOOLS_FUZZ_CHILD === '1' && process.send) {
  process.once('message', (job: ChildJob) => run(job))
}
