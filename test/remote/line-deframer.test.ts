import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ProtocolError} from '../../src/remote/errors.js'
import {LineDeframer} from '../../src/remote/line-deframer.js'

describe('LineDeframer', () => {
  it('splits lines, joins pieces across chunks, drops \\r and empty lines', () => {
    const d = new LineDeframer()
    assert.deepEqual(d.push(Buffer.from('ok 1\nok')), ['ok 1'])
    assert.deepEqual(d.push(Buffer.from(' 2 h=')), [])
    assert.equal(d.pending, 7)
    assert.deepEqual(d.push(Buffer.from('5\r\n\n\r\nok 3\r')), ['ok 2 h=5'])
    assert.deepEqual(d.push(Buffer.from('\n')), ['ok 3'])
    d.end()
  })

  it('delivers the same lines however the stream is cut', () => {
    const text = 'ok 1 a=b\r\nev 5 n=0 lost=0 data=\nerr 2 ENOENT 2 msg=x\n\nok 3\n'
    const expected = ['ok 1 a=b', 'ev 5 n=0 lost=0 data=', 'err 2 ENOENT 2 msg=x', 'ok 3']
    for (let size = 1; size <= text.length; size++) {
      const d = new LineDeframer()
      const lines: string[] = []
      for (let i = 0; i < text.length; i += size) lines.push(...d.push(Buffer.from(text.slice(i, i + size))))
      assert.deepEqual(lines, expected, `chunk size ${size}`)
    }
  })

  it('does not keep references to the caller’s chunk', () => {
    const d = new LineDeframer()
    const chunk = Buffer.from('ok 1')
    d.push(chunk)
    chunk.fill(0x41)
    assert.deepEqual(d.push(Buffer.from('\n')), ['ok 1'])
  })

  it('fails on a line longer than the limit, within one chunk or across chunks', () => {
    assert.throws(() => new LineDeframer(8).push(Buffer.from('123456789\n')), /line longer than 8 bytes/)
    const d = new LineDeframer(8)
    d.push(Buffer.from('12345'))
    assert.throws(() => d.push(Buffer.from('6789')), ProtocolError)
    assert.deepEqual(new LineDeframer(8).push(Buffer.from('12345678\n')), ['12345678'])
  })

  it('fails when the stream ends inside a line', () => {
    const d = new LineDeframer()
    d.push(Buffer.from('ok 1\nok 2'))
    assert.throws(() => d.end(), /stream ended inside a line \(4 bytes/)
  })
})
