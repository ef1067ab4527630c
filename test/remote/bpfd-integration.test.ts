/**
 * The client against the real bpfd, over each transport that reaches this
 * machine: local (bpfd as a child), shell: (through /bin/sh), tcp: and unix:
 * (bpfd --listen).
 */
import assert from 'node:assert/strict'
import type {ChildProcess} from 'node:child_process'
import {mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync} from 'node:fs'
import {release, tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import type {Client} from '../../src/remote/client.js'
import {BpfdError, PermissionError} from '../../src/remote/errors.js'
import {BPFD, bpfdUnavailable, connectTo, destroyLeftovers, freePort, MACHINE, startListener, stop, waitForListener} from './bpfd-env.js'

after(destroyLeftovers)

const skip = bpfdUnavailable()
const BPF_MAP_TYPE_HASH = 1
const ENTRIES = 100_000

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n)
  return b
}

function valueFor(n: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(BigInt(n) * 0x1_0000_0001n + 7n)
  return b
}

/** The Pid: and Name: lines of bpfd's own /proc/self/status. */
async function bpfdStatus(client: Client): Promise<{pid: number; name: string}> {
  const text = (await client.readWholeFile('/proc/self/status')).toString('utf8')
  const pid = Number(/^Pid:\s+(\d+)$/m.exec(text)?.[1])
  const name = /^Name:\s+(\S+)$/m.exec(text)?.[1] ?? ''
  return {pid, name}
}

/** The same checks over every transport. */
function behavesLikeBpfd(remote: () => string, expectPid?: () => number | undefined): void {
  let client: Client

  before(async () => {
    client = await connectTo(remote())
  })

  after(async () => {
    await client?.close()
  })

  it('says hello with this machine’s facts', () => {
    const hello = client.hello
    assert.equal(hello.proto, 1)
    assert.equal(hello.machine, MACHINE)
    assert.equal(hello.release, release())
    assert.equal(hello.uid, 0)
    assert.ok(hello.ncpus >= 1 && hello.ncpus === hello.cpusPossible.length, JSON.stringify(hello))
    assert.ok(hello.cpusOnline.length >= 1)
    assert.equal(hello.pageSize, 4096)
    assert.equal(hello.btf, true)
    assert.equal(hello.btfSize, readFileSync('/sys/kernel/btf/vmlinux').length)
  })

  it(`fills a hash map with ${ENTRIES} pipelined updates and dumps every entry back`, async () => {
    const h = await client.mapCreate({type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 8, maxEntries: ENTRIES, name: 'fill_test'})
    const before = client.stats
    const updates: Promise<void>[] = []
    for (let i = 0; i < ENTRIES; i++) updates.push(client.mapUpdate(h, u32(i), valueFor(i)))
    await Promise.all(updates)
    assert.ok(client.stats.roundTrips - before.roundTrips <= 2, `round trips: ${client.stats.roundTrips - before.roundTrips}`)

    const dump = await client.mapDump(h, {keySize: 4, valueSize: 8})
    assert.equal(dump.keys.length, ENTRIES)
    assert.equal(dump.values.length, ENTRIES)
    const seen = new Set<number>()
    for (let i = 0; i < ENTRIES; i++) {
      const key = dump.keys[i].readUInt32LE()
      assert.ok(key < ENTRIES && !seen.has(key), `key ${key}`)
      seen.add(key)
      if (!dump.values[i].equals(valueFor(key))) assert.fail(`value of key ${key}: ${dump.values[i].toString('hex')}`)
    }
    assert.equal(seen.size, ENTRIES)

    assert.deepEqual(await client.mapLookup(h, u32(4242)), valueFor(4242))
    assert.equal(await client.mapDelete(h, u32(4242)), true)
    assert.equal(await client.mapLookup(h, u32(4242)), undefined)
    assert.equal(await client.mapDelete(h, u32(4242)), false)
    const first = await client.mapNextKey(h)
    assert.ok(first && first.length === 4)

    // Batch operations take whole hash buckets, so "up to max" may be fewer.
    const drained = await client.mapDump(h, {max: 10, delete: true})
    assert.ok(drained.keys.length >= 1 && drained.keys.length <= 10, `drained ${drained.keys.length}`)
    assert.equal((await client.mapDump(h)).keys.length, ENTRIES - 1 - drained.keys.length)
    await client.closeHandle(h)
  })

  it('reads bpfd’s own /proc/self/status', async () => {
    const {pid, name} = await bpfdStatus(client)
    assert.equal(name, `bpfd-${MACHINE}`)
    assert.ok(pid > 1)
    const expected = expectPid?.()
    if (expected !== undefined) assert.equal(pid, expected)
    // Same machine: the pid is a live bpfd.
    assert.equal(readlinkSync(`/proc/${pid}/exe`), BPFD)
  })

  it('reads a file larger than one chunk, pipelined by its known size', async () => {
    const btf = await client.readWholeFile('/sys/kernel/btf/vmlinux', {size: client.hello.btfSize, chunkSize: 1 << 20})
    assert.ok(btf.equals(readFileSync('/sys/kernel/btf/vmlinux')))
  })

  it('lists directories and reads links', async () => {
    const entries = await client.listDir('/proc/self')
    assert.ok(entries.some((e) => e.type === 'file' && e.name === 'status'))
    assert.ok(entries.some((e) => e.type === 'dir' && e.name === 'fd'))
    assert.ok(entries.some((e) => e.type === 'link' && e.name === 'exe'))
    assert.equal(await client.readlink('/proc/self/exe'), BPFD)
  })

  it('reports kernel and request errors by errno name', async () => {
    const h = await client.mapCreate({type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 8, maxEntries: 16})
    await assert.rejects(client.request('map_lookup', {h, key: u32(1)}), (error: unknown) => {
      assert.ok(error instanceof BpfdError)
      assert.equal(error.errname, 'ENOENT')
      assert.equal(error.errno, 2)
      assert.equal(error.op, 'map_lookup')
      return true
    })
    await assert.rejects(
      client.request('map_create', {type: 9999, key: 4, value: 8, max: 16}),
      (error: unknown) => error instanceof BpfdError && error.errname === 'EINVAL' && error.errno === 22,
    )
    await assert.rejects(
      client.request('map_lookup', {h: 999, key: u32(1)}),
      (error: unknown) => error instanceof BpfdError && error.errname === 'EBADF',
    )
    await assert.rejects(
      client.request('map_create', {type: 1, key: 4, value: 8, max: 16, bogus: 1}),
      (error: unknown) => error instanceof BpfdError && error.errname === 'EINVAL' && /bogus/.test(error.detail),
    )
    await assert.rejects(
      client.request('no_such_op'),
      (error: unknown) => error instanceof BpfdError && error.errname === 'ENOSYS',
    )
    await assert.rejects(
      client.readFile('/proc/../etc/passwd'),
      (error: unknown) => error instanceof BpfdError && error.errname === 'EINVAL',
    )
    await client.closeHandle(h)
  })
}

describe('bpfd over local', {skip}, () => {
  behavesLikeBpfd(() => 'local')
})

describe('bpfd over shell:', {skip}, () => {
  behavesLikeBpfd(() => `shell:exec ${BPFD}`)
})

describe('bpfd over tcp:', {skip}, () => {
  let server: ChildProcess
  let port = 0
  before(async () => {
    port = await freePort()
    server = startListener(['--listen', `127.0.0.1:${port}`])
    await waitForListener({host: '127.0.0.1', port})
  })
  after(async () => {
    await stop(server)
  })
  behavesLikeBpfd(
    () => `tcp:127.0.0.1:${port}`,
    () => server.pid,
  )
})

describe('bpfd over unix: with a token', {skip}, () => {
  let server: ChildProcess
  const dir = mkdtempSync(join(tmpdir(), 'bpftools-unix-'))
  const socket = join(dir, 'bpfd.sock')
  const token = join(dir, 'token')
  const wrong = join(dir, 'wrong')
  writeFileSync(token, 'correct-horse\n')
  writeFileSync(wrong, 'battery-staple\n')

  before(async () => {
    server = startListener(['--listen', `unix:${socket}`, '--token-file', token])
    await waitForListener({path: socket})
  })
  after(async () => {
    await stop(server)
    rmSync(dir, {recursive: true, force: true})
  })

  it('authenticates with the token and says hello', async () => {
    const client = await connectTo(`unix:${socket}?token=${token}`)
    assert.equal(client.hello.machine, MACHINE)
    assert.equal(client.stats.roundTrips, 1)
    await client.close()
  })

  it('reports a wrong token as a permission error', async () => {
    await assert.rejects(connectTo(`unix:${socket}?token=${wrong}`), (error: unknown) => {
      assert.ok(error instanceof PermissionError, String(error))
      assert.match(error.message, /^unix:.*: bpfd rejected the token/)
      return true
    })
  })
})
