// The host fuzzers in the default suite: the regression inputs, then a fixed
// number of generated cases for the frame decoder and the object parsers.
// BPFTOOLS_FUZZ_SEED, BPFTOOLS_FUZZ_FRAMES and BPFTOOLS_FUZZ_OBJECTS change
// the seed and the counts; scripts/fuzz runs them for longer.

import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {loadObjectCorpus} from './lib/corpus.js'
import {fuzz} from './lib/engine.js'
import {describeFindings, REGRESSIONS, saveNewFindings, signature} from './lib/report.js'
import {TARGETS} from './lib/targets.js'

const SEED = Number(process.env.BPFTOOLS_FUZZ_SEED ?? 1)
const FRAME_CASES = Number(process.env.BPFTOOLS_FUZZ_FRAMES ?? 10_000)
const OBJECT_CASES = Number(process.env.BPFTOOLS_FUZZ_OBJECTS ?? 100_000)
// Each target stops at its count or this long, whichever comes first.
const BUDGET_MS = 25_000
const MEMORY_MB = 512

describe('host fuzzing', () => {
  // Problems the regression inputs already show: found again, they fail the
  // run but add no file.
  const known = new Set<string>()

  it('replays every regression input', {timeout: 120_000}, async () => {
    const failures: string[] = []
    for (const target of TARGETS) {
      const dir = join(REGRESSIONS, target)
      if (!existsSync(dir)) continue
      const files = readdirSync(dir).filter((f) => !f.startsWith('.') && !f.endsWith('.md')).sort()
      if (!files.length) continue
      const r = await fuzz({target, seed: 0, inputs: files.map((f) => readFileSync(join(dir, f))), memoryMb: MEMORY_MB, maxFindings: files.length})
      for (const f of r.findings) {
        known.add(signature(f))
        failures.push(`${target}/${files[f.index]}: ${f.kind}: ${f.message.split('\n').slice(0, 3).join(' / ')}`)
      }
    }
    assert.deepEqual(failures, [], `regression inputs still fail:\n${failures.join('\n')}`)
  })

  it(`decodes ${FRAME_CASES} generated streams of frames without a stray exception`, {timeout: BUDGET_MS + 60_000}, async (t) => {
    const r = await fuzz({target: 'frames', seed: SEED, iterations: FRAME_CASES, millis: BUDGET_MS, memoryMb: MEMORY_MB})
    t.diagnostic(`frames: ${r.execs} cases in ${r.millis} ms, seed ${SEED}`)
    if (r.findings.length) assert.fail(describeFindings(r.findings, saveNewFindings(r.findings, 3, known)))
  })

  it(`parses ${OBJECT_CASES} mutated BPF objects without a stray exception`, {timeout: BUDGET_MS + 120_000}, async (t) => {
    const {objects, failed} = await loadObjectCorpus()
    for (const f of failed) t.diagnostic(`not in the object corpus: ${f}`)
    if (!objects.length) {
      t.skip(`no BPF object compiled (${failed[0] ?? 'no sources'})`)
      return
    }
    const r = await fuzz({target: 'objects', seed: SEED, iterations: OBJECT_CASES, millis: BUDGET_MS, corpus: objects, memoryMb: MEMORY_MB})
    t.diagnostic(`objects: ${r.execs} cases from ${objects.length} objects in ${r.millis} ms, seed ${SEED}`)
    if (r.findings.length) assert.fail(describeFindings(r.findings, saveNewFindings(r.findings, 3, known)))
  })
})
