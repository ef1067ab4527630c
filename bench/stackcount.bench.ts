/**
 * stackcount's map reads: a count map and a stack map of 10k distinct stacks
 * read with bpfd's batched map_dump (both dumps pipelined, as the tool reads
 * them) against one request per key (map_next then map_lookup, one after
 * another), over `local` and over tcp through a relay adding 20 ms each way.
 * Then stackcount's total against bpftrace's on a loop calling getppid.
 */
import {spawn} from 'node:child_process'
import {createConnection, createServer, type AddressInfo, type Server, type Socket} from 'node:net'
import {Client} from '../src/remote/client.js'
import {parseRemote} from '../src/remote/transports/parse.js'
import {BPFTOOLS} from '../test/tools/helpers/programs.js'
import {interrupt, median, spawnUntilLine, startListener, stopChild, type LineWait} from './measure.js'
import {bpfccTool, bpftrace, BPFTRACE_SCRIPTS, isRunnable, peerFigure, READY_LINE} from './peers.js'
import type {BenchContext, Row} from './row.js'

const BENCH = 'stackcount'
const BPF_MAP_TYPE_HASH = 1
const STACKS = 10_000
/** struct stack_key: tgid, kernel and user stack ids, comm[16]. */
const COUNT_KEY = 28
const COUNT_VALUE = 8
const STACK_KEY = 4
/** STACKCOUNT_MAX_DEPTH addresses: a stack map entry's value. */
const STACK_VALUE = 127 * 8
const DELAY_MS = 20
/** Stacks read one request per key over the delayed link; each is a count and a stack entry. */
const SAMPLE_STACKS = 100
const GETPPID_CALLS = 100_000

type Maps = {counts: number; stacks: number}

function countKey(i: number): Buffer {
  const k = Buffer.alloc(COUNT_KEY)
  k.writeUInt32LE(1000 + (i % 97), 0)
  k.writeInt32LE(i, 4)
  k.writeInt32LE(STACKS + i, 8)
  k.write(`proc${i % 97}`, 12, 'latin1')
  return k
}

function stackValue(i: number): Buffer {
  const v = Buffer.alloc(STACK_VALUE)
  // Realistic depths (a few to a few dozen frames), zero-terminated as the kernel leaves them.
  const depth = 4 + (i % 40)
  for (let f = 0; f < depth; f++) v.writeBigUInt64LE(0xffffffff81000000n + BigInt(i * 64 + f), f * 8)
  return v
}

/**
 * A TCP relay to `target` holding every chunk `delayMs` in each direction.
 * Timers of one duration fire in the order they were set, so order holds.
 */
async function delayRelay(target: string, delayMs: number): Promise<{address: string; close: () => Promise<void>}> {
  const colon = target.lastIndexOf(':')
  const host = target.slice(0, colon)
  const port = Number(target.slice(colon + 1))
  const sockets = new Set<Socket>()
  const pipe = (from: Socket, to: Socket): void => {
    from.on('data', (chunk: Buffer) => setTimeout(() => to.destroyed || to.write(chunk), delayMs))
    from.on('end', () => setTimeout(() => to.end(), delayMs))
    from.on('error', () => to.destroy())
    from.on('close', () => setTimeout(() => to.destroy(), delayMs))
  }
  const server: Server = createServer((down) => {
    const up = createConnection({host, port})
    sockets.add(down).add(up)
    down.setNoDelay(true)
    up.setNoDelay(true)
    pipe(down, up)
    pipe(up, down)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const {port: relayPort} = server.address() as AddressInfo
  return {
    address: `127.0.0.1:${relayPort}`,
    close: () =>
      new Promise((done) => {
        for (const s of sockets) s.destroy()
        server.close(() => done())
      }),
  }
}

/** The two maps, filled with pipelined updates (not timed). */
async function fill(client: Client, tag: string): Promise<Maps> {
  const counts = await client.mapCreate({type: BPF_MAP_TYPE_HASH, keySize: COUNT_KEY, valueSize: COUNT_VALUE, maxEntries: STACKS, name: `sc_c${tag}`})
  const stacks = await client.mapCreate({type: BPF_MAP_TYPE_HASH, keySize: STACK_KEY, valueSize: STACK_VALUE, maxEntries: 2 * STACKS, name: `sc_s${tag}`})
  const updates: Promise<void>[] = []
  for (let i = 0; i < STACKS; i++) {
    const n = Buffer.alloc(COUNT_VALUE)
    n.writeBigUInt64LE(BigInt(i + 1))
    updates.push(client.mapUpdate(counts, countKey(i), n))
    const id = Buffer.alloc(STACK_KEY)
    id.writeUInt32LE(i)
    updates.push(client.mapUpdate(stacks, id, stackValue(i)))
  }
  await Promise.all(updates)
  return {counts, stacks}
}

/** Time and round trips of one read. */
async function measure(client: Client, read: () => Promise<void>): Promise<{ms: number; roundTrips: number}> {
  const before = client.stats.roundTrips
  const t = process.hrtime.bigint()
  await read()
  return {ms: Number(process.hrtime.bigint() - t) / 1e6, roundTrips: client.stats.roundTrips - before}
}

/** Both maps in one round trip, as stackcount reads them. */
async function batched(client: Client, maps: Maps): Promise<void> {
  const [s, c] = await Promise.all([
    client.mapDump(maps.stacks, {keySize: STACK_KEY, valueSize: STACK_VALUE}),
    client.mapDump(maps.counts, {keySize: COUNT_KEY, valueSize: COUNT_VALUE}),
  ])
  if (s.keys.length !== STACKS || c.keys.length !== STACKS) throw new Error(`map_dump returned ${s.keys.length} stacks and ${c.keys.length} counts of ${STACKS}`)
}

/** Up to `limit` entries of one map, a map_next and a map_lookup per key, each awaited before the next. */
async function perKey(client: Client, h: number, limit: number): Promise<number> {
  let key: Buffer | undefined
  let n = 0
  while (n < limit) {
    key = await client.mapNextKey(h, key)
    if (!key) break
    if (!(await client.mapLookup(h, key))) throw new Error('a key vanished while walking the map')
    n++
  }
  return n
}

async function perKeyBoth(client: Client, maps: Maps, stacksEach: number): Promise<void> {
  const s = await perKey(client, maps.stacks, stacksEach)
  const c = await perKey(client, maps.counts, stacksEach)
  if (s !== stacksEach || c !== stacksEach) throw new Error(`walked ${s} stacks and ${c} counts of ${stacksEach}`)
}

async function mapReadRows(link: 'local' | 'delayed', tag: string, runs: number): Promise<Row[]> {
  let client: Client
  let done: () => Promise<void>
  if (link === 'local') {
    client = await Client.connect(parseRemote('local'))
    done = () => client.close()
  } else {
    const {child, address} = await startListener()
    const relay = await delayRelay(address, DELAY_MS)
    try {
      client = await Client.connect(parseRemote(`tcp:${relay.address}`))
    } catch (error) {
      await relay.close()
      await stopChild(child)
      throw error
    }
    done = () => client.close().finally(() => relay.close().finally(() => stopChild(child)))
  }
  const where = link === 'local' ? 'local' : `tcp +${DELAY_MS} ms each way`
  const rows: Row[] = []
  try {
    const maps = await fill(client, tag)
    const times: {ms: number; roundTrips: number}[] = []
    for (let i = 0; i < runs; i++) times.push(await measure(client, () => batched(client, maps)))
    const b = {ms: median(times.map((r) => r.ms)), roundTrips: Math.max(...times.map((r) => r.roundTrips))}

    // On the delayed link every key costs two 40 ms round trips, so a sample stands for the whole map.
    const sample = link === 'local' ? STACKS : SAMPLE_STACKS
    const p = await measure(client, () => perKeyBoth(client, maps, sample))
    const scale = STACKS / sample
    const name = sample === STACKS ? 'one request per key' : `one request per key, extrapolated from ${2 * sample} keys`
    const note =
      `A count map (28-byte keys) and a stack map (127 frames) of 10k entries each, filled as stackcount's are, read as stackcount reads them: both map_dump requests pipelined, one round trip. ` +
      `The peer is the same read one key at a time (map_next_key then map_lookup, each awaited), as a loader without batched dumps does; over the delayed link (a TCP relay holding each chunk ${DELAY_MS} ms each way) it is timed on ${2 * SAMPLE_STACKS} keys and scaled.`
    rows.push(
      {bench: BENCH, metric: `read 10k stacks + counts, ${where}`, ours: Math.round(b.ms), unit: 'ms', better: 'lower', peers: [{name, value: Math.round(p.ms * scale)}], note},
      {bench: BENCH, metric: `round trips for 10k stacks + counts, ${where}`, ours: b.roundTrips, unit: 'round trips', better: 'lower', peers: [{name, value: Math.round(p.roundTrips * scale)}], note},
    )
    if (link === 'delayed') {
      process.stderr.write(`bench: stackcount: batched read over the delayed link took ${b.ms.toFixed(0)} ms (goal: under 1000 ms)\n`)
    }
  } finally {
    await done()
  }
  return rows
}

/** Every tracer on one process's getppid loop; each total should be the loop's count. */
async function getppidRows(): Promise<Row[]> {
  // The loop waits for a line on stdin, so every tracer is attached before it starts.
  const script = `import os,sys\nsys.stdin.readline()\nfor _ in range(${GETPPID_CALLS}): os.getppid()\n`
  const load = spawn('python3', ['-c', script], {stdio: ['pipe', 'ignore', 'inherit']})
  const pid = load.pid!
  const loadDone = new Promise<void>((r) => load.once('exit', () => r()))
  const tp = 'syscalls:sys_enter_getppid'
  const peers = [bpftrace('stackcount', BPFTRACE_SCRIPTS.stackcount(tp, pid)), await bpfccTool('stackcount', ['-K', '-p', String(pid), `t:${tp}`])]
  const tracers: LineWait[] = []
  try {
    for (const argv of [[BPFTOOLS, 'stackcount', '-K', '-p', String(pid), `t:${tp}`], ...peers.filter(isRunnable).map((p) => p.argv)]) {
      tracers.push(await spawnUntilLine(argv, READY_LINE.stackcount, {env: {...process.env, PYTHONUNBUFFERED: '1'}}))
    }
    load.stdin!.end('go\n')
    await loadDone
    await Promise.all(tracers.map((t) => interrupt(t)))
  } finally {
    await Promise.all([...tracers.map((t) => interrupt(t)), stopChild(load, 'SIGKILL')])
  }
  // bcc's layout (ours, bcc's): each stack's count alone on a line, indented; bpftrace's: "]: N" after a stack.
  const total = (out: string, count: RegExp) => [...out.matchAll(count)].reduce((n, m) => n + Number(m[1]), 0)
  const [ours, ...others] = tracers
  const outputs = new Map(peers.filter(isRunnable).map((p, i) => [p.name, others[i]!.stdout()]))
  const k = `${GETPPID_CALLS / 1000}k`
  return [
    {
      bench: BENCH,
      metric: `getppid calls counted of ${k} (t:${tp}, -K)`,
      ours: total(ours!.stdout(), /^ {4}(\d+)$/gm),
      unit: 'events',
      peers: peers.map((p) => peerFigure(p, () => total(outputs.get(p.name)!, p.name.startsWith('bpftrace') ? /^\]: (\d+)$/gm : /^ {4}(\d+)$/gm))),
      note: `A Python loop calling getppid ${k} times, started once every tracer printed its ready line; the sum of the counts each prints at Ctrl-C (all should be ${GETPPID_CALLS}).`,
    },
  ]
}

export default async function bench(ctx: BenchContext): Promise<Row[]> {
  if (process.getuid?.() !== 0) throw new Error('bpfd needs root')
  const tag = String(process.pid % 100_000)
  return [...(await mapReadRows('local', `l${tag}`, ctx.runs)), ...(await mapReadRows('delayed', `d${tag}`, ctx.runs)), ...(await getppidRows())]
}
