// bpfd's libFuzzer target (daemon/fuzz) in the default suite: built, its
// regression inputs replayed, then fuzzed for BPFTOOLS_FUZZ_SECONDS (60).
// The first input of each new kind of crash is copied to
// test/fuzz/regressions/bpfd/ and replayed on every run from then on.

import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {REPO} from './lib/corpus.js'

const FUZZ_DIR = join(REPO, 'daemon', 'fuzz')
const BIN = join(FUZZ_DIR, 'out', 'fuzz-bpfd')
const REGRESSIONS = join(REPO, 'test', 'fuzz', 'regressions', 'bpfd')
const SECONDS = Number(process.env.BPFTOOLS_FUZZ_SECONDS ?? 60)

function toolchainMissing(): string | undefined {
  const r = spawnSync('make', ['-s', '-C', FUZZ_DIR, 'check-toolchain'], {encoding: 'utf8'})
  if (r.error) return `make cannot run: ${r.error.message}`
  if (r.status !== 0) return r.stderr.trim() || 'clang cannot build a libFuzzer target'
  return undefined
}

/** What an input does to the target, addresses aside; undefined when it passes. */
function crashKind(file: string): string | undefined {
  const r = spawnSync(BIN, [file], {encoding: 'utf8', timeout: 60_000})
  if (r.status === 0) return undefined
  const line = r.stderr.split('\n').find((l) => /^SUMMARY|==fakesys==/.test(l)) ?? `exit ${r.status ?? r.signal}`
  return line.replace(/ \(.*\+0x[0-9a-f]+\)/, '').replace(/\(BuildId: [0-9a-f]+\)/, '').trim()
}

function regressionFiles(): string[] {
  if (!existsSync(REGRESSIONS)) return []
  return readdirSync(REGRESSIONS).filter((f) => !f.startsWith('.') && !f.endsWith('.md')).sort()
}

describe('bpfd fuzz target', {skip: toolchainMissing() ?? false}, () => {
  let crashes = ''
  // Kinds of crash the regression inputs already show: found again, they
  // fail the run but add no file.
  const known = new Set<string>()

  before(() => {
    const r = spawnSync('make', ['-s', '-C', FUZZ_DIR], {encoding: 'utf8'})
    assert.equal(r.status, 0, `building the fuzz target failed:\n${r.stdout}${r.stderr}`)
    crashes = mkdtempSync(join(tmpdir(), 'bpfd-fuzz-crashes-'))
  })

  after(() => {
    if (crashes) rmSync(crashes, {recursive: true, force: true})
  })

  it('replays every regression input', () => {
    const failing: string[] = []
    for (const f of regressionFiles()) {
      const kind = crashKind(join(REGRESSIONS, f))
      if (!kind) continue
      known.add(kind)
      failing.push(`test/fuzz/regressions/bpfd/${f}: ${kind}`)
    }
    assert.deepEqual(failing, [], `regression inputs still fail (replay one: FUZZ_BPFD_ECHO=1 daemon/fuzz/out/fuzz-bpfd FILE):\n${failing.join('\n')}`)
  })

  it(`finds nothing in ${SECONDS} s`, {timeout: (SECONDS + 240) * 1000}, async (t) => {
    const corpus = join(FUZZ_DIR, 'out', 'corpus')
    mkdirSync(corpus, {recursive: true})
    // Fork mode goes on after a crash, so a known one does not end the run.
    const args = [
      '-fork=1', '-ignore_crashes=1', '-ignore_timeouts=1', '-ignore_ooms=1',
      `-max_total_time=${SECONDS}`, '-max_len=16384', '-timeout=10', '-rss_limit_mb=4096',
      `-dict=${join(FUZZ_DIR, 'bpfd.dict')}`, `-artifact_prefix=${crashes}/`,
      corpus, join(FUZZ_DIR, 'out', 'seeds'),
    ]
    const child = spawn(BIN, args, {stdio: ['ignore', 'ignore', 'pipe']})
    let log = ''
    child.stderr.on('data', (d: Buffer) => {
      log = (log + d.toString('utf8')).slice(-200_000)
    })
    await new Promise((resolve) => child.on('close', resolve))
    const last = [...log.matchAll(/^#(\d+): cov: (\d+) ft: (\d+) corp: (\d+)/gm)].pop()
    t.diagnostic(last ? `bpfd: ${last[1]} executions (${Math.round(Number(last[1]) / SECONDS)}/s), corpus ${last[4]}` : 'bpfd: no statistics printed')
    const kinds = new Map<string, {count: number; saved?: string}>()
    for (const f of readdirSync(crashes)) {
      const kind = crashKind(join(crashes, f)) ?? `does not crash when replayed alone (${f})`
      const seen = kinds.get(kind)
      if (seen) {
        seen.count++
        continue
      }
      let saved: string | undefined
      if (!known.has(kind)) {
        mkdirSync(REGRESSIONS, {recursive: true})
        copyFileSync(join(crashes, f), join(REGRESSIONS, f))
        saved = `test/fuzz/regressions/bpfd/${f}`
      }
      kinds.set(kind, {count: 1, saved})
    }
    if (!kinds.size) return
    const lines = [...kinds].map(([kind, k]) => `  ${k.count} x ${kind} (${k.saved ? `new, saved ${k.saved}` : 'already a regression input'})`)
    assert.fail(`fuzz-bpfd crashed:\n${lines.join('\n')}\nreplay one with FUZZ_BPFD_ECHO=1 daemon/fuzz/out/fuzz-bpfd FILE`)
  })
})
