import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {decodeFrame, decodeStrBytes, encodeRequest, encodeStr, isBase64, splitRecords} from '../../src/remote/codec.js'
import {ProtocolError} from '../../src/remote/errors.js'

function ok(line: string) {
  const frame = decodeFrame(line)
  assert.equal(frame.kind, 'ok')
  return frame
}

describe('encodeRequest', () => {
  it('encodes every value kind', () => {
    const line = encodeRequest(7, 'map_update', {
      h: 5,
      big: 0xffff_ffff_ffff_ffffn,
      neg: -1,
      key: Buffer.from([1, 0, 0, 0]),
      empty: Buffer.alloc(0),
      name: 'a b%c=d,e',
      ret: true,
      off: false,
      cpus: [0, 2, 3],
      names: ['x,y', 'z'],
      skipped: undefined,
    })
    assert.equal(
      line,
      '7 map_update h=5 big=18446744073709551615 neg=-1 key=AQAAAA== empty= name=a%20b%25c%3Dd%2Ce ret=1 off=0 cpus=0,2,3 names=x%2Cy,z\n',
    )
  })

  it('encodes a Uint8Array view by its own bytes only', () => {
    const backing = Buffer.from([9, 9, 1, 2, 9])
    assert.equal(encodeRequest(1, 'x', {v: backing.subarray(2, 4)}), '1 x v=AQI=\n')
    assert.equal(encodeRequest(1, 'x', {v: new Uint8Array(backing.buffer, backing.byteOffset + 2, 2)}), '1 x v=AQI=\n')
  })

  it('refuses what the protocol cannot carry', () => {
    assert.throws(() => encodeRequest(0, 'hello'), RangeError)
    assert.throws(() => encodeRequest(2 ** 53, 'hello'), RangeError)
    assert.throws(() => encodeRequest(1, 'Bad Op'), TypeError)
    assert.throws(() => encodeRequest(1, 'x', {'a b': 1}), TypeError)
    assert.throws(() => encodeRequest(1, 'x', {n: 1.5}), /n: 1.5 is not a safe integer/)
    assert.throws(() => encodeRequest(1, 'x', {n: 2 ** 60}), /not a safe integer/)
  })
})

describe('str values', () => {
  it('round-trips every byte', () => {
    const all = Buffer.from(Array.from({length: 256}, (_, i) => i))
    const encoded = encodeStr(all)
    assert.match(encoded, /^[!-~]+$/)
    assert.doesNotMatch(encoded.replace(/%[0-9A-F]{2}/g, ''), /[%=,]/)
    assert.deepEqual(decodeStrBytes(encoded), all)
  })

  it('leaves ordinary paths alone and encodes UTF-8', () => {
    assert.equal(encodeStr('/sys/kernel/tracing/events'), '/sys/kernel/tracing/events')
    assert.equal(encodeStr('é'), '%C3%A9')
    assert.equal(encodeStr(''), '')
  })

  it('rejects bad escapes and raw syntax bytes', () => {
    for (const bad of ['%', '%4', '%zz', 'a,b', 'a=b', 'x\x7f']) {
      assert.equal(typeof decodeStrBytes(bad), 'string', bad)
    }
    assert.deepEqual(decodeStrBytes('%41%6a'), Buffer.from('Aj'))
  })
})

describe('decodeFrame', () => {
  it('decodes an ok reply with typed fields', () => {
    const frame = ok('ok 12 h=5 n=-3 x=0x1f big=18446744073709551615 name=a%20b flag=1 data=AQID empty= l=1,2,0x3 s=a%2Cb,c')
    assert.equal(frame.id, 12)
    const f = frame.fields
    assert.equal(f.int('h'), 5)
    assert.equal(f.int('n'), -3)
    assert.equal(f.int('x'), 31)
    assert.equal(f.bigint('big'), 18446744073709551615n)
    assert.equal(f.str('name'), 'a b')
    assert.equal(f.bool('flag'), true)
    assert.deepEqual(f.b64('data'), Buffer.from([1, 2, 3]))
    assert.deepEqual(f.b64('empty'), Buffer.alloc(0))
    assert.deepEqual(f.intList('l'), [1, 2, 3])
    assert.deepEqual(f.strList('s'), ['a,b', 'c'])
    assert.deepEqual(f.strList('empty'), [])
    assert.equal(f.optInt('missing'), undefined)
  })

  it('tolerates runs of spaces', () => {
    assert.equal(ok('ok  3   h=1 ').fields.int('h'), 1)
  })

  it('decodes an error reply', () => {
    const frame = decodeFrame('err 6 ENOENT 2 msg=bpf(BPF_MAP_LOOKUP_ELEM):%20No%20such%20file%20or%20directory log=aGk= line=4')
    assert.equal(frame.kind, 'err')
    if (frame.kind !== 'err') return
    assert.equal(frame.id, 6)
    assert.equal(frame.errname, 'ENOENT')
    assert.equal(frame.errno, 2)
    assert.equal(frame.fields.str('msg'), 'bpf(BPF_MAP_LOOKUP_ELEM): No such file or directory')
    assert.equal(frame.fields.b64('log').toString(), 'hi')
    assert.equal(frame.fields.int('line'), 4)
  })

  it('decodes an event frame into records', () => {
    const frame = decodeFrame('ev 8 n=2 lost=3 data=BAAAAAECAwQCAAAACQk=')
    assert.equal(frame.kind, 'ev')
    if (frame.kind !== 'ev') return
    assert.equal(frame.stream, 8)
    assert.equal(frame.lost, 3)
    assert.deepEqual(frame.records, [Buffer.from([1, 2, 3, 4]), Buffer.from([9, 9])])
    const empty = decodeFrame('ev 8 n=0 lost=0 data=')
    assert.deepEqual(empty.kind === 'ev' && empty.records, [])
  })

  const malformed: [string, RegExp][] = [
    ['', /unknown frame/],
    ['hello 1', /unknown frame 'hello'/],
    ['ok', /reply id '' is not a decimal integer/],
    ['ok x h=1', /reply id 'x'/],
    ['ok -1', /reply id '-1'/],
    ['ok 99999999999999999999', /out of range/],
    ['ok 1 h', /token 'h' is not key=value/],
    ['ok 1 =5', /token '=5' is not key=value/],
    ['ok 1 H=5', /not key=value/],
    ['ok 1 h=1 h=2', /field h is repeated/],
    ['err 1', /'' is not an errno name/],
    ['err 1 enoent 2', /not an errno name/],
    ['err 1 ENOENT two msg=x', /errno 'two' is not a number/],
    ['ev 8 n=1 lost=0', /field data is missing/],
    ['ev 8 n=1 lost=0 data=AQID', /field data does not hold n=1 records/],
    ['ev 8 n=0 lost=0 data=AQID', /3 bytes follow the 0 records/],
    ['ev 8 n=-1 lost=0 data=', /field n is negative/],
    ['ev 8 n=x lost=0 data=', /field n is not an int/],
    ['ev x n=0 lost=0 data=', /event stream 'x'/],
  ]
  for (const [line, message] of malformed) {
    it(`rejects ${JSON.stringify(line)}`, () => {
      assert.throws(() => decodeFrame(line), (error: unknown) => {
        assert.ok(error instanceof ProtocolError, String(error))
        assert.match(error.message, message)
        return true
      })
    })
  }

  const badFields: [string, (f: ReturnType<typeof ok>['fields']) => unknown, RegExp][] = [
    ['ok 1 h=1x', (f) => f.int('h'), /reply 1: field h is not an int: '1x'/],
    ['ok 1 h=', (f) => f.int('h'), /field h is not an int/],
    ['ok 1 h=9007199254740993', (f) => f.int('h'), /field h .* does not fit a safe integer/],
    ['ok 1 b=2', (f) => f.bool('b'), /field b is not 0 or 1/],
    ['ok 1 d=AQI', (f) => f.b64('d'), /field d is not valid base64/],
    ['ok 1 d=AQ==AQ==', (f) => f.b64('d'), /field d is not valid base64/],
    ['ok 1 d=AQ-_', (f) => f.b64('d'), /field d is not valid base64/],
    ['ok 1 s=a%2', (f) => f.str('s'), /field s is not a valid str: bad percent escape/],
    ['ok 1 l=1,x', (f) => f.intList('l'), /field l item 1 is not an int/],
    ['ok 1 l=a,%', (f) => f.strList('l'), /field l item 1 is not a valid str/],
    ['ok 1 v=pmux', (f) => f.oneOf('v', ['pmu', 'tracefs']), /field v is 'pmux', expected one of pmu\|tracefs/],
    ['ok 1', (f) => f.int('h'), /field h is missing/],
  ]
  for (const [line, read, message] of badFields) {
    it(`names the field when ${JSON.stringify(line)} is read`, () => {
      const {fields} = ok(line)
      assert.throws(
        () => read(fields),
        (error: unknown) => error instanceof ProtocolError && message.test(error.message) && error.field !== undefined,
      )
    })
  }
})

describe('splitRecords', () => {
  it('rejects a length that runs past the end', () => {
    const data = Buffer.from([5, 0, 0, 0, 1, 2])
    assert.match(String(splitRecords(data, 1)), /5 bytes run past the payload end/)
    assert.match(String(splitRecords(Buffer.from([1, 0]), 1)), /length runs past/)
  })
})

describe('large payloads', () => {
  it('validates and decodes a 48 MiB base64 field', () => {
    const payload = Buffer.alloc(36 * 1024 * 1024, 0xa5)
    const frame = decodeFrame(`ok 1 eof=1 data=${payload.toString('base64')}`)
    assert.ok(frame.kind === 'ok' && frame.fields.b64('data').equals(payload))
  })

  it('checks base64 strictly', () => {
    for (const good of ['', 'AQ==', 'AQI=', 'AQID', 'AQIDBA==']) assert.equal(isBase64(good), true, good)
    for (const bad of ['A', 'AQ=', '====', 'A===', 'AQ=A', 'AQ-_', 'AQ\u00e9D', 'AQID=']) assert.equal(isBase64(bad), false, bad)
  })
})
