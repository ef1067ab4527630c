// The pieces that put several targets on one stdout: line labels, the one
// header, intervals put together across targets, failures named per target.
import assert from 'node:assert/strict'
import {test} from 'node:test'
import {collateIntervals} from '../../src/cli/collate-intervals.js'
import {failureOf} from '../../src/cli/fan-out.js'
import {labelHeader, labelledOutputs, labelLines, targetWidth} from '../../src/cli/labelled-output.js'
import {ExitCode} from '../../src/cli/exit-codes.js'
import {PermissionError, TransportError} from '../../src/remote/errors.js'

test('text lines get a TARGET column as wide as the longest name', () => {
  const width = targetWidth(['local', 'tcp:127.0.0.1:4000'])
  assert.equal(width, 18)
  assert.equal(targetWidth(['a', 'b']), 6)
  assert.equal(labelHeader('PID    COMM PATH\n', width), 'TARGET             PID    COMM PATH\n')
  assert.equal(labelLines('1 cat /a\n2 cat /b\n', 'local', width, false), 'local              1 cat /a\nlocal              2 cat /b\n')
  // run's map contents have blank lines: labelled without trailing blanks.
  assert.equal(labelLines('map x:\n\n  1\n', 'local', 6, false), 'local  map x:\nlocal\nlocal    1\n')
})

test('NDJSON objects get a leading "target" field', () => {
  const out = labelLines('{"pid":1,"path":"/a"}\n{}\n', 'tcp:[::1]:4000', 14, true)
  assert.equal(out, '{"target":"tcp:[::1]:4000","pid":1,"path":"/a"}\n{"target":"tcp:[::1]:4000"}\n')
  for (const line of out.trim().split('\n')) assert.equal(JSON.parse(line).target, 'tcp:[::1]:4000')
})

test('the header is written once, when every target is ready or gone', async () => {
  let written = ''
  const outs = labelledOutputs(['local', 'tcp:127.0.0.1:1', 'adb:X'], {json: false, write: (t) => void (written += t)})
  const a = outs.forTarget(0)
  const b = outs.forTarget(1)
  let aReady = false
  const aHeader = Promise.resolve(a.header!('PID PATH\n')).then(() => (aReady = true))
  await new Promise((r) => setImmediate(r))
  assert.equal(written, '')
  assert.equal(aReady, false, 'a target waits for the others before its events flow')
  outs.end(2) // adb:X failed to connect
  await b.header!('PID PATH\n')
  await aHeader
  assert.equal(written, 'TARGET          PID PATH\n')
  await a.write('7 /etc/passwd\n')
  await b.write('7 /etc/passwd\n')
  assert.equal(written, 'TARGET          PID PATH\nlocal           7 /etc/passwd\ntcp:127.0.0.1:1 7 /etc/passwd\n')
})

type Iv = {index: number; last: boolean; v: string}

test('intervals are handed on once every target delivered them, in target order', async () => {
  const emitted: string[] = []
  const c = collateIntervals<Iv>(2, (parts, index) => void emitted.push(`${index}:${parts.map((p) => p?.v ?? '-').join(',')}`))
  await c.add(1, {index: 0, last: false, v: 'b0'})
  assert.deepEqual(emitted, [])
  await c.add(0, {index: 0, last: false, v: 'a0'})
  await c.add(0, {index: 1, last: false, v: 'a1'})
  assert.deepEqual(emitted, ['0:a0,b0'])
  // Target 1 dies: what target 0 has delivered goes on without it.
  await c.end(1)
  assert.deepEqual(emitted, ['0:a0,b0', '1:a1,-'])
  await c.add(0, {index: 2, last: true, v: 'a2'})
  assert.deepEqual(emitted, ['0:a0,b0', '1:a1,-', '2:a2,-'])
})

test('a target that stopped one interval early does not hold back the others\' last one', async () => {
  const emitted: string[] = []
  const c = collateIntervals<Iv>(2, (parts, index) => void emitted.push(`${index}:${parts.map((p) => p?.v ?? '-').join(',')}`))
  await c.add(0, {index: 0, last: false, v: 'a0'})
  await c.add(0, {index: 1, last: true, v: 'a1'})
  await c.add(1, {index: 0, last: true, v: 'b0'})
  assert.deepEqual(emitted, ['0:a0,b0', '1:a1,-'])
  await c.end(0)
  await c.end(1)
  assert.deepEqual(emitted, ['0:a0,b0', '1:a1,-'])
})

test('a failure is named once: the target, then what went wrong, with its exit code', () => {
  const dead = failureOf('tcp:127.0.0.1:4000', new TransportError('tcp:127.0.0.1:4000', 'connection to tcp:127.0.0.1:4000 closed: connection reset'))
  assert.deepEqual(dead, {name: 'tcp:127.0.0.1:4000', message: 'connection to tcp:127.0.0.1:4000 closed: connection reset', exitCode: ExitCode.UNREACHABLE})
  const denied = failureOf('adb:X', new PermissionError('adb:X', 'adb shell is not root and su is missing'))
  assert.deepEqual(denied, {name: 'adb:X', message: 'adb shell is not root and su is missing', exitCode: ExitCode.PERMISSION})
  assert.deepEqual(failureOf('local', new Error('boom')), {name: 'local', message: 'boom', exitCode: ExitCode.FAILURE})
})
