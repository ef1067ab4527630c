import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {decodeFrame} from '../../src/remote/codec.js'
import {ProtocolError} from '../../src/remote/errors.js'
import {parseCpuList, parseHello} from '../../src/remote/hello.js'

const HELLO =
  'ok 1 proto=1 bpfd=0.1.0 release=6.18.44 machine=x86_64 page_size=4096 cpus_possible=0-3%2C6 cpus_online=0-1 ' +
  'ncpus=5 uid=0 btf=1 btf_size=6012345 tracefs=/sys/kernel/tracing boot_id=4b3e ringbuf=1 batch=1 kprobe=none uprobe=pmu link=1'

function fields(line: string) {
  const frame = decodeFrame(line)
  assert.equal(frame.kind, 'ok')
  return frame.kind === 'ok' ? frame.fields : assert.fail()
}

describe('hello', () => {
  it('expands CPU lists', () => {
    assert.deepEqual(parseCpuList('0-3,6'), [0, 1, 2, 3, 6])
    assert.deepEqual(parseCpuList('0'), [0])
    assert.deepEqual(parseCpuList(''), [])
    assert.deepEqual(parseCpuList('0-1\n'), [0, 1])
    assert.equal(typeof parseCpuList('3-1'), 'string')
    assert.equal(typeof parseCpuList('a'), 'string')
  })

  it('parses every field', () => {
    assert.deepEqual(parseHello(fields(HELLO)), {
      proto: 1,
      bpfdVersion: '0.1.0',
      release: '6.18.44',
      machine: 'x86_64',
      pageSize: 4096,
      cpusPossible: [0, 1, 2, 3, 6],
      cpusOnline: [0, 1],
      cpusPossibleText: '0-3,6',
      cpusOnlineText: '0-1',
      ncpus: 5,
      uid: 0,
      btf: true,
      btfSize: 6012345,
      tracefs: '/sys/kernel/tracing',
      bootId: '4b3e',
      features: {ringbuf: true, batch: true, kprobe: 'none', uprobe: 'pmu', link: true},
    })
  })

  it('treats an empty tracefs as unavailable', () => {
    assert.equal(parseHello(fields(HELLO.replace('tracefs=/sys/kernel/tracing', 'tracefs='))).tracefs, undefined)
  })

  it('names the field that is wrong', () => {
    assert.throws(() => parseHello(fields(HELLO.replace('kprobe=none', 'kprobe=maybe'))), (e: unknown) => e instanceof ProtocolError && e.field === 'kprobe')
    assert.throws(() => parseHello(fields(HELLO.replace(' ncpus=5', ''))), /field ncpus is missing/)
    assert.throws(() => parseHello(fields(HELLO.replace('cpus_online=0-1', 'cpus_online=x'))), /field cpus_online is not a CPU list/)
  })
})
