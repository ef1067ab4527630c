// The interval loop of stackcount and biolatency: one print per interval,
// even when a timer fires before performance.now() says the time is up
// (libuv's timers run on a coarse clock and may, by a millisecond or two).
import assert from 'node:assert/strict'
import {mock, test} from 'node:test'
import {everyInterval} from '../../src/tools/intervals.js'

test('a timer that fires early does not make an extra interval: -D alone prints once, at the end', async () => {
  mock.timers.enable({apis: ['setTimeout']})
  try {
    const ticks: {last: boolean; index: number}[] = []
    const done = everyInterval({durationSec: 0.05}, async (last, index) => void ticks.push({last, index}))
    // The 50 ms timer fires at once: no real time has passed.
    mock.timers.tick(50)
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(ticks, [], 'a tick before the duration is over')
    // Then the real time the duration asks for passes, and the timer set again fires.
    const started = performance.now()
    while (performance.now() - started < 60);
    mock.timers.tick(50)
    assert.equal(await done, 1)
    assert.deepEqual(ticks, [{last: true, index: 0}])
  } finally {
    mock.timers.reset()
  }
})
