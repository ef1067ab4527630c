// Turning host fuzz findings into regression files and one readable failure.

import {join} from 'node:path'

import {REPO} from './corpus.js'
import {saveFinding, type FuzzFinding} from './engine.js'

export const REGRESSIONS = join(REPO, 'test', 'fuzz', 'regressions')

/** What tells one problem from another: the kind and the message's first line, numbers aside. */
export function signature(f: FuzzFinding): string {
  let what = f.message.split('\n')[0]!
  // V8 reports one runaway allocation in several ways, depending on how it grew.
  if (f.kind === 'crash' && /out of memory|heap limit|invalid size error|invalid array length/i.test(what)) what = 'out of memory'
  return `${f.target} ${f.kind}: ${what.replace(/\d+/g, 'N').slice(0, 160)}`
}

/**
 * Keeps the first input of each problem not in `known` (up to `max`) as a
 * regression file, so one bug found a thousand times is one file.
 */
export function saveNewFindings(findings: readonly FuzzFinding[], max = 3, known: ReadonlySet<string> = new Set()): string[] {
  const seen = new Set(known)
  const saved: string[] = []
  for (const f of findings) {
    const sig = signature(f)
    if (seen.has(sig) || saved.length >= max) continue
    seen.add(sig)
    saved.push(saveFinding(f, REGRESSIONS))
  }
  return saved
}

/** Each problem once, with how often it was hit. */
export function groupFindings(findings: readonly FuzzFinding[]): {signature: string; count: number; first: FuzzFinding}[] {
  const groups = new Map<string, {signature: string; count: number; first: FuzzFinding}>()
  for (const f of findings) {
    const sig = signature(f)
    const g = groups.get(sig)
    if (g) g.count++
    else groups.set(sig, {signature: sig, count: 1, first: f})
  }
  return [...groups.values()]
}

export function describeFindings(findings: readonly FuzzFinding[], saved: readonly string[] = []): string {
  const lines = findings.slice(0, 5).map((f) => `  ${f.target} case ${f.index} (seed ${f.seed}), ${f.kind}: ${f.message.split('\n').slice(0, 3).join(' / ')}`)
  if (findings.length > 5) lines.push(`  ... and ${findings.length - 5} more`)
  if (saved.length) lines.push(`inputs saved for replay on every run: ${saved.map((p) => p.slice(REPO.length)).join(', ')}`)
  return `${findings.length} fuzz finding(s):\n${lines.join('\n')}`
}
