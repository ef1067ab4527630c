/**
 * A perf_event program sampling the CPU clock: attachPerfEvent opens one
 * event per online CPU in one round trip, and samples arrive.
 */
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {attachAll, attachPerfEvent} from '../../src/loader/attach.js'
import {connectTo, destroyLeftovers} from '../remote/bpfd-env.js'
import {loaderUnavailable, loadFixture} from './env.js'

after(destroyLeftovers)

const PERF_TYPE_SOFTWARE = 1
const PERF_COUNT_SW_CPU_CLOCK = 0

describe('perf events on the real kernel', {skip: loaderUnavailable()}, () => {
  it('samples the CPU clock on every online CPU', async () => {
    const client = await connectTo('local')
    const c = await loadFixture(client, 'perf_event.bpf.c')
    try {
      const {attached, skipped} = await attachAll(c)
      assert.deepEqual(attached, [])
      assert.match(skipped[0]!.reason, /needs an event to sample/)
      const before = client.stats.roundTrips
      const events = await attachPerfEvent(c, 'on_sample', {type: PERF_TYPE_SOFTWARE, config: PERF_COUNT_SW_CPU_CLOCK, freq: 1000})
      assert.equal(client.stats.roundTrips - before, 1, 'one round trip for every CPU')
      assert.equal(events.length, client.hello.cpusOnline.length)
      // Keep one CPU busy so the clock ticks where the program samples.
      const until = Date.now() + 200
      while (Date.now() < until);
      await new Promise((r) => setTimeout(r, 50))
      assert.ok((await c.readGlobal('samples')).readBigUInt64LE(0) > 0n)
      await assert.rejects(attachPerfEvent(c, 'nope', {type: PERF_TYPE_SOFTWARE, config: 0, period: 1000}), /no program 'nope'/)
    } finally {
      await c.release()
      await client.close()
    }
  })
})
