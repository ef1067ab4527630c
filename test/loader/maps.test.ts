/**
 * Every map kind the tools use, created by the loader from a compiled
 * fixture and filled by its tracepoint program on the real kernel: hash,
 * array, per-CPU hash and array, ring buffer, perf event array, stack trace.
 */
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {attachAll} from '../../src/loader/attach.js'
import type {Collection} from '../../src/loader/collection.js'
import {openEvents, type EventStream} from '../../src/loader/streams.js'
import {MapType} from '../../src/object/index.js'
import type {Client} from '../../src/remote/client.js'
import {connectTo, destroyLeftovers} from '../remote/bpfd-env.js'
import {getppid, loaderUnavailable, loadFixture, takeRecords} from './env.js'

after(destroyLeftovers)

const CALLS = 5
const u32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n)
  return b
}

describe('map kinds on the real kernel', {skip: loaderUnavailable()}, () => {
  let client: Client
  let c: Collection
  let ring: EventStream
  let perf: EventStream

  before(async () => {
    client = await connectTo('local')
    c = await loadFixture(client, 'maps.bpf.c', {targ_pid: process.pid})
    ;[ring, perf] = await Promise.all([openEvents(c, 'ring'), openEvents(c, 'perf')])
    await attachAll(c)
    getppid(CALLS)
  })
  after(async () => {
    await c?.release()
    await client?.close()
  })

  it('creates each map with the type the object declares', () => {
    const types = Object.fromEntries([...c.maps.values()].map((m) => [m.name, m.spec.type]))
    assert.equal(types.counts, MapType.HASH)
    assert.equal(types.slots, MapType.ARRAY)
    assert.equal(types.percpu_counts, MapType.PERCPU_HASH)
    assert.equal(types.percpu_last, MapType.PERCPU_ARRAY)
    assert.equal(types.ring, MapType.RINGBUF)
    assert.equal(types.perf, MapType.PERF_EVENT_ARRAY)
    assert.equal(types.stacks, MapType.STACK_TRACE)
    assert.equal(c.map('perf').spec.maxEntries, client.hello.ncpus, 'a perf array gets a slot per possible CPU')
  })

  it('hash: one count per call of this process, and nothing else (the .rodata pid filter holds)', async () => {
    const entries = await c.map('counts').dump()
    assert.deepEqual(entries.map((e) => [e.key.readUInt32LE(0), e.value.readBigUInt64LE(0)]), [[process.pid, BigInt(CALLS)]])
    assert.equal((await c.map('counts').lookup(u32(process.pid)))?.readBigUInt64LE(0), BigInt(CALLS))
  })

  it('array: the call count in slot 0', async () => {
    const v = await c.map('slots').lookup(u32(0))
    assert.equal(v?.readBigInt64LE(0), BigInt(CALLS))
    assert.equal((await c.map('slots').dump()).length, 4, 'an array dumps all its slots')
  })

  it('per-CPU hash and array: one slot per possible CPU, summing to the calls', async () => {
    const hash = c.map('percpu_counts')
    const [entry] = await hash.dump()
    assert.ok(entry)
    assert.equal(entry.value.length, hash.valueBytes)
    const slots = hash.slots(entry.value)
    assert.equal(slots.length, client.hello.ncpus)
    assert.equal(slots.reduce((a, s) => a + s.readBigUInt64LE(0), 0n), BigInt(CALLS))

    const array = c.map('percpu_last')
    const last = array.slots((await array.lookup(u32(0)))!)
    assert.equal(last.length, client.hello.ncpus)
    const written = last.filter((s) => s.readUInt32LE(0) === process.pid)
    assert.ok(written.length >= 1)
    assert.equal(Math.max(...written.map((s) => s.readUInt32LE(4))), CALLS, 'the last event is the last call')
  })

  it('ring buffer: a record per call, in order', async () => {
    const records = await takeRecords(ring, CALLS)
    assert.deepEqual(records.map((r) => [r.readUInt32LE(0), r.readUInt32LE(4)]), [1, 2, 3, 4, 5].map((seq) => [process.pid, seq]))
  })

  it('perf event array: a record per call, padded as the kernel stores it', async () => {
    const records = await takeRecords(perf, CALLS)
    assert.equal(records.length, CALLS)
    for (const r of records) assert.equal(r.length, 12, '8 bytes of data, padded to 8 with the u32 size')
    assert.deepEqual(records.map((r) => r.readUInt32LE(4)).sort(), [1, 2, 3, 4, 5])
  })

  it('stack trace: the id the program got names a kernel stack', async () => {
    const id = (await c.map('slots').lookup(u32(1)))!.readBigInt64LE(0)
    assert.ok(id >= 0n, `bpf_get_stackid returned ${id}`)
    const stack = await c.map('stacks').lookup(u32(Number(id)))
    assert.ok(stack, 'the stack id has an entry')
    const top = stack.readBigUInt64LE(0)
    assert.ok(top >= 0xffff800000000000n, `0x${top.toString(16)} is a kernel address`)
    const dumped = await c.map('stacks').dump()
    assert.ok(dumped.some((e) => e.key.readUInt32LE(0) === Number(id)))
  })
})
