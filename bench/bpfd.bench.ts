/**
 * bpfd and the client over `local` and over `tcp` on loopback: round trips,
 * pipelined requests, 100k-entry hash map dumps (batched and the next-key
 * fallback) and bpfd's RSS after them. bpftool on the same maps is the
 * peer where it does the same job.
 */
import {execFile} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {Client} from '../src/remote/client.js'
import {parseRemote} from '../src/remote/transports/parse.js'
import {medianMs, startListener, stopChild, timeMs, vmRssKb} from './measure.js'
import type {BenchContext, Row} from './row.js'

const run = promisify(execFile)

const BENCH = 'bpfd'
const BPF_MAP_TYPE_HASH = 1
const DUMP_ENTRIES = 100_000
const PIPELINED = 10_000
const SEQUENTIAL = 5_000
/** Timings here take milliseconds: more runs than the context's cost little and steady the medians. */
const MIN_RUNS = 5
let runs = MIN_RUNS

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

/** A connected client over `kind`, with bpfd's map_dump batching on or off. */
async function open(kind: 'local' | 'tcp', noBatch: boolean): Promise<{client: Client; done: () => Promise<void>}> {
  const env = {...process.env}
  if (noBatch) env.BPFD_NO_BATCH = '1'
  else delete env.BPFD_NO_BATCH
  if (kind === 'tcp') {
    const {child, address} = await startListener(env)
    try {
      const client = await Client.connect(parseRemote(`tcp:${address}`))
      return {client, done: () => client.close().finally(() => stopChild(child))}
    } catch (error) {
      await stopChild(child)
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

async function fillHash(client: Client, name: string, entries: number): Promise<number> {
  const h = await client.mapCreate({type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 8, maxEntries: entries, name})
  const updates: Promise<void>[] = []
  for (let i = 0; i < entries; i++) updates.push(client.mapUpdate(h, u32(i), u64(i)))
  await Promise.all(updates)
  return h
}

async function dumpMs(client: Client, h: number, wantBatched: boolean): Promise<number> {
  return medianMs(runs, async () => {
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
  return medianMs(runs, () => run('bpftool', ['map', 'dump', 'id', String(id)], {maxBuffer: 256 * 1024 * 1024}))
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
    const ms = await medianMs(runs, () => run('bpftool', ['batch', 'file', file], {maxBuffer: 64 * 1024 * 1024}))
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
  const row = (metric: string, ours: number, unit: string, better: Row['better'], peer?: {name: string; value: number}, note?: string): void => {
    rows.push({bench: BENCH, metric: `${metric} (${kind})`, ours, unit, better, peers: peer ? [peer] : [], note})
  }
  // One text for both transports, so the notes list each once.
  const how = '(local): bpfd started by the local transport, over its stdio; (tcp): bpfd --listen on 127.0.0.1'

  const batched = await open(kind, false)
  try {
    const {client} = batched
    const small = await fillHash(client, `bb_s${tag}`, PIPELINED)
    const key = u32(1)
    for (let i = 0; i < 200; i++) await client.mapLookup(small, key)
    const seqMs = await timeMs(async () => {
      for (let i = 0; i < SEQUENTIAL; i++) await client.mapLookup(small, key)
    })
    row('sequential map_lookup round trips', (SEQUENTIAL / seqMs) * 1000, 'req/s', 'higher', undefined, `${SEQUENTIAL} map_lookup requests, each awaited before the next; ${how}.`)

    const pipeMs = await medianMs(runs, async () => {
      const updates: Promise<void>[] = []
      for (let i = 0; i < PIPELINED; i++) updates.push(client.mapUpdate(small, u32(i), u64(i + 1)))
      await Promise.all(updates)
    })
    peers.updatesPerSec ??= await bpftoolUpdatesPerSec(await mapId(`bb_s${tag}`))
    row(`pipelined map_update x${PIPELINED / 1000}k`, (PIPELINED / pipeMs) * 1000, 'req/s', 'higher', {name: 'bpftool batch', value: peers.updatesPerSec}, `${PIPELINED} map_update requests sent at once, against \`bpftool batch file\` of as many \`map update\` lines on the same map; ${how}.`)

    const name = `bb_d${tag}`
    const big = await fillHash(client, name, DUMP_ENTRIES)
    const ms = await dumpMs(client, big, true)
    peers.dumpMs ??= await bpftoolDumpMs(await mapId(name))
    row('map_dump 100k hash, batched', ms, 'ms', 'lower', {name: 'bpftool map dump', value: peers.dumpMs}, `One map_dump of a 100k-entry hash (u32 keys, u64 values) with BPF_MAP_LOOKUP_BATCH, against \`bpftool map dump id N\` of the same map (which also formats it as text); ${how}.`)
    row('bpfd VmRSS after 100k dump', vmRssKb(await bpfdPid(client)), 'KB', 'lower', undefined, `bpfd's VmRSS (/proc/PID/status) after the dumps above; ${how}.`)
  } finally {
    await batched.done()
  }

  const loop = await open(kind, true)
  try {
    const big = await fillHash(loop.client, `bb_f${tag}`, DUMP_ENTRIES)
    const ms = await dumpMs(loop.client, big, false)
    row('map_dump 100k hash, next-key loop', ms, 'ms', 'lower', peers.dumpMs === undefined ? undefined : {name: 'bpftool map dump', value: peers.dumpMs}, `The same dump with BPFD_NO_BATCH=1, as on kernels without batch lookups: bpfd walks the map with get_next_key and lookup; ${how}.`)
  } finally {
    await loop.done()
  }
  return rows
}

export default async function bench(ctx: BenchContext): Promise<Row[]> {
  if (process.getuid?.() !== 0) throw new Error('bpfd needs root')
  runs = Math.max(MIN_RUNS, ctx.runs)
  // Map names are global; the pid keeps two runs at once from confusing bpftool.
  const tag = String(process.pid % 100_000)
  const peers: Partial<Peers> = {}
  return [...(await measure('local', `l${tag}`, peers)), ...(await measure('tcp', `t${tag}`, peers))]
}
