/**
 * Runs every `*.bench.js` module beside this one (or those `--only` names),
 * prints their figures as one table, and writes them with the machine they
 * were measured on to bench/RESULTS.md.
 *
 *   node dist/bench/run.js [--only NAME[,NAME]] [--runs N] [--short] [--note TEXT] [--out FILE | --no-write]
 */
import {readdirSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {REPO} from '../test/tools/helpers/programs.js'
import {describeMachine, watchLoad} from './machine.js'
import {markdown, textTable} from './report.js'
import type {BenchContext, Row} from './row.js'

const SUFFIX = '.bench.js'
/** Three runs keep the whole benchmark near five minutes on two cores. */
const DEFAULT_RUNS = 3
const RESULTS = join(REPO, 'bench', 'RESULTS.md')
/** The order the table reads best in: the user's view first, then the parts; any other bench after these. */
const ORDER = ['startup', 'opensnoop', 'execsnoop', 'stackcount', 'biolatency', 'size', 'bpfd']
const USAGE = 'usage: node dist/bench/run.js [--only NAME[,NAME]] [--runs N] [--short] [--note TEXT] [--out FILE | --no-write]'

type Args = {only?: string[]; runs: number; short: boolean; note?: string; out?: string | null}

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`)
  process.exit(2)
}

function positive(flag: string, text: string | undefined): number {
  const n = Number(text)
  if (!text || !Number.isInteger(n) || n < 1) usage(`${flag} needs a whole number of runs, 1 or more (got '${text ?? ''}')`)
  return n
}

function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Args {
  const a: Args = {runs: env.BENCH_RUNS === undefined ? DEFAULT_RUNS : positive('BENCH_RUNS', env.BENCH_RUNS), short: false}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const eq = arg.indexOf('=')
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg
    const value = (): string => {
      const v = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : argv[++i]
      if (v === undefined || v === '') usage(`${flag} needs a value`)
      return v
    }
    switch (flag) {
      case '--only':
        a.only = value().split(',')
        break
      case '--runs':
        a.runs = positive('--runs', value())
        break
      case '--short':
        a.short = true
        break
      case '--note':
        a.note = value()
        break
      case '--out':
        a.out = value()
        break
      case '--no-write':
        a.out = null
        break
      default:
        usage(`unknown argument '${arg}'`)
    }
  }
  return a
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const dir = dirname(fileURLToPath(import.meta.url))
  const rank = (n: string) => (ORDER.includes(n) ? ORDER.indexOf(n) : ORDER.length)
  const names = readdirSync(dir)
    .filter((f) => f.endsWith(SUFFIX))
    .map((f) => f.slice(0, -SUFFIX.length))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
  if (names.length === 0) usage(`no *${SUFFIX} in ${dir}`)
  const unknown = (args.only ?? []).filter((n) => !names.includes(n))
  if (unknown.length) usage(`no bench ${unknown.map((n) => `'${n}'`).join(', ')} (have: ${names.join(', ')})`)
  const chosen = args.only ? names.filter((n) => args.only!.includes(n)) : names
  // A partial run does not replace the full results unless asked to.
  const out = args.out === undefined ? (args.only ? null : RESULTS) : args.out

  const ctx: BenchContext = {runs: args.runs, short: args.short}
  const machine = await describeMachine()
  const load = watchLoad()
  process.stderr.write(`bench: ${chosen.join(', ')}; ${ctx.runs} run${ctx.runs === 1 ? '' : 's'} per figure${ctx.short ? ', short storms' : ''}\n`)

  const rows: Row[] = []
  const failures: {bench: string; error: string}[] = []
  for (const name of chosen) {
    process.stderr.write(`bench: ${name} ...\n`)
    const started = Date.now()
    try {
      const mod = (await import(pathToFileURL(join(dir, name + SUFFIX)).href)) as {default?: unknown}
      if (typeof mod.default !== 'function') throw new Error('has no default export (ctx) => Promise<Row[]>')
      rows.push(...(await (mod.default as (c: BenchContext) => Promise<Row[]>)(ctx)))
    } catch (error) {
      // One broken bench should not hide the others' figures.
      failures.push({bench: name, error: error instanceof Error ? error.message : String(error)})
      process.stderr.write(`bench: ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    }
    process.stderr.write(`bench: ${name} took ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
  }
  process.stdout.write(textTable(rows) + '\n')
  if (out) {
    const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ')
    writeFileSync(out, markdown(rows, {machine, load: load(), runs: ctx.runs, short: ctx.short, command, failures, note: args.note}))
    process.stderr.write(`bench: wrote ${out}\n`)
  }
  if (failures.length) process.exitCode = 1
}

await main()
