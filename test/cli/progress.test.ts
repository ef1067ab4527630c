import assert from 'node:assert/strict'
import {test} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'
import {startSpinner} from '../../src/cli/progress.js'

function fakeStream(isTTY: boolean): NodeJS.WriteStream & {written: string[]} {
  const written: string[] = []
  return {isTTY, written, write: (s: string) => written.push(s) > 0} as unknown as NodeJS.WriteStream & {written: string[]}
}

test('a spinner on a terminal draws after its delay and erases itself', async () => {
  const s = fakeStream(true)
  const stop = startSpinner('compiling x.bpf.c', s, 10)
  await sleep(150)
  stop()
  assert.ok(s.written.length >= 2, s.written.join('|'))
  assert.match(s.written[0]!, /^\r[|/\\-] compiling x\.bpf\.c$/)
  assert.equal(s.written.at(-1), '\r\x1b[K')
})

test('a step that ends before the delay draws nothing', async () => {
  const s = fakeStream(true)
  startSpinner('quick', s, 200)()
  await sleep(250)
  assert.deepEqual(s.written, [])
})

test('nothing is drawn when stderr is not a terminal', async () => {
  const s = fakeStream(false)
  const stop = startSpinner('piped', s, 0)
  await sleep(50)
  stop()
  assert.deepEqual(s.written, [])
})
