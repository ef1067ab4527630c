/**
 * CO-RE on the real kernel: the fixture reads task->real_parent->tgid with
 * its own two-member task_struct; the loader relocates the offsets against
 * the target's BTF, and the value must be the real parent's pid.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {attachAll} from '../../src/loader/attach.js'
import {connectTo, destroyLeftovers} from '../remote/bpfd-env.js'
import {fixtureSpec, loaderUnavailable, loadFixture} from './env.js'

after(destroyLeftovers)

describe('CO-RE on the real kernel', {skip: loaderUnavailable()}, () => {
  it('has CO-RE relocations to resolve', async () => {
    const spec = await fixtureSpec('core.bpf.c')
    assert.ok(spec.programs[0]!.coreRelocations.length >= 2)
  })

  it('reads task->real_parent->tgid: the pid of the shell that started the process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpftools-core-'))
    // The exec'd process is named after the link it was started through.
    const comm = `bpft${process.pid % 100000}core`
    symlinkSync('/bin/true', join(dir, comm))
    const client = await connectTo('local')
    const c = await loadFixture(client, 'core.bpf.c', {targ_comm: comm})
    try {
      await attachAll(c)
      // The shell forks for the background job, so the exec'd process is the shell's child.
      const shell = spawn('/bin/sh', ['-c', `${join(dir, comm)} & wait`], {stdio: 'ignore'})
      const code = await new Promise((resolve) => shell.on('exit', resolve))
      assert.equal(code, 0)
      const entries = await c.map('parents').dump()
      assert.equal(entries.length, 1, 'one process exec\'d with that name')
      const [{key, value}] = entries as [{key: Buffer; value: Buffer}]
      assert.equal(value.readUInt32LE(0), shell.pid, 'its parent is the shell')
      assert.notEqual(key.readUInt32LE(0), shell.pid)
    } finally {
      await c.release()
      await client.close()
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
