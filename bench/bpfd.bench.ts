/**
 * bpfd and the client over `local` and over `tcp` on loopback: round trips,
 * pipelined requests, 100k-entry hash map dumps (batched and the next-key
 * fallback), bpfd's RSS and its stripped size. bpftool on the same maps is
 * the peer where it does the same job.
 */
import {execFile, spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {BPFD_ARCHES, bpfdPath, hostArch} from '../src/remote/bpfd-binary.js'
import {Client} from '../src/remote/client.js'
import {parseRemote} from '../src/remote/transports/parse.js'
import type {Row} from './row.js'

const run = promisify(execFile)

const BENCH = 'bpfd'
const BPF_MAP_TYPE_HASH = 1
const DUMP_ENTRIES = 100_000
const PIPELINED = 10_000
const SEQUENTIAL = 5_000
const REPEATS = 5

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n)
  return b
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(BigInt(n))
  return b
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - t) / 1e6
}

async function medianMs(fn: () => Promise<unknown>): Promise<number> {
  const runs: number[] = []
  for (let i = 0; i < REPEATS; i++) runs.push(await timeMs(fn))
  return median(runs)
}

function bpfd(): string {
  const arch = hostArch()
  if (!arch) throw new Error(`no bpfd build for ${process.arch}`)
  return bpfdPath(arch)
}

/** A `bpfd --listen 127.0.0.1:0` and the address it chose. */
async function startListener(env: NodeJS.ProcessEnv): Promise<{child: ChildProcess; remote: string}> {
  const child = spawn(bpfd(), ['--listen', '127.0.0.1:0'], {stdio: ['ignore', 'ignore', 'pipe'], env})
  let text = ''
  const address = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8')
      const m = /bpfd: listening on (\S+)/.exec(text)
      if (m) resolve(m[1])
    })
    child.once('exit', (code) => reject(new Error(`bpfd --listen exited (${code}): ${text.trim()}`)))
    child.once('error', reject)
  })
  child.stderr!.resume()
  return {child, remote: `tcp:${address}`}
}

function stopListener(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done()
    child.once('exit', () => done())
    child.kill('SIGTERM')
  })
}

/** A connected client over `kind`, with bpfd's map_dump batching on or off. */
async function open(kind: 'local' | 'tcp', noBatch: boolean): Promise<{client: Client; done: () => Promise<void>}> {
  const env = {...process.env}
  if (noBatch) env.BPFD_NO_BATCH = '1'
  else delete env.BPFD_NO_BATCH
  if (kind === 'tcp') {
    const {child, remote} = await startListener(env)
    try {
      const client = await Client.connect(parseRemote(remote))
      return {client, done: () => client.close().finally(() => stopListener(child))}
    } catch (error) {
      await stopListener(child)
      throw error
    }
  }
  // The local transport starts bpfd with this process's environment.
  const saved = process.env.BPFD_NO_BATCH
  process.env.BPFD_NO_BATCH = env.BPFD_NO_BATCH
  if (env.BPFD_NO_BATCH === undefined) delete process.env.BPFD_NO_BATCH
  try {
    const client = await Client.connect(parseRemote('local'))
    return {client, done: () => client.close()}
  } finally {
    if (saved === undefined) delete process.env.BPFD_NO_BATCH
    else process.env.BPFD_NO_BATCH = saved
  }
}

/** The serving bpfd's pid, as it sees itself (local and tcp alike). */
async function bpfdPid(client: Client): Promise<number> {
  const text = (await client.readWholeFile('/proc/self/status')).toString('utf8')
  const pid = Number(/^Pid:\s+(\d+)$/m.exec(text)?.[1])
  if (!pid) throw new Error('no Pid: in bpfd’s /proc/self/status')
  return pid
}

function vmRssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return Number(m[1])
}

async function fillHash(client: Client, name: string, entries: number): Promise<number> {
  const h = await client.mapCreate({type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 8, maxEntries: entries, name})
  const updates: Promise<void>[] = []
  for (let i = 0; i < entries; i++) updates.push(client.mapUpdate(h, u32(i), u64(i)))
  await Promise.all(updates)
  return h
}

async function dumpMs(client: Client, h: number, wantBatched: boolean): Promise<number> {
  return medianMs(async () => {
    const dump = await client.mapDump(h, {keySize: 4, valueSize: 8})
    if (dump.keys.length !== DUMP_ENTRIES) throw new Error(`map_dump returned ${dump.keys.length} of ${DUMP_ENTRIES} entries`)
    if (dump.batched !== wantBatched) throw new Error(`map_dump batched=${dump.batched}, expected ${wantBatched}`)
  })
}

/** The kernel's id of a map bpfd created, for bpftool. */
async function mapId(name: string): Promise<number> {
  const {stdout} = await run('bpftool', ['-j', 'map', 'show', 'name', name])
  const parsed = JSON.parse(stdout) as {id: number} | {id: number}[]
  const maps = Array.isArray(parsed) ? parsed : [parsed]
  if (maps.length !== 1) throw new Error(`bpftool finds ${maps.length} maps named ${name}`)
  return maps[0].id
}

/** `bpftool map dump id N` of the same 100k map. */
async function bpftoolDumpMs(id: number): Promise<number> {
  return medianMs(() => run('bpftool', ['map', 'dump', 'id', String(id)], {maxBuffer: 256 * 1024 * 1024}))
}

/** bpftool's batch mode: PIPELINED `map update` commands in one process. */
async function bpftoolUpdatesPerSec(id: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bpfd-bench-'))
  try {
    const file = join(dir, 'updates')
    const lines: string[] = []
    for (let i = 0; i < PIPELINED; i++) {
      lines.push(`map update id ${id} key ${[...u32(i)].join(' ')} value ${[...u64(i + 1)].join(' ')}`)
    }
    writeFileSync(file, lines.join('\n') + '\n')
    const ms = await medianMs(() => run('bpftool', ['batch', 'file', file], {maxBuffer: 64 * 1024 * 1024}))
    return (PIPELINED / ms) * 1000
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

interface Peers {
  dumpMs: number
  updatesPerSec: number
}

async function measure(kind: 'local' | 'tcp', tag: string, peers: Partial<Peers>): Promise<Row[]> {
  const rows: Row[] = []
  const row = (metric: string, ours: number, unit: string, peer: number | null = null, peerName = ''): void => {
    rows.push({bench: BENCH, metric: `${metric} (${kind})`, ours, peer, peerName, unit})
  }

  const batched = await open(kind, false)
  try {
    const {client} = batched
    const small = await fillHash(client, `bb_s${tag}`, PIPELINED)
    const key = u32(1)
    for (let i = 0; i < 200; i++) await client.mapLookup(small, key)
    const seqMs = await timeMs(async () => {
      for (let i = 0; i < SEQUENTIAL; i++) await client.mapLookup(small, key)
    })
    row('sequential map_lookup round trips', (SEQUENTIAL / seqMs) * 1000, 'req/s')

    const pipeMs = await medianMs(async () => {
      const updates: Promise<void>[] = []
      for (let i = 0; i < PIPELINED; i++) updates.push(client.mapUpdate(small, u32(i), u64(i + 1)))
      await Promise.all(updates)
    })
    peers.updatesPerSec ??= await bpftoolUpdatesPerSec(await mapId(`bb_s${tag}`))
    row(`pipelined map_update x${PIPELINED / 1000}k`, (PIPELINED / pipeMs) * 1000, 'req/s', peers.updatesPerSec, 'bpftool batch')

    const name = `bb_d${tag}`
    const big = await fillHash(client, name, DUMP_ENTRIES)
    const ms = await dumpMs(client, big, true)
    peers.dumpMs ??= await bpftoolDumpMs(await mapId(name))
    row('map_dump 100k hash, batched', ms, 'ms', peers.dumpMs, 'bpftool map dump')
    row('bpfd VmRSS after 100k dump', vmRssKb(await bpfdPid(client)), 'KB')
  } finally {
    await batched.done()
  }

  const loop = await open(kind, true)
  try {
    const big = await fillHash(loop.client, `bb_f${tag}`, DUMP_ENTRIES)
    const ms = await dumpMs(loop.client, big, false)
    row('map_dump 100k hash, next-key loop', ms, 'ms', peers.dumpMs ?? null, 'bpftool map dump')
  } finally {
    await loop.done()
  }
  return rows
}

export default async function bench(): Promise<Row[]> {
  if (process.getuid?.() !== 0) throw new Error('bpfd needs root')
  // Map names are global; the pid keeps two runs at once from confusing bpftool.
  const tag = String(process.pid % 100_000)
  const peers: Partial<Peers> = {}
  const rows = [...(await measure('local', `l${tag}`, peers)), ...(await measure('tcp', `t${tag}`, peers))]
  for (const arch of BPFD_ARCHES) {
    rows.push({bench: BENCH, metric: `bpfd stripped size ${arch}`, ours: statSync(bpfdPath(arch)).size, peer: null, peerName: '', unit: 'bytes'})
  }
  return rows
}
