import {test} from 'node:test'
import assert from 'node:assert/strict'
import {KernelSymbols, UNKNOWN_SYMBOL} from '../../src/symbols/kallsyms.js'

// Shaped like a real /proc/kallsyms: aliases at one address, data symbols
// between functions, modules (tab before `[mod]`) after the core kernel and
// out of address order, a BPF program.
const TEXT = [
  'ffffffff81000000 T _stext',
  'ffffffff81000000 T _text',
  'ffffffff81000000 t startup_64',
  'ffffffff81001000 T do_one_initcall',
  'ffffffff81001100 D some_data',
  'ffffffff81001200 t __do_helper',
  'ffffffff81001200 W do_helper',
  'ffffffff81002000 T schedule',
  'ffffffff81002000 T __schedule_alias',
  'ffffffff82000000 R rodata_thing',
  'ffffffffc0a02000 t ext4_lookup\t[ext4]',
  'ffffffffc0a01000 t ext4_init\t[ext4]',
  'ffffffffc0a01080 T ext4_read\t[ext4]',
  'ffffffffc0b00000 t xfs_read\t[xfs]',
  'ffffffffc0c00000 t bpf_prog_6deef7357e7b4530_sd_fw_ingress\t[bpf]',
  'ffffffffc0d00000 T schedule\t[dupmod]',
  '',
].join('\n')

test('kallsyms: resolves to the covering text symbol with its offset', () => {
  const k = KernelSymbols.parse(TEXT)
  assert.equal(k.restricted, false)
  assert.equal(k.size, 16)
  assert.deepEqual(k.resolve(0xffffffff81001000n), {name: 'do_one_initcall', address: 0xffffffff81001000n, type: 'T', offset: 0n})
  assert.equal(k.resolve(0xffffffff81001001n)?.offset, 1n)
  // Data symbols do not cut a function short.
  assert.equal(k.symbolize(0xffffffff81001150n, {offset: true}), 'do_one_initcall+0x150')
  assert.equal(k.symbolize(0xffffffff81001fffn, {offset: true}), 'do_helper+0xdff')
  assert.equal(k.symbolize(0xffffffff81002010n), 'schedule')
})

test('kallsyms: among symbols at one address, global beats weak beats local, then fewer underscores', () => {
  const k = KernelSymbols.parse(TEXT)
  assert.equal(k.symbolize(0xffffffff81000000n), '_stext')
  assert.equal(k.symbolize(0xffffffff81001200n), 'do_helper')
  assert.equal(k.symbolize(0xffffffff81002000n), 'schedule')
})

test('kallsyms: module symbols, sorted into place, with their module', () => {
  const k = KernelSymbols.parse(TEXT)
  assert.deepEqual(k.resolve(0xffffffffc0a01004n), {name: 'ext4_init', address: 0xffffffffc0a01000n, type: 't', module: 'ext4', offset: 4n})
  assert.equal(k.symbolize(0xffffffffc0a01090n, {offset: true, module: true}), 'ext4_read+0x10 [ext4]')
  assert.equal(k.symbolize(0xffffffffc0a02000n, {module: true}), 'ext4_lookup [ext4]')
  assert.equal(k.symbolize(0xffffffffc0b00020n, {module: true, offset: 'nonzero'}), 'xfs_read+0x20 [xfs]')
  assert.equal(k.symbolize(0xffffffffc0c00010n, {module: true}), 'bpf_prog_6deef7357e7b4530_sd_fw_ingress [bpf]')
  const sorted = [...k.textSymbols()].map((s) => s.address)
  assert.deepEqual(sorted, [...sorted].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
})

test('kallsyms: offset formats', () => {
  const k = KernelSymbols.parse(TEXT)
  assert.equal(k.symbolize(0xffffffff81002000n), 'schedule')
  assert.equal(k.symbolize(0xffffffff81002000n, {offset: true}), 'schedule+0x0')
  assert.equal(k.symbolize(0xffffffff81002000n, {offset: 'nonzero'}), 'schedule')
  assert.equal(k.symbolize(0xffffffff81002abcn, {offset: 'nonzero'}), 'schedule+0xabc')
  assert.equal(k.symbolize(Number(0x1000), {offset: true}), UNKNOWN_SYMBOL)
})

test('kallsyms: below the first function nothing resolves', () => {
  const k = KernelSymbols.parse(TEXT)
  assert.equal(k.resolve(0xffffffff80ffffffn), undefined)
  assert.equal(k.resolve(0n), undefined)
  assert.equal(k.symbolize(0xffffffff80000000n), '[unknown]')
})

test('kallsyms: lookup by name prefers the core kernel', () => {
  const k = KernelSymbols.parse(TEXT)
  assert.equal(k.lookup('schedule')?.address, 0xffffffff81002000n)
  assert.equal(k.lookup('schedule')?.module, undefined)
  assert.equal(k.lookup('ext4_read')?.module, 'ext4')
  assert.equal(k.lookup('some_data')?.type, 'D')
  assert.equal(k.lookup('nope'), undefined)
})

test('kallsyms: all-zero addresses mean the target hides them', () => {
  const hidden = TEXT.replace(/^[0-9a-f]{16}/gm, '0000000000000000')
  const k = KernelSymbols.parse(hidden)
  assert.equal(k.restricted, true)
  assert.equal(k.size, 16)
  assert.equal(k.resolve(0xffffffff81001000n), undefined)
  assert.equal(k.symbolize(0xffffffff81001000n), UNKNOWN_SYMBOL)
  assert.equal(KernelSymbols.parse('').restricted, false)
})

test('kallsyms: 32-bit targets, CRLF and junk lines', () => {
  const k = KernelSymbols.parse('c0008000 T stext\r\nc0008100 t helper\r\ngarbage\r\n\r\nzzzz T bad\r\nc0009000 D data\r\n')
  assert.equal(k.size, 3)
  assert.equal(k.symbolize(0xc0008104, {offset: true}), 'helper+0x4')
  assert.equal(k.symbolize(0xc0009004, {offset: true}), 'helper+0xf04')
})
