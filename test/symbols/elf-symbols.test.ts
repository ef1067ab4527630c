/**
 * ELF symbols, PT_LOAD segments and build-ids of executables and shared
 * objects, checked against binutils (nm, readelf) on binaries gcc builds
 * here (x86_64, and aarch64 with the cross compiler) and on the system libc.
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {EM_AARCH64, EM_X86_64, ElfSymbolError, readElfSymbols, symbolFileOffset, vaddrToFileOffset, type ElfSymbols} from '../../src/symbols/elf-symbols.js'
import {fixturePath, haveTool} from '../fixtures/fixtures.js'

const SOURCE = fixturePath('loader/uprobe_target.c')
const LIBC = ['/lib/x86_64-linux-gnu/libc.so.6', '/lib/aarch64-linux-gnu/libc.so.6'].find(existsSync)

/** `nm` output as `name@address` (versions dropped: one name may have several), for defined symbols of the given letters. */
function nm(tool: string, args: string[], file: string, letters: RegExp): Set<string> {
  const out = new Set<string>()
  for (const line of execFileSync(tool, [...args, '--defined-only', file], {encoding: 'utf8'}).split('\n')) {
    const m = /^([0-9a-f]+) (\S) (\S+)$/.exec(line)
    if (m && letters.test(m[2]!)) out.add(`${m[3]!.replace(/@.*$/, '')}@${BigInt(`0x${m[1]}`)}`)
  }
  return out
}

/** `readelf -lW` LOAD lines as [offset, vaddr, filesz]. */
function loads(tool: string, file: string): [bigint, bigint, bigint][] {
  return execFileSync(tool, ['-lW', file], {encoding: 'utf8'})
    .split('\n')
    .filter((l) => /^\s+LOAD\s/.test(l))
    .map((l) => {
      const f = l.trim().split(/\s+/)
      return [BigInt(f[1]!), BigInt(f[2]!), BigInt(f[4]!)]
    })
}

function buildId(tool: string, file: string): string | undefined {
  return /Build ID: ([0-9a-f]+)/.exec(execFileSync(tool, ['-n', file], {encoding: 'utf8'}))?.[1]
}

function checkAgainstBinutils(elf: ElfSymbols, file: string, prefix: string, dynamic: boolean): void {
  // Text symbols: T global, t local, i indirect.
  const functions = nm(`${prefix}nm`, dynamic ? ['-D'] : [], file, /^[Tti]$/)
  assert.ok(functions.size > 0)
  const ours = new Set(elf.symbols.filter((s) => s.type === 'func' || s.type === 'ifunc').map((s) => `${s.name.replace(/@.*$/, '')}@${s.value}`))
  for (const f of functions) assert.ok(ours.has(f), f)
  assert.deepEqual(elf.segments.map((s) => [s.offset, s.vaddr, s.filesz]), loads(`${prefix}readelf`, file))
  assert.equal(elf.buildId, buildId(`${prefix}readelf`, file))
}

describe('readElfSymbols', {skip: haveTool('gcc') && haveTool('nm') ? undefined : 'gcc and binutils are needed'}, () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpftools-elf-'))
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('reads an x86_64 executable as nm and readelf do, and places functions in the file', () => {
    const file = join(dir, 'x86')
    execFileSync('gcc', ['-O1', '-no-pie', '-Wl,--build-id', '-o', file, SOURCE])
    const elf = readElfSymbols(readFileSync(file))
    assert.equal(elf.machine, EM_X86_64)
    assert.equal(elf.fileType, 2)
    checkAgainstBinutils(elf, file, '', false)
    assert.match(elf.buildId ?? '', /^[0-9a-f]{40}$/)
    const hit = elf.symbols.find((s) => s.name === 'hit_me')!
    assert.deepEqual({type: hit.type, bind: hit.bind}, {type: 'func', bind: 'global'})
    // Non-PIE code is linked at 0x400000 plus its file offset.
    assert.equal(symbolFileOffset(elf, 'hit_me'), hit.value - 0x400000n)
    assert.equal(vaddrToFileOffset(elf, hit.value), hit.value - 0x400000n)
    const sorted = elf.symbols.map((s) => s.value)
    assert.deepEqual(sorted, [...sorted].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), 'symbols are sorted by address')
  })

  it('reads an aarch64 executable', {skip: haveTool('aarch64-linux-gnu-gcc') ? undefined : 'no aarch64 cross compiler'}, () => {
    const file = join(dir, 'arm64')
    execFileSync('aarch64-linux-gnu-gcc', ['-O1', '-Wl,--build-id', '-o', file, SOURCE])
    const elf = readElfSymbols(readFileSync(file))
    assert.equal(elf.machine, EM_AARCH64)
    checkAgainstBinutils(elf, file, 'aarch64-linux-gnu-', false)
    assert.ok(symbolFileOffset(elf, 'hit_me') > 0n)
  })

  it('reads the dynamic symbols of the system libc', {skip: LIBC ? undefined : 'no glibc'}, () => {
    const elf = readElfSymbols(readFileSync(LIBC!))
    assert.equal(elf.fileType, 3)
    checkAgainstBinutils(elf, LIBC!, '', true)
    assert.ok(elf.symbols.some((s) => s.type === 'ifunc'), 'glibc has indirect functions (memcpy ...)')
    const strtol = elf.symbols.find((s) => s.name === 'strtol')!
    assert.equal(symbolFileOffset(elf, 'strtol'), vaddrToFileOffset(elf, strtol.value))
    // A function with several versions: the default one (name@@VERSION) is where a uprobe goes.
    const versions = execFileSync('nm', ['-D', '--defined-only', LIBC!], {encoding: 'utf8'}).split('\n').filter((l) => / [Tti] memcpy@/.test(l))
    const current = versions.find((l) => l.includes('@@'))
    if (versions.length > 1 && current) {
      assert.equal(symbolFileOffset(elf, 'memcpy'), vaddrToFileOffset(elf, BigInt(`0x${current.split(' ')[0]}`)))
      assert.equal(elf.symbols.filter((s) => s.name === 'memcpy' && s.oldVersion).length, versions.length - 1)
    }
  })

  it('says what is wrong with a file or a name', () => {
    const file = join(dir, 'stripped')
    execFileSync('gcc', ['-O1', '-s', '-o', file, SOURCE])
    const stripped = readElfSymbols(readFileSync(file))
    assert.throws(() => symbolFileOffset(stripped, 'hit_me'), {name: 'ElfSymbolError', message: "no function named 'hit_me' (is the file stripped?)"})
    const data = readElfSymbols(readFileSync(join(dir, 'x86')))
    assert.throws(() => symbolFileOffset(data, 'completed.0'), /not a function \(it is a object\)|no function named/)
    assert.throws(() => readElfSymbols(Buffer.from('#!/bin/sh\n'.repeat(10))), {message: 'not an ELF file: bad magic'})
    assert.throws(() => readElfSymbols(Buffer.alloc(10)), /not an ELF file: 10 bytes/)
    const elf32 = Buffer.from(readFileSync(file))
    elf32[4] = 1
    assert.throws(() => readElfSymbols(elf32), /not an ELF64 file/)
  })

  it('turns truncated and corrupted files into ElfSymbolError, never another exception', () => {
    const bytes = readFileSync(join(dir, 'x86'))
    let seed = 7
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(bytes.subarray(0, i < 100 ? random(bytes.length) : bytes.length))
      if (i >= 100) for (let k = 0; k < 8; k++) b[random(Math.min(b.length, 4096))] = random(256)
      try {
        readElfSymbols(b)
      } catch (e) {
        assert.ok(e instanceof ElfSymbolError, `case ${i}: ${String(e)}`)
      }
    }
  })
})
