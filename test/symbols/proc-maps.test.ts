import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawn, execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'
import {elfAddressOf, fileOffsetOf, findMapping, isFileBacked, parseMaps, parseMapsLine, type LoadSegment} from '../../src/symbols/proc-maps.js'

const PF_R = 4
const PF_W = 2
const PF_X = 1

// A PIE linked the way lld lays it out: the text segment's vaddr runs one page ahead of its file offset.
const PIE_MAPS = `\
5581a2e00000-5581a2e02000 r--p 00000000 fe:00 1311                       /usr/bin/tool
5581a2e02000-5581a2e06000 r-xp 00001000 fe:00 1311                       /usr/bin/tool
5581a2e06000-5581a2e07000 rw-p 00004000 fe:00 1311                       /usr/bin/tool
5581a3000000-5581a3021000 rw-p 00000000 00:00 0                          [heap]
7f0c1a000000-7f0c1a026000 r--p 00000000 fe:00 339380                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f0c1a026000-7f0c1a17c000 r-xp 00026000 fe:00 339380                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f0c1a200000-7f0c1a201000 rw-p 00000000 00:00 0 
7f0c1a300000-7f0c1a301000 r-xp 00000000 00:05 77                         /tmp/my lib.so (deleted)
7ffd2ee80000-7ffd2eea1000 rw-p 00000000 00:00 0                          [stack]
7ffd2eff0000-7ffd2eff2000 r-xp 00000000 00:00 0                          [vdso]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
`

const PIE_SEGMENTS: LoadSegment[] = [
  {vaddr: 0x0n, offset: 0x0n, filesz: 0x1a00n, flags: PF_R},
  {vaddr: 0x2a00n, offset: 0x1a00n, filesz: 0x3000n, flags: PF_R | PF_X},
  {vaddr: 0x5a00n, offset: 0x4a00n, filesz: 0x200n, flags: PF_R | PF_W},
]

// glibc's layout: vaddr equals offset in every segment.
const LIBC_SEGMENTS: LoadSegment[] = [
  {vaddr: 0, offset: 0, filesz: 0x25388, flags: PF_R},
  {vaddr: 0x26000, offset: 0x26000, filesz: 0x1550fc, flags: PF_R | PF_X},
  {vaddr: 0x17c000, offset: 0x17c000, filesz: 0x52c31, flags: PF_R},
]

test('maps: fields of each line', () => {
  const maps = parseMaps(PIE_MAPS)
  assert.equal(maps.length, 11)
  assert.deepEqual(maps[1], {
    start: 0x5581a2e02000n,
    end: 0x5581a2e06000n,
    perms: 'r-xp',
    offset: 0x1000n,
    dev: 'fe:00',
    inode: 1311n,
    path: '/usr/bin/tool',
    deleted: false,
  })
  assert.equal(maps[3]!.path, '[heap]')
  assert.equal(maps[6]!.path, '')
  assert.equal(maps[7]!.path, '/tmp/my lib.so')
  assert.equal(maps[7]!.deleted, true)
  assert.equal(maps[10]!.start, 0xffffffffff600000n)
  assert.equal(maps[10]!.perms, '--xp')
  assert.deepEqual(
    maps.map(isFileBacked),
    [true, true, true, false, true, true, false, true, false, false, false],
  )
  assert.equal(parseMapsLine('not a maps line'), undefined)
  assert.equal(parseMaps('junk\n\n' + PIE_MAPS.split('\n')[0] + '\r\n').length, 1)
})

test('maps: findMapping by binary search, end exclusive', () => {
  const maps = parseMaps(PIE_MAPS)
  for (const m of maps) {
    assert.equal(findMapping(maps, m.start), m)
    assert.equal(findMapping(maps, m.end - 1n), m)
  }
  assert.equal(findMapping(maps, 0x5581a2e07000n), undefined)
  assert.equal(findMapping(maps, 0n), undefined)
  assert.equal(findMapping(maps, 0xffffffffffffffffn), undefined)
  assert.equal(findMapping(maps, 0x5581a2e02000 + 5)?.perms, 'r-xp')
  // Out-of-order input is sorted so the search still works.
  const shuffled = parseMaps(PIE_MAPS.split('\n').reverse().join('\n'))
  assert.equal(findMapping(shuffled, 0x7f0c1a026010n)?.offset, 0x26000n)
})

test('maps: file-relative addresses in a PIE executable', () => {
  const maps = parseMaps(PIE_MAPS)
  const base = 0x5581a2e00000n
  // A function at vaddr 0x2a10 runs at base + 0x2a10.
  const pc = base + 0x2a10n
  const m = findMapping(maps, pc)!
  assert.equal(m.perms, 'r-xp')
  assert.equal(fileOffsetOf(m, pc), 0x1a10n)
  assert.equal(elfAddressOf(m, pc, PIE_SEGMENTS), 0x2a10n)
  assert.equal(elfAddressOf(m, base + 0x5000n, PIE_SEGMENTS), 0x5000n)
  // Read-only data in the first mapping.
  assert.equal(elfAddressOf(maps[0]!, base + 0x100n, PIE_SEGMENTS), 0x100n)
  // Past every segment's file contents: nothing to name.
  assert.equal(elfAddressOf(maps[2]!, base + 0x6f00n, PIE_SEGMENTS), undefined)
})

test('maps: file-relative addresses in a shared library', () => {
  const maps = parseMaps(PIE_MAPS)
  const pc = 0x7f0c1a026000n + (0xcf503n - 0x26000n)
  const m = findMapping(maps, pc)!
  assert.equal(m.path, '/usr/lib/x86_64-linux-gnu/libc.so.6')
  assert.equal(elfAddressOf(m, pc, LIBC_SEGMENTS), 0xcf503n)
})

test('maps: a fixed-address executable maps back to the runtime address', () => {
  const maps = parseMaps(`\
00400000-00401000 r--p 00000000 fe:00 12 /usr/bin/old
00401000-00405000 r-xp 00001000 fe:00 12 /usr/bin/old
`)
  const segs: LoadSegment[] = [
    {vaddr: 0x400000n, offset: 0n, filesz: 0x800n, flags: PF_R},
    {vaddr: 0x401000n, offset: 0x1000n, filesz: 0x3800n, flags: PF_R | PF_X},
  ]
  assert.equal(elfAddressOf(findMapping(maps, 0x402345n)!, 0x402345n, segs), 0x402345n)
})

test('maps: segments sharing a file page: the one matching the mapping wins', () => {
  // Both segments hold file offset 0x1000..0x1800 in this (unusual) layout.
  const segs: LoadSegment[] = [
    {vaddr: 0x0n, offset: 0x0n, filesz: 0x1800n, flags: PF_R},
    {vaddr: 0x2000n, offset: 0x1000n, filesz: 0x2000n, flags: PF_R | PF_X},
  ]
  const [ro, rx] = parseMaps(`\
7f0000000000-7f0000002000 r--p 00000000 fe:00 5 /lib/x.so
7f0000002000-7f0000004000 r-xp 00001000 fe:00 5 /lib/x.so
`)
  assert.equal(elfAddressOf(rx!, 0x7f0000002100n, segs), 0x2100n)
  assert.equal(elfAddressOf(ro!, 0x7f0000001100n, segs), 0x1100n)
})

test('maps: a library stored inside an archive, and the vDSO', () => {
  // An uncompressed .so at offset 0x10000 of an APK, its text segment at file offset 0x1000 of the .so.
  const [apk] = parseMaps('7100000000-7100004000 r-xp 00011000 fd:05 4242 /data/app/x/base.apk\n')
  const segs: LoadSegment[] = [{vaddr: 0x1000n, offset: 0x1000n, filesz: 0x4000n, flags: PF_R | PF_X}]
  assert.equal(elfAddressOf(apk!, 0x7100000010n, segs, 0x10000n), 0x1010n)
  assert.equal(elfAddressOf(apk!, 0x7100000010n, segs, 0x20000n), undefined)

  const maps = parseMaps(PIE_MAPS)
  const vdso = maps.find((m) => m.path === '[vdso]')!
  assert.equal(elfAddressOf(vdso, vdso.start + 0x9a0n, [{vaddr: 0n, offset: 0n, filesz: 0x2000n, flags: PF_R | PF_X}]), 0x9a0n)
})

test('maps (real): this process', () => {
  const maps = parseMaps(readFileSync('/proc/self/maps', 'utf8'))
  assert.ok(maps.length > 10)
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i]!
    assert.ok(m.start < m.end)
    if (i > 0) assert.ok(maps[i - 1]!.end <= m.start)
    assert.equal(findMapping(maps, m.start), m)
    assert.equal(findMapping(maps, m.end - 1n), m)
    assert.match(m.perms, /^[r-][w-][x-][ps]$/)
  }
  assert.ok(maps.some((m) => m.path === '[stack]'))
  assert.ok(maps.some((m) => m.perms[2] === 'x' && isFileBacked(m)))
})

// The PT_LOAD headers of a 64-bit little-endian ELF file; enough for the test.
function loadSegments(path: string): LoadSegment[] | undefined {
  const b = readFileSync(path)
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) return undefined
  const phoff = Number(b.readBigUInt64LE(0x20))
  const phentsize = b.readUInt16LE(0x36)
  const phnum = b.readUInt16LE(0x38)
  const out: LoadSegment[] = []
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize
    if (b.readUInt32LE(p) !== 1) continue
    out.push({flags: b.readUInt32LE(p + 4), offset: b.readBigUInt64LE(p + 8), vaddr: b.readBigUInt64LE(p + 16), filesz: b.readBigUInt64LE(p + 32)})
  }
  return out
}

function readelfFunctions(path: string): {name: string; value: bigint; size: bigint}[] | undefined {
  let out: string
  try {
    out = execFileSync('readelf', ['-W', '--dyn-syms', path], {encoding: 'utf8', maxBuffer: 64 << 20})
  } catch {
    return undefined
  }
  const syms = []
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f.length < 8 || f[3] !== 'FUNC') continue
    syms.push({name: f[7]!, value: BigInt('0x' + f[1]), size: BigInt(f[2]!)})
  }
  return syms
}

test('maps (real): a sleeping process’s program counter lands in the libc function it sleeps in', async (t) => {
  const child = spawn('sleep', ['10'], {stdio: 'ignore'})
  try {
    const pid = child.pid
    if (pid === undefined) return t.skip('cannot start sleep')
    // Poll until the child sits in its sleep call inside libc.
    let pc: bigint | undefined
    let maps = parseMaps('')
    for (let i = 0; i < 100 && pc === undefined; i++) {
      await sleep(20)
      let sys: string
      try {
        sys = readFileSync(`/proc/${pid}/syscall`, 'utf8').trim()
        maps = parseMaps(readFileSync(`/proc/${pid}/maps`, 'utf8'))
      } catch {
        return t.skip('cannot read /proc/PID/syscall')
      }
      const f = sys.split(' ')
      if (f[0] === 'running' || f.length < 3) continue
      const cand = BigInt(f[f.length - 1]!)
      if (findMapping(maps, cand)?.path.includes('libc')) pc = cand
    }
    if (pc === undefined) return t.skip('sleep did not block inside libc')

    const m = findMapping(maps, pc)!
    assert.equal(m.perms[2], 'x')
    const segs = loadSegments(m.path)
    if (!segs) return t.skip('libc is not a 64-bit little-endian ELF')
    const rel = elfAddressOf(m, pc, segs)
    assert.ok(rel !== undefined)
    const text = segs.find((s) => (s.flags & PF_X) !== 0)!
    assert.ok(rel >= BigInt(text.vaddr) && rel < BigInt(text.vaddr) + BigInt(text.filesz))

    const funcs = readelfFunctions(m.path)
    if (!funcs) return t.skip('no readelf to name the function')
    const hit = funcs.find((s) => s.value <= rel && rel < s.value + s.size)
    assert.ok(hit, `a libc function holds 0x${rel.toString(16)}`)
    assert.match(hit.name, /sleep/)
  } finally {
    child.kill()
  }
})
