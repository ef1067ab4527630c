import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {KernelSymbols} from '../../src/symbols/kallsyms.js'

// This machine's own table: large, real, and readable when running as root.
function readKallsyms(): string | undefined {
  try {
    return readFileSync('/proc/kallsyms', 'utf8')
  } catch {
    return undefined
  }
}

const text = readKallsyms()
const hidden = text === undefined || !/^[0-9a-f]*[1-9a-f][0-9a-f]* /m.test(text)
const skip = text === undefined ? 'no /proc/kallsyms' : hidden ? 'kallsyms addresses hidden (not root, or kptr_restrict)' : false

type Entry = {addr: bigint; name: string; type: string}

function textEntries(t: string): Entry[] {
  const out: Entry[] = []
  for (const line of t.split('\n')) {
    const [addr, type, name] = line.split(/\s+/)
    if (!addr || !type || !name || !'tTwW'.includes(type)) continue
    out.push({addr: BigInt('0x' + addr), name, type})
  }
  return out.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0))
}

test('kallsyms (real): parses the whole table, unrestricted', {skip}, () => {
  const k = KernelSymbols.parse(text!)
  assert.equal(k.restricted, false)
  assert.ok(k.size > 1000)
})

test('kallsyms (real): known functions resolve at their address and one byte in', {skip}, () => {
  const k = KernelSymbols.parse(text!)
  const entries = textEntries(text!)
  const namesAt = new Map<bigint, Set<string>>()
  for (const e of entries) {
    let s = namesAt.get(e.addr)
    if (!s) namesAt.set(e.addr, (s = new Set()))
    s.add(e.name)
  }
  const distinct = [...namesAt.keys()]

  const known = ['vfs_read', 'schedule', 'do_sys_openat2', 'kmem_cache_alloc', 'tcp_sendmsg'].filter((n) => k.lookup(n))
  assert.ok(known.length >= 2, 'the kernel has at least a couple of the well-known functions')
  for (const n of known) {
    const addr = k.lookup(n)!.address
    const at = k.resolve(addr)!
    assert.equal(at.offset, 0n)
    assert.ok(namesAt.get(addr)!.has(at.name), `${n} resolved to ${at.name}`)
    const next = k.resolve(addr + 1n)!
    if (!namesAt.has(addr + 1n)) {
      assert.equal(next.name, at.name)
      assert.equal(next.offset, 1n)
      assert.equal(k.symbolize(addr + 1n, {offset: true}), `${at.name}+0x1`)
    }
  }

  // A spread of symbols across the table, checked against a plain search.
  const step = Math.max(1, Math.floor(distinct.length / 500))
  for (let i = 0; i < distinct.length; i += step) {
    const addr = distinct[i]!
    const r = k.resolve(addr)!
    assert.ok(namesAt.get(addr)!.has(r.name))
    assert.equal(r.address, addr)
    const nextAddr = distinct[i + 1]
    const probe = nextAddr !== undefined && nextAddr - addr > 1n ? addr + (nextAddr - addr) / 2n : addr
    const p = k.resolve(probe)!
    assert.equal(p.address, addr)
    assert.equal(p.offset, probe - addr)
  }
})
