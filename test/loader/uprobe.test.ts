/**
 * uprobes and uretprobes attached by section name (`uprobe/PATH:FUNC`) on a
 * binary gcc builds here: the function's file offset is computed on the host
 * from the ELF read through bpfd. PIE and non-PIE place code differently.
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {attachAll} from '../../src/loader/attach.js'
import {AttachError} from '../../src/loader/errors.js'
import {haveTool} from '../fixtures/fixtures.js'
import {connectTo, destroyLeftovers} from '../remote/bpfd-env.js'
import {loaderFixturePath, loaderUnavailable, loadFixture} from './env.js'

after(destroyLeftovers)

const skip = loaderUnavailable() ?? (haveTool('gcc') ? undefined : 'gcc is not installed')

describe('uprobes on the real kernel', {skip}, () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpftools-uprobe-'))
    const source = loaderFixturePath('uprobe_target.c')
    execFileSync('gcc', ['-O1', '-no-pie', '-o', join(dir, 'target'), source])
    execFileSync('gcc', ['-O1', '-fPIE', '-pie', '-o', join(dir, 'target-pie'), source])
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  for (const binary of ['target', 'target-pie']) {
    it(`counts entries and returns of a function in a ${binary === 'target' ? 'non-PIE' : 'PIE'} executable`, async () => {
      const path = join(dir, binary)
      const client = await connectTo('local')
      const c = await loadFixture(client, 'uprobe.bpf.c', {}, {UPROBE_BINARY: `"${path}"`})
      try {
        const {attached} = await attachAll(c)
        assert.deepEqual(attached.map((a) => a.target).sort(), [`uprobe ${path}:hit_me`, `uretprobe ${path}:hit_me`])
        execFileSync(path, ['6'])
        const u64 = async (name: string) => (await c.readGlobal(name)).readBigUInt64LE(0)
        assert.equal(await u64('entries'), 6n)
        assert.equal(await u64('returns'), 6n)
        assert.equal(await u64('last_arg'), 6n, 'the argument arrives in PT_REGS_PARM1')
      } finally {
        await c.release()
        await client.close()
      }
    })
  }

  it('names the missing function, or the missing file, in the attach error', async () => {
    const client = await connectTo('local')
    const path = join(dir, 'target')
    const c = await loadFixture(client, 'uprobe.bpf.c', {}, {UPROBE_BINARY: `"${path}"`})
    try {
      await assert.rejects(attachAll(c, {targets: {on_entry: `uprobe/${path}:no_such_function`}}), (e: unknown) => {
        assert.ok(e instanceof AttachError)
        assert.equal(e.message, `cannot attach program 'on_entry' to uprobe ${path}:no_such_function: ${path}: no function named 'no_such_function' (is the file stripped?)`)
        return true
      })
      await assert.rejects(attachAll(c, {targets: {on_entry: 'uprobe//no/such/binary:main'}}), (e: unknown) => {
        assert.ok(e instanceof AttachError)
        assert.equal(e.errname, 'ENOENT')
        assert.match(e.message, /^cannot attach program 'on_entry' to uprobe \/no\/such\/binary:main: it does not exist on the target/)
        return true
      })
      await assert.rejects(attachAll(c, {targets: {on_entry: 'tracepoint/syscalls/sys_enter_getppid'}}), /on_entry.* is a KPROBE program .* needs a TRACEPOINT program/)
    } finally {
      await c.release()
      await client.close()
    }
  })

  it('finds a library by name in the target\'s library directories', async () => {
    const client = await connectTo('local')
    const path = join(dir, 'target')
    const c = await loadFixture(client, 'uprobe.bpf.c', {}, {UPROBE_BINARY: `"${path}"`})
    try {
      const {attached, skipped} = await attachAll(c, {targets: {on_return: 'uretprobe/libc.so.6:strtol'}, keepGoing: true})
      if (skipped.length) return // not a glibc system
      assert.ok(attached.some((a) => a.target === 'uretprobe libc.so.6:strtol'))
      execFileSync(path, ['3'])
      assert.ok((await c.readGlobal('returns')).readBigUInt64LE(0) >= 1n, 'atoi calls strtol')
    } finally {
      await c.release()
      await client.close()
    }
  })
})
