/**
 * Programs, attachments and event streams against the real bpfd (local):
 * what the loader and the tools build on.
 */
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {after, before, describe, it} from 'node:test'
import type {Client} from '../../src/remote/client.js'
import {BpfdError} from '../../src/remote/errors.js'
import type {EventBatch} from '../../src/remote/event-queue.js'
import {bpfdUnavailable, connectTo, destroyLeftovers} from './bpfd-env.js'

after(destroyLeftovers)

const BPF_PROG_TYPE_TRACEPOINT = 5
const BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4
const BPF_MAP_TYPE_RINGBUF = 27

/** `r0 = 0; exit` */
const RETURN_ZERO = Buffer.from([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])
/** `exit` with r0 never set: the verifier refuses it. */
const UNINITIALISED_RETURN = Buffer.from([0x95, 0, 0, 0, 0, 0, 0, 0])

describe('programs and streams on the real bpfd', {skip: bpfdUnavailable()}, () => {
  let client: Client
  before(async () => {
    client = await connectTo('local')
  })
  after(async () => {
    await client?.close()
  })

  it('loads a program and attaches it to a tracepoint', async () => {
    const prog = await client.progLoad({type: BPF_PROG_TYPE_TRACEPOINT, insns: RETURN_ZERO, license: 'GPL', name: 'ret0'})
    assert.ok(prog.handle > 0)
    assert.equal(prog.log, undefined)
    const tracefs = client.hello.tracefs
    assert.ok(tracefs, 'tracefs is available')
    const attached = await client.attachTracepoint(prog.handle, 'syscalls', 'sys_enter_getpid')
    assert.equal(attached.id, Number(readFileSync(`${tracefs}/events/syscalls/sys_enter_getpid/id`, 'utf8')))
    await client.closeHandle(attached.handle)
    await client.closeHandle(prog.handle)
  })

  it('returns the verifier log with a successful load when asked, and with every rejection', async () => {
    const logged = await client.progLoad({type: BPF_PROG_TYPE_TRACEPOINT, insns: RETURN_ZERO, license: 'GPL', logLevel: 2})
    assert.match(logged.log ?? '', /processed 2 insns/)
    await client.closeHandle(logged.handle)

    await assert.rejects(
      client.progLoad({type: BPF_PROG_TYPE_TRACEPOINT, insns: UNINITIALISED_RETURN, license: 'GPL'}),
      (error: unknown) => {
        assert.ok(error instanceof BpfdError, String(error))
        assert.equal(error.op, 'prog_load')
        assert.equal(error.errname, 'EACCES')
        assert.match(error.log ?? '', /R0 !read_ok/)
        return true
      },
    )
  })

  it('streams trace_pipe lines as event records until the stream is closed', async () => {
    const tracefs = client.hello.tracefs!
    const stream = await client.tracePipeOpen()
    const marker = `bpftools-test-${process.pid}-${Date.now()}`
    const seen: EventBatch[] = []
    let found = false
    const reading = (async () => {
      for await (const batch of client.events(stream)) {
        seen.push(batch)
        if (batch.records.some((r) => r.toString().includes(marker))) {
          found = true
          await client.closeHandle(stream)
        }
      }
    })()
    writeFileSync(`${tracefs}/trace_marker`, marker)
    const timeout = setTimeout(() => void client.closeHandle(stream).catch(() => {}), 3000)
    await reading
    clearTimeout(timeout)
    assert.ok(found, `marker seen in ${seen.length} batches`)
    const line = seen.flatMap((b) => b.records).find((r) => r.toString().includes(marker))!.toString()
    assert.doesNotMatch(line, /\n$/)
  })

  it('opens ring buffer and perf buffer streams, and ends their iterators when closed', async () => {
    const ring = await client.mapCreate({type: BPF_MAP_TYPE_RINGBUF, keySize: 0, valueSize: 0, maxEntries: 64 * 1024})
    const perfArray = await client.mapCreate({
      type: BPF_MAP_TYPE_PERF_EVENT_ARRAY,
      keySize: 4,
      valueSize: 4,
      maxEntries: client.hello.ncpus,
    })
    const streams = await Promise.all([client.ringbufOpen(ring), client.perfbufOpen(perfArray, {pages: 2})])
    const drained = streams.map(async (h) => {
      let batches = 0
      for await (const _ of client.events(h)) batches++
      return batches
    })
    await Promise.all(streams.map((h) => client.closeHandle(h)))
    assert.deepEqual(await Promise.all(drained), [0, 0])
    await Promise.all([client.closeHandle(ring), client.closeHandle(perfArray)])
  })
})
