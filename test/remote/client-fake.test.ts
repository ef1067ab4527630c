import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {Client} from '../../src/remote/client.js'
import {
  BpfdError,
  PermissionError,
  ProtocolError,
  ProtocolVersionError,
  TransportError,
} from '../../src/remote/errors.js'
import type {EventBatch} from '../../src/remote/event-queue.js'
import {FakeBpfd, type FakeRequest, HELLO_FIELDS} from './fake-bpfd.js'

const tick = () => new Promise((resolve) => setImmediate(resolve))

function record(...payloads: number[][]): string {
  const parts = payloads.flatMap((p) => {
    const length = Buffer.alloc(4)
    length.writeUInt32LE(p.length)
    return [length, Buffer.from(p)]
  })
  return Buffer.concat(parts).toString('base64')
}

async function connected(fake = new FakeBpfd()): Promise<{fake: FakeBpfd; client: Client}> {
  const client = await Client.connect(fake.transport())
  return {fake, client}
}

function isTransportError(error: unknown): boolean {
  assert.ok(error instanceof TransportError, `expected a TransportError, got ${String(error)}`)
  assert.equal(error.transport, 'fake:1')
  assert.match(error.message, /^connection to fake:1 closed: fake bpfd exited with code 1: fake: fatal$/)
  return true
}

describe('Client over an in-memory bpfd', () => {
  it('says hello and exposes the parsed hello', async () => {
    const {fake, client} = await connected()
    assert.equal(fake.requests[0].line, '1 hello proto=1')
    assert.equal(client.hello.machine, 'x86_64')
    assert.equal(client.hello.ncpus, 2)
    assert.deepEqual(client.stats.requests, 1)
    assert.deepEqual(client.stats.roundTrips, 1)
  })

  it('pipelines requests issued together into one write and one round trip, and matches replies by id', async () => {
    const {fake, client} = await connected()
    const held: FakeRequest[] = []
    fake.onRequest = (request) => {
      held.push(request)
      // Answer all at once, in reverse order, once the last arrived.
      if (held.length < 100) return undefined
      return held.reverse().map((r) => `ok ${r.id} value=${Buffer.from(r.args.get('key') ?? '', 'base64').toString('base64')}`)
    }
    const writesBefore = fake.writes.length
    const keys = Array.from({length: 100}, (_, i) => Buffer.from([i, 0, 0, 0]))
    const values = await Promise.all(keys.map((key) => client.mapLookup(3, key)))
    assert.deepEqual(values, keys)
    assert.equal(fake.writes.length - writesBefore, 1, 'one write for 100 requests')
    assert.equal(client.stats.requests, 101)
    assert.equal(client.stats.roundTrips, 2)
  })

  it('counts requests sent while others are outstanding as the same round trip', async () => {
    const {fake, client} = await connected()
    let release: (() => void) | undefined
    fake.onRequest = (request, peer) => {
      if (request.id === 2) {
        release = () => peer.send(`ok 2`, `ok 3`)
        return undefined
      }
      return undefined
    }
    const first = client.request('close', {h: 1})
    await tick()
    const second = client.request('close', {h: 2})
    await tick()
    release!()
    await Promise.all([first, second])
    assert.equal(client.stats.roundTrips, 2)
  })

  it('rejects with a BpfdError carrying errno, message and log; ENOENT lookups are undefined', async () => {
    const {fake, client} = await connected()
    fake.onRequest = (r) => {
      if (r.op === 'map_lookup') return `err ${r.id} ENOENT 2 msg=bpf(BPF_MAP_LOOKUP_ELEM):%20No%20such%20file%20or%20directory`
      if (r.op === 'prog_load') {
        return `err ${r.id} EACCES 13 msg=bpf(BPF_PROG_LOAD):%20Permission%20denied log=${Buffer.from('0: R0 !read_ok\n\0').toString('base64')}`
      }
      return `ok ${r.id}`
    }
    assert.equal(await client.mapLookup(3, Buffer.alloc(4)), undefined)
    await assert.rejects(
      client.progLoad({type: 1, insns: Buffer.alloc(8), license: 'GPL'}),
      (error: unknown) => {
        assert.ok(error instanceof BpfdError)
        assert.equal(error.op, 'prog_load')
        assert.equal(error.errname, 'EACCES')
        assert.equal(error.errno, 13)
        assert.equal(error.detail, 'bpf(BPF_PROG_LOAD): Permission denied')
        assert.equal(error.log, '0: R0 !read_ok\n')
        assert.equal(error.message, 'prog_load: bpf(BPF_PROG_LOAD): Permission denied (EACCES)')
        return true
      },
    )
  })

  it('gives an error about an unreadable line (id 0) to the oldest outstanding request', async () => {
    const {fake, client} = await connected()
    // bpfd answers in order: request 2, then the line it could not read (3).
    fake.onRequest = (r) => (r.op === 'read' ? ['ok 2', `err 0 E2BIG 7 msg=line%20too%20long`] : undefined)
    const update = client.request('map_update', {h: 1})
    const read = client.readFile('/x')
    await update
    await assert.rejects(read, (error: unknown) => error instanceof BpfdError && error.op === 'read' && error.errname === 'E2BIG')
  })

  it('buffers event frames until read, even those arriving with the reply, and ends the stream on close', async () => {
    const {fake, client} = await connected()
    fake.onRequest = (r) => {
      if (r.op === 'ringbuf_open') return [`ok ${r.id} h=8`, `ev 8 n=2 lost=0 data=${record([1, 2, 3, 4], [9, 9])}`]
      return `ok ${r.id}`
    }
    const handle = await client.ringbufOpen(7)
    assert.equal(handle, 8)
    fake.send(`ev 8 n=1 lost=5 data=${record([7])}`, `ev 9 n=0 lost=0 data=`)
    await tick()
    const batches: EventBatch[] = []
    const reading = (async () => {
      for await (const batch of client.events(8)) batches.push(batch)
    })()
    await tick()
    await client.closeHandle(8)
    await reading
    assert.deepEqual(batches, [
      {records: [Buffer.from([1, 2, 3, 4]), Buffer.from([9, 9])], lost: 0},
      {records: [Buffer.from([7])], lost: 5},
    ])
    assert.equal(client.stats.eventFrames, 3)
  })

  it('fails every outstanding request and event stream with a TransportError naming the transport when the peer dies', async () => {
    const {fake, client} = await connected()
    fake.onRequest = () => undefined
    const pending = [client.request('map_update', {h: 1}), client.mapLookup(1, Buffer.alloc(4)), client.readFile('/proc/self/status')]
    const events = client.events(8)[Symbol.asyncIterator]()
    const nextBatch = events.next()
    await tick()
    fake.die()
    for (const p of pending) await assert.rejects(p, isTransportError)
    await assert.rejects(nextBatch, isTransportError)
    // Later requests fail the same way, at once.
    await assert.rejects(client.request('hello', {proto: 1}), isTransportError)
    await client.close()
  })

  it('a peer that dies in the middle of a line is a dead connection (TransportError), not a malformed frame', async () => {
    const {fake, client} = await connected()
    fake.onRequest = () => undefined
    const pending = client.request('map_update', {h: 1})
    await tick()
    fake.toHost.write('ev 3 data=AAAA')
    fake.die()
    await assert.rejects(pending, isTransportError)
    await client.close()
  })

  it('treats a malformed frame as fatal: pending requests fail with a ProtocolError and the channel is destroyed', async () => {
    const {fake, client} = await connected()
    fake.onRequest = (r) => `ok ${r.id} h=1 h=2`
    await assert.rejects(client.request('map_create', {type: 1}), (error: unknown) => {
      assert.ok(error instanceof ProtocolError)
      assert.match(error.message, /^fake:1: reply 2: field h is repeated/)
      return true
    })
    assert.equal(fake.destroyed, true)
  })

  it('treats a reply to an unknown id as fatal', async () => {
    const {fake, client} = await connected()
    fake.onRequest = (r) => `ok ${r.id + 40}`
    await assert.rejects(client.request('map_update', {h: 1}), /ok reply for id 42, which has no outstanding request/)
  })

  it('closes with quit and waits for the end of the stream', async () => {
    const {fake, client} = await connected()
    await client.close()
    assert.equal(fake.requests.at(-1)?.op, 'quit')
    assert.equal(fake.destroyed, false)
    await assert.rejects(client.request('map_update', {h: 1}), /connection to fake:1 is closed/)
  })

  it('kills the channel when bpfd does not finish closing in time', async () => {
    const fake = new FakeBpfd()
    const client = await Client.connect(fake.transport(), {closeTimeoutMs: 100})
    fake.onRequest = () => undefined
    await client.close()
    assert.equal(fake.destroyed, true)
  })

  it('refuses another protocol version clearly', async () => {
    const fake = new FakeBpfd()
    fake.onRequest = (r) => `err ${r.id} EPROTO 71 msg=protocol%202%20required proto=2`
    await assert.rejects(Client.connect(fake.transport()), (error: unknown) => {
      assert.ok(error instanceof ProtocolVersionError)
      assert.match(error.message, /fake:1: bpfd speaks protocol .*, this bpftools speaks 1 \(protocol 2 required\)/)
      return true
    })
  })

  it('sends auth with hello in one write when the transport has a token, and reports a rejected token', async () => {
    const fake = new FakeBpfd()
    const client = await Client.connect(fake.transport('fake:1', 's3cr=t'))
    assert.deepEqual(
      fake.requests.map((r) => r.line),
      ['1 auth token=s3cr%3Dt', '2 hello proto=1'],
    )
    assert.equal(fake.writes.length, 1)
    await client.close()

    const refusing = new FakeBpfd()
    refusing.onRequest = (r) => {
      if (r.op === 'auth') {
        setImmediate(() => refusing.die())
        return `err ${r.id} EACCES 13 msg=bad%20token`
      }
      return undefined
    }
    await assert.rejects(Client.connect(refusing.transport('fake:1', 'wrong')), (error: unknown) => {
      assert.ok(error instanceof PermissionError)
      assert.equal(error.message, 'fake:1: bpfd rejected the token: bad token')
      return true
    })
  })

  it('gives up on a peer that never answers hello', async () => {
    const fake = new FakeBpfd()
    fake.onRequest = () => undefined
    await assert.rejects(Client.connect(fake.transport(), {helloTimeoutMs: 50}), /fake:1: no reply to hello within 0.05 s/)
  })

  it('splits map dumps by the given or derived sizes', async () => {
    const {fake, client} = await connected()
    const keys = Buffer.from([1, 0, 0, 0, 2, 0, 0, 0])
    const values = Buffer.from([10, 0, 20, 0])
    fake.onRequest = (r) => `ok ${r.id} n=2 keys=${keys.toString('base64')} values=${values.toString('base64')} batch=1`
    const dump = await client.mapDump(5, {max: 10, delete: true})
    assert.equal(fake.requests.at(-1)?.line, '2 map_dump h=5 max=10 delete=1')
    assert.deepEqual(dump, {
      keys: [Buffer.from([1, 0, 0, 0]), Buffer.from([2, 0, 0, 0])],
      values: [Buffer.from([10, 0]), Buffer.from([20, 0])],
      batched: true,
    })
    await assert.rejects(client.mapDump(5, {keySize: 8}), /field keys has 8 bytes, not 2 entries of 8 bytes/)
  })

  it('reads a file of known size with all chunks in one round trip, and one of unknown size chunk by chunk', async () => {
    const {fake, client} = await connected()
    const file = Buffer.from(Array.from({length: 1000}, (_, i) => i & 0xff))
    fake.onRequest = (r) => {
      const offset = Number(r.args.get('offset') ?? 0)
      const len = Number(r.args.get('len'))
      const data = file.subarray(offset, offset + len)
      return `ok ${r.id} eof=${offset + len >= file.length ? 1 : 0} data=${data.toString('base64')}`
    }
    let before = client.stats
    assert.deepEqual(await client.readWholeFile('/sys/kernel/btf/vmlinux', {size: 1000, chunkSize: 100}), file)
    assert.equal(client.stats.roundTrips - before.roundTrips, 1)
    assert.equal(client.stats.requests - before.requests, 11)

    before = client.stats
    assert.deepEqual(await client.readWholeFile('/proc/kallsyms', {chunkSize: 300}), file)
    assert.equal(client.stats.roundTrips - before.roundTrips, 4)

    // The file grew after its size was taken: the rest is read on.
    before = client.stats
    assert.deepEqual(await client.readWholeFile('/x', {size: 450, chunkSize: 100}), file)
  })

  it('parses directory listings and link targets', async () => {
    const {fake, client} = await connected()
    fake.onRequest = (r) =>
      r.op === 'list' ? `ok ${r.id} entries=d:events,f:trace_pipe,l:a%3Ab,o:x` : `ok ${r.id} target=/usr/bin/bash%20x`
    assert.deepEqual(await client.listDir('/sys/kernel/tracing'), [
      {type: 'dir', name: 'events'},
      {type: 'file', name: 'trace_pipe'},
      {type: 'link', name: 'a:b'},
      {type: 'other', name: 'x'},
    ])
    assert.equal(await client.readlink('/proc/1/exe'), '/usr/bin/bash x')
  })

  it('encodes typed requests as the protocol document spells them', async () => {
    const {fake, client} = await connected()
    fake.onRequest = (r) => {
      if (r.op.startsWith('attach_kprobe') || r.op.startsWith('attach_uprobe')) return `ok ${r.id} h=9 via=pmu`
      if (r.op === 'attach_tracepoint') return `ok ${r.id} h=9 id=321`
      return `ok ${r.id} h=9`
    }
    await Promise.all([
      client.mapCreate({type: 1, keySize: 4, valueSize: 8, maxEntries: 1024, name: 'counts', btf: {handle: 3, keyTypeId: 1, valueTypeId: 2}}),
      client.attachTracepoint(4, 'syscalls', 'sys_enter_openat'),
      client.attachKprobe(4, 'do_sys_openat2', {ret: true}),
      client.attachUprobe(4, '/lib/libc.so.6', 0x1234n, {pid: 10}),
      client.attachPerfEvent(4, {type: 1, config: 0, cpu: 1, freq: 99}),
      client.perfbufOpen(6, {pages: 8, cpus: [0, 1]}),
    ])
    assert.deepEqual(
      fake.requests.slice(1).map((r) => r.line),
      [
        '2 map_create type=1 key=4 value=8 max=1024 name=counts btf=3 btf_key=1 btf_value=2',
        '3 attach_tracepoint prog=4 category=syscalls name=sys_enter_openat',
        '4 attach_kprobe prog=4 func=do_sys_openat2 ret=1',
        '5 attach_uprobe prog=4 path=/lib/libc.so.6 offset=4660 pid=10',
        '6 attach_perf_event prog=4 type=1 config=0 cpu=1 freq=99',
        '7 perfbuf_open map=6 pages=8 cpus=0,1',
      ],
    )
  })
})

describe('Client limits', () => {
  it('refuses a request longer than the protocol’s line limit without sending it', async () => {
    const {fake, client} = await connected()
    const sent = fake.requests.length
    await assert.rejects(client.btfLoad(Buffer.alloc(49 * 1024 * 1024)), (error: unknown) => {
      assert.ok(error instanceof ProtocolError)
      assert.match(error.message, /^btf_load: request of \d+ bytes is longer than the protocol's 67108864 byte line limit$/)
      return true
    })
    // The id was not used: the next request is still line 2.
    await client.request('map_update', {h: 1})
    assert.equal(fake.requests.length, sent + 1)
    assert.equal(fake.requests.at(-1)?.id, 2)
  })

  it('uses line= of an err 0 frame to find the request', async () => {
    const {fake, client} = await connected()
    fake.onRequest = (r) => (r.id === 3 ? ['err 0 E2BIG 7 msg=line%20too%20long line=3', 'ok 2'] : undefined)
    const first = client.request('map_update', {h: 1})
    const second = client.request('map_update', {h: 2})
    await assert.rejects(second, /E2BIG/)
    await first
  })
})

describe('Client flow control', () => {
  it('stops reading while unread events pile up and nothing is awaited, and reads on as they are consumed', async () => {
    const fake = new FakeBpfd()
    const client = await Client.connect(fake.transport(), {eventHighWaterBytes: 1000})
    const data = record(Array.from({length: 200}, () => 1))
    for (let i = 0; i < 20; i++) fake.send(`ev 8 n=1 lost=0 data=${data}`)
    await tick()
    await tick()
    assert.equal(fake.toHost.readableFlowing, false, 'paused after the high-water mark')
    assert.ok(client.stats.eventFrames < 20)

    // A request needs its reply: reading resumes.
    await client.request('map_update', {h: 1})
    let batches = 0
    for await (const _ of client.events(8)) {
      if (++batches === 20) break
    }
    assert.equal(client.stats.eventFrames, 20)
    assert.notEqual(fake.toHost.readableFlowing, false)
  })
})
