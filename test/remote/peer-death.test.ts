/**
 * When bpfd dies under the client, everything outstanding fails promptly
 * with a TransportError that names the transport and how bpfd ended.
 */
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {TransportError} from '../../src/remote/errors.js'
import {BPFD, bpfdUnavailable, connectTo, destroyLeftovers} from './bpfd-env.js'

after(destroyLeftovers)

describe('bpfd dying under the client', {skip: bpfdUnavailable()}, () => {
  for (const remote of ['local', `shell:exec ${BPFD}`]) {
    it(`fails pending requests within 2 s over ${remote}`, async () => {
      const client = await connectTo(remote)
      const status = (await client.readWholeFile('/proc/self/status')).toString()
      const pid = Number(/^Pid:\s+(\d+)$/m.exec(status)?.[1])
      assert.ok(pid > 1)
      const h = await client.mapCreate({type: 1, keySize: 4, valueSize: 4, maxEntries: 50_000})

      // Many requests in flight, then the kill, then more queued behind it.
      const inFlight = Array.from({length: 50_000}, (_, i) => client.mapUpdate(h, Buffer.alloc(4, i), Buffer.alloc(4)))
      await new Promise((resolve) => setImmediate(resolve))
      const started = Date.now()
      process.kill(pid, 'SIGKILL')
      const queued = client.mapLookup(h, Buffer.alloc(4))

      const outcomes = await Promise.allSettled([...inFlight, queued])
      const elapsed = Date.now() - started
      const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')
      assert.ok(failures.length >= 1, 'some requests were still pending')
      for (const {reason} of failures) {
        assert.ok(reason instanceof TransportError, String(reason))
        assert.equal(reason.transport, client.transport)
      }
      const message = (failures.at(-1)!.reason as Error).message
      const name = remote === 'local' ? 'bpfd' : 'shell command'
      assert.equal(message, `connection to ${client.transport} closed: ${name} was killed by SIGKILL`)
      assert.ok(elapsed < 2000, `took ${elapsed} ms`)
      await client.close()
    })
  }
})
