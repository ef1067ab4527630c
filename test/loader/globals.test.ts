/**
 * Global data in .rodata, .data and .bss, and a bpf-to-bpf call, on the real
 * kernel: options set on the spec before load change what the program does;
 * .data starts at its initial value; both are read back through their maps.
 */
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {attachAll} from '../../src/loader/attach.js'
import {loadCollection} from '../../src/loader/collection.js'
import {setGlobals} from '../../src/object/index.js'
import {connectTo, destroyLeftovers} from '../remote/bpfd-env.js'
import {fixtureSpec, getppid, loaderUnavailable} from './env.js'

after(destroyLeftovers)

const u64 = (b: Buffer) => b.readBigUInt64LE(0)

describe('global data and subprograms on the real kernel', {skip: loaderUnavailable()}, () => {
  it('has a subprogram appended to the program that calls it', async () => {
    const spec = await fixtureSpec('globals.bpf.c')
    const prog = spec.programs.find((p) => p.name === 'on_getppid')!
    assert.deepEqual(prog.functions.map((f) => f.name), ['on_getppid', 'scaled'])
    assert.deepEqual(spec.maps.map((m) => m.kind).sort(), ['bss', 'data', 'rodata'])
  })

  it('runs with the .rodata options set before load, counting in .data and .bss through the subprogram', async () => {
    const client = await connectTo('local')
    const spec = await fixtureSpec('globals.bpf.c')
    setGlobals(spec, {targ_pid: process.pid, scale: 3, enabled: true})
    const c = await loadCollection(client, spec)
    try {
      assert.equal(u64(await c.readGlobal('calls')), 100n, '.data holds its initial value')
      await attachAll(c)
      getppid(4)
      assert.equal(u64(await c.readGlobal('calls')), 104n)
      // scaled(c) = c * scale + 1 for c = 101..104
      assert.equal(u64(await c.readGlobal('total')), 3n * (101n + 102n + 103n + 104n) + 4n)
      assert.equal(u64(await c.readGlobal('ignored')), 0n)
      await assert.rejects(c.readGlobal('scale'), /no writable global 'scale'/, '.rodata is not read back as writable data')
    } finally {
      await c.release()
      await client.close()
    }
  })

  it('sees the defaults when no option is set', async () => {
    const client = await connectTo('local')
    const spec = await fixtureSpec('globals.bpf.c')
    setGlobals(spec, {targ_pid: process.pid})
    const c = await loadCollection(client, spec)
    try {
      await attachAll(c)
      getppid(2)
      assert.equal(u64(await c.readGlobal('ignored')), 2n, 'enabled is false: every call is ignored')
      assert.equal(u64(await c.readGlobal('calls')), 100n)
      assert.equal(u64(await c.readGlobal('total')), 0n)
    } finally {
      await c.release()
      await client.close()
    }
  })
})
