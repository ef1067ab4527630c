/**
 * A tracepoint program on syscalls:sys_enter_openat sees the file names this
 * process opens, through a ring buffer.
 */
import assert from 'node:assert/strict'
import {closeSync, mkdtempSync, openSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {attachAll} from '../../src/loader/attach.js'
import {openEvents} from '../../src/loader/streams.js'
import {connectTo, destroyLeftovers} from '../remote/bpfd-env.js'
import {loaderUnavailable, loadFixture, takeRecords} from './env.js'

after(destroyLeftovers)

describe('a syscall tracepoint on the real kernel', {skip: loaderUnavailable()}, () => {
  it('sees the name of a file this process opens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpftools-openat-'))
    const file = join(dir, `seen-by-bpf-${process.pid}.txt`)
    writeFileSync(file, 'x')
    const client = await connectTo('local')
    const c = await loadFixture(client, 'openat.bpf.c', {targ_pid: process.pid})
    try {
      const stream = await openEvents(c, 'opens')
      const {attached} = await attachAll(c)
      assert.deepEqual(attached.map((a) => a.target), ['tracepoint syscalls:sys_enter_openat'])
      for (let i = 0; i < 3; i++) closeSync(openSync(file, 'r'))
      const records = await takeRecords(stream, 3)
      const names = records.map((r) => {
        assert.equal(r.readUInt32LE(0), process.pid)
        const len = r.readInt32LE(4)
        return len > 0 ? r.toString('utf8', 8, 8 + len - 1) : `(read failed: ${len})`
      })
      assert.ok(names.includes(file), `saw ${JSON.stringify(names)}`)
    } finally {
      await c.release()
      await client.close()
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
