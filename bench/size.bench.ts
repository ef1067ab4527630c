/**
 * What a target has to hold to run a tool: bpfd alone (static, every tool)
 * against each peer's binary with the shared libraries it loads.
 */
import {existsSync, realpathSync, statSync} from 'node:fs'
import {BPFD_ARCHES, bpfdPath, hostArch} from '../src/remote/bpfd-binary.js'
import {commandOutput} from './measure.js'
import {BPFCC, BPFTRACE, bpfccUnavailable, LIBBPF_TOOLS} from './peers.js'
import type {PeerFigure, Row} from './row.js'

const BENCH = 'size'

/** A file and every shared library it loads (as ldd resolves them here), each counted once. */
async function withLibraries(files: string[]): Promise<number> {
  const all = new Set<string>()
  for (const f of files) {
    all.add(realpathSync(f))
    const ldd = await commandOutput(['ldd', f])
    if (ldd === undefined) throw new Error(`ldd ${f} failed`)
    for (const m of ldd.matchAll(/(?:=> )?(\/\S+) \(0x/g)) all.add(realpathSync(m[1]!))
  }
  return [...all].reduce((n, f) => n + statSync(f).size, 0)
}

/** A directory's files, in bytes. */
async function treeBytes(dir: string): Promise<number> {
  const du = await commandOutput(['du', '-sb', dir])
  if (du === undefined) throw new Error(`du ${dir} failed`)
  return Number(du.split('\t')[0])
}

async function footprint(name: string, need: string[], measure: () => Promise<number>): Promise<PeerFigure> {
  const missing = need.find((f) => !existsSync(f))
  return missing ? {name, notRun: 'not installed', detail: `${name}: ${missing} is missing.`} : {name, value: await measure()}
}

export default async function bench(): Promise<Row[]> {
  const rows: Row[] = BPFD_ARCHES.map((arch) => ({
    bench: BENCH,
    metric: `bpfd ${arch}, stripped static binary`,
    ours: statSync(bpfdPath(arch)).size,
    unit: 'bytes',
    better: 'lower' as const,
    peers: [],
    note: 'daemon/out/bpfd-ARCH as `npm run build` makes it: static (musl), stripped; the only file a target needs for every tool.',
  }))
  const arch = hostArch()
  if (arch !== 'x86_64') return rows
  const bcc = '/usr/lib/x86_64-linux-gnu/libbcc.so.0'
  const bccPy = '/usr/lib/python3/dist-packages/bcc'
  const why = await bpfccUnavailable()
  rows.push({
    bench: BENCH,
    metric: 'on the target to run opensnoop, x86_64',
    ours: statSync(bpfdPath(arch)).size,
    unit: 'bytes',
    better: 'lower',
    peers: [
      await footprint(`${LIBBPF_TOOLS} opensnoop + shared libs`, ['/usr/sbin/opensnoop'], () => withLibraries(['/usr/sbin/opensnoop'])),
      await footprint(`${BPFTRACE} + shared libs`, ['/usr/bin/bpftrace'], () => withLibraries(['/usr/bin/bpftrace'])),
      await footprint(`${BPFCC} opensnoop + libbcc + libs + bcc module${why ? ' (does not run here)' : ''}`, ['/usr/sbin/opensnoop-bpfcc', bcc, bccPy], async () => {
        return (await withLibraries([bcc])) + (await treeBytes(bccPy)) + statSync('/usr/sbin/opensnoop-bpfcc').size
      }),
    ],
    note:
      'Bytes of every file the tool needs on the target, each shared library counted once as ldd resolves it here (libc included: bpfd carries its own). ' +
      'bpfd serves every tool; each libbpf-tools tool is its own binary; bpftrace and bcc compile on the target (LLVM/clang libraries), and bcc also needs Python 3 (not counted) and kernel headers.',
  })
  return rows
}
