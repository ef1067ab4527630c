/**
 * Runs every `*.bench.js` module beside this one (or one, with `--only NAME`)
 * and prints their figures as one table.
 *
 *   node dist/bench/run.js [--only NAME]
 */
import {readdirSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import type {Row} from './row.js'

const SUFFIX = '.bench.js'

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\nusage: node dist/bench/run.js [--only NAME]\n`)
  process.exit(2)
}

function parseArgs(argv: string[]): {only?: string} {
  let only: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--only') {
      only = argv[++i]
      if (!only) usage('--only needs a bench name')
    } else if (a.startsWith('--only=')) {
      only = a.slice('--only='.length)
    } else {
      usage(`unknown argument '${a}'`)
    }
  }
  return {only}
}

/** Enough digits to read, without pretending to more precision than a timing has. */
function num(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  if (Number.isInteger(n)) return n.toLocaleString('en-US')
  const abs = Math.abs(n)
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3
  return n.toLocaleString('en-US', {minimumFractionDigits: digits, maximumFractionDigits: digits})
}

function table(rows: Row[]): string {
  const header = ['bench', 'metric', 'ours', 'peer', 'ours/peer', 'unit']
  const right = [false, false, true, true, true, false]
  const cells = rows.map((r) => [
    r.bench,
    r.metric,
    num(r.ours),
    r.peer === null ? '—' : `${num(r.peer)} (${r.peerName})`,
    r.peer === null || r.peer === 0 ? '—' : `${(r.ours / r.peer).toFixed(2)}x`,
    r.unit,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)))
  const line = (c: string[]) =>
    c
      .map((s, i) => (right[i] ? s.padStart(widths[i]) : s.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')
}

async function main(): Promise<void> {
  const {only} = parseArgs(process.argv.slice(2))
  const dir = dirname(fileURLToPath(import.meta.url))
  const names = readdirSync(dir)
    .filter((f) => f.endsWith(SUFFIX))
    .map((f) => f.slice(0, -SUFFIX.length))
    .sort()
  const chosen = only === undefined ? names : names.filter((n) => n === only)
  if (chosen.length === 0) usage(only === undefined ? `no *${SUFFIX} in ${dir}` : `no bench '${only}' (have: ${names.join(', ')})`)

  const rows: Row[] = []
  let failed = false
  for (const name of chosen) {
    process.stderr.write(`bench: ${name} ...\n`)
    const started = Date.now()
    try {
      const mod = (await import(pathToFileURL(join(dir, name + SUFFIX)).href)) as {default?: unknown}
      if (typeof mod.default !== 'function') throw new Error('has no default export () => Promise<Row[]>')
      rows.push(...(await (mod.default as () => Promise<Row[]>)()))
    } catch (error) {
      // One broken bench should not hide the others' figures.
      failed = true
      process.stderr.write(`bench: ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    }
    process.stderr.write(`bench: ${name} took ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
  }
  process.stdout.write(table(rows) + '\n')
  if (failed) process.exitCode = 1
}

await main()
