// The long host fuzz run behind scripts/fuzz: both targets for a given time,
// with a fresh seed (printed, so a run can be repeated). Each distinct
// problem is saved once under test/fuzz/regressions/; problems the saved
// regression inputs already show are counted, not saved again. Inert unless
// started with --minutes, since the test runner loads every file under test/.
//
//   node dist/test/fuzz/long-run.js --minutes 10 [--seed N] [--target frames|objects]

import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {loadObjectCorpus, REPO} from './lib/corpus.js'
import {fuzz} from './lib/engine.js'
import {groupFindings, REGRESSIONS, saveNewFindings, signature} from './lib/report.js'
import {TARGETS, type TargetName} from './lib/targets.js'

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

/** The problems the saved regression inputs still show. */
async function knownProblems(target: TargetName, corpus: {name: string; bytes: Buffer}[]): Promise<Set<string>> {
  const dir = join(REGRESSIONS, target)
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.') && !f.endsWith('.md')) : []
  if (!files.length) return new Set()
  const r = await fuzz({target, seed: 0, inputs: files.map((f) => readFileSync(join(dir, f))), corpus, maxFindings: files.length})
  return new Set(r.findings.map(signature))
}

async function main(): Promise<number> {
  const minutes = Number(arg('--minutes'))
  if (!(minutes > 0)) throw new Error('--minutes N: a positive number of minutes')
  const seed = arg('--seed') !== undefined ? Number(arg('--seed')) : (Date.now() ^ (process.pid << 16)) >>> 0
  const only = arg('--target') as TargetName | undefined
  const chosen = only ? [only] : TARGETS
  const {objects, failed} = await loadObjectCorpus()
  for (const f of failed) console.log(`host fuzz: not in the object corpus: ${f}`)
  // objects get twice the time of frames: each case is larger and slower
  const shares: Record<TargetName, number> = {frames: 1, objects: 2}
  const total = chosen.reduce((n, t) => n + shares[t], 0)
  let found = 0
  for (const target of chosen) {
    if (target === 'objects' && objects.length === 0) {
      console.log('host fuzz: objects: skipped, no object compiled')
      continue
    }
    const known = await knownProblems(target, objects)
    const millis = (minutes * 60_000 * shares[target]) / total
    const r = await fuzz({target, seed, millis, corpus: objects, maxFindings: 1000})
    const rate = Math.round((r.execs * 1000) / Math.max(1, r.millis))
    console.log(`host fuzz: ${target}: seed ${seed}, ${r.execs} cases in ${(r.millis / 1000).toFixed(0)} s (${rate}/s), ${r.findings.length} findings`)
    const saved = saveNewFindings(r.findings, 10, known)
    for (const g of groupFindings(r.findings)) {
      const status = known.has(g.signature) ? 'already a regression input' : 'new'
      console.log(`  ${g.count} x ${g.signature} (${status}; first at case ${g.first.index})`)
    }
    for (const path of saved) console.log(`  saved ${path.slice(REPO.length)}`)
    found += r.findings.length
  }
  return found ? 1 : 0
}

if (process.argv.includes('--minutes')) {
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(`host fuzz: ${e.message}`)
      process.exit(2)
    },
  )
}
