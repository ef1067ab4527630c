/**
 * The symboliser against the real bpfd and real processes: a PIE and the
 * shared library it links resolve by name; a second run against the same
 * files reads none of their bytes (it stats them, in one round trip) and
 * names the same frames; a touched file is read again (its head only, its
 * build-id being known), a rebuilt one entirely; C++ names come demangled.
 */
import assert from 'node:assert/strict'
import {execFileSync, spawn, type ChildProcessByStdio} from 'node:child_process'
import {mkdtempSync, renameSync, rmSync, utimesSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Readable, Writable} from 'node:stream'
import {createInterface} from 'node:readline'
import {after, before, describe, it} from 'node:test'
import type {Client, FileChunk, FileStat} from '../../src/remote/client.js'
import {Symbolizer, type SymbolSource} from '../../src/symbols/symbolizer.js'
import {fixturePath, haveTool} from '../fixtures/fixtures.js'
import {bpfdUnavailable, connectTo} from '../remote/bpfd-env.js'

/** The client, counting what the symboliser asks of it. */
class Counting implements SymbolSource {
  reads: string[] = []
  stats: string[] = []
  constructor(private readonly client: Client) {}
  get hello() {
    return this.client.hello
  }
  readFile(path: string, options?: {offset?: number; len?: number}): Promise<FileChunk> {
    this.reads.push(path)
    return this.client.readFile(path, options)
  }
  readWholeFile(path: string, options?: {size?: number}): Promise<Buffer> {
    this.reads.push(path)
    return this.client.readWholeFile(path, options)
  }
  stat(path: string): Promise<FileStat> {
    this.stats.push(path)
    return this.client.stat(path)
  }
  /** Reads of anything but a process's maps. */
  fileReads(): string[] {
    return this.reads.filter((p) => !/^\/proc\/\d+\/maps$/.test(p))
  }
}

type Running = {pid: number; addresses: Map<string, bigint>; child: ChildProcessByStdio<Writable, Readable, null>}

/** Starts a fixture program and reads the addresses it prints. */
async function start(exe: string): Promise<Running> {
  const child = spawn(exe, [], {stdio: ['pipe', 'pipe', 'inherit']})
  const addresses = new Map<string, bigint>()
  const lines = createInterface({input: child.stdout})
  for await (const line of lines) {
    const [name, hex] = line.split(' ')
    addresses.set(name!, BigInt(hex!))
    // The program prints lib_function or twice last.
    if (name === 'lib_function' || name === 'twice') break
  }
  return {pid: child.pid!, addresses, child}
}

function stopAll(rs: Running[]): Promise<unknown> {
  return Promise.all(
    rs.map(
      (r) =>
        new Promise((resolve) => {
          r.child.once('exit', resolve)
          r.child.stdin.end()
        }),
    ),
  )
}

function skipReason(): string | undefined {
  return bpfdUnavailable() ?? (haveTool('gcc') ? undefined : 'gcc is needed to build the fixture programs')
}

describe('symboliser on a real target', {skip: skipReason()}, () => {
  let client: Client
  let dir: string
  let exe: string
  let lib: string
  const running: Running[] = []

  /** Builds target.c as a PIE, linked against libsymfix.so; VARIANT adds a function. */
  function build(out: string, variant: boolean, buildId = true): void {
    const src = fixturePath('symbols/target.c')
    const id = buildId ? '-Wl,--build-id' : '-Wl,--build-id=none'
    execFileSync('gcc', ['-O0', '-fPIE', '-pie', id, ...(variant ? ['-DVARIANT'] : []), '-o', out, src, `-L${dir}`, '-lsymfix', `-Wl,-rpath,${dir}`])
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bpftools-symcache-'))
    lib = join(dir, 'libsymfix.so')
    exe = join(dir, 'target')
    execFileSync('gcc', ['-O0', '-fPIC', '-shared', '-Wl,--build-id', '-o', lib, fixturePath('symbols/symlib.c')])
    build(exe, false)
    client = await connectTo('local')
  })
  after(async () => {
    await stopAll(running.splice(0))
    await client?.close()
    rmSync(dir, {recursive: true, force: true})
  })

  /** One run: a new symboliser (as a new command would make) over the same cache. */
  async function run(cacheDir: string, pids: number[]): Promise<{sym: Symbolizer; target: Counting; roundTrips: number}> {
    const target = new Counting(client)
    const sym = new Symbolizer(target, {cacheDir})
    const before = client.stats.roundTrips
    await sym.loadProcesses(pids)
    return {sym, target, roundTrips: client.stats.roundTrips - before}
  }

  const names = (sym: Symbolizer, r: Running) => Object.fromEntries([...r.addresses].map(([n, a]) => [n, sym.userFrame(r.pid, a + 1n)]))

  it('reads each file once, then finds it again by its stat alone', async () => {
    const cacheDir = join(dir, 'cache')
    const a = await start(exe)
    const b = await start(exe)
    running.push(a, b)
    const expected = {level_one: 'level_one', main: 'main', lib_function: 'lib_function'}

    const first = await run(cacheDir, [a.pid, b.pid])
    assert.deepEqual(names(first.sym, a), expected)
    assert.deepEqual(names(first.sym, b), expected)
    assert.equal(first.sym.userFrame(a.pid, a.addresses.get('level_one')!, {offset: true}), 'level_one+0x0')
    // Two processes of one binary: it and its library are read through one of them only.
    const exeReads = first.target.fileReads().filter((p) => p.endsWith(exe))
    assert.ok(exeReads.length >= 1 && exeReads.every((p) => p === exeReads[0]), exeReads.join(' '))
    assert.ok(first.target.fileReads().some((p) => p.endsWith(lib)))

    const second = await run(cacheDir, [a.pid, b.pid])
    assert.deepEqual(second.target.fileReads(), [], 'no file content is read')
    assert.deepEqual(names(second.sym, a), expected)
    assert.deepEqual(names(second.sym, b), expected)
    assert.ok(second.target.stats.some((p) => p.endsWith(exe)) && second.target.stats.some((p) => p.endsWith(lib)))
    // The maps of both processes, then every stat together.
    assert.equal(second.roundTrips, 2)

    // Touched: a new stat, so the head is read again; the build-id is known, so no more.
    const t = new Date(Date.now() + 60_000)
    utimesSync(exe, t, t)
    const third = await run(cacheDir, [a.pid])
    assert.deepEqual(third.target.fileReads(), [`/proc/${a.pid}/root${exe}`])
    assert.deepEqual(names(third.sym, a), expected)
    const fourth = await run(cacheDir, [a.pid])
    assert.deepEqual(fourth.target.fileReads(), [])
  })

  it('finds a file without a build-id again by its stat', async () => {
    const cacheDir = join(dir, 'cache-noid')
    const plain = join(dir, 'plain')
    build(plain, false, false)
    assert.doesNotMatch(execFileSync('readelf', ['-n', plain], {encoding: 'utf8'}), /Build ID/)
    const p = await start(plain)
    running.push(p)
    const expected = {level_one: 'level_one', main: 'main', lib_function: 'lib_function'}
    const first = await run(cacheDir, [p.pid])
    assert.deepEqual(names(first.sym, p), expected)
    assert.ok(first.target.fileReads().some((f) => f.endsWith(plain)))
    const second = await run(cacheDir, [p.pid])
    assert.deepEqual(second.target.fileReads(), [])
    assert.deepEqual(names(second.sym, p), expected)
  })

  it('reads a rebuilt binary whole and names its new functions', async () => {
    const cacheDir = join(dir, 'cache-rebuilt')
    const old = await start(exe)
    running.push(old)
    await run(cacheDir, [old.pid])
    // Replaced as a build or package update replaces it: a new file at the path.
    build(`${exe}.new`, true)
    renameSync(`${exe}.new`, exe)
    const fresh = await start(exe)
    running.push(fresh)
    const r = await run(cacheDir, [fresh.pid])
    const exeReads = r.target.fileReads().filter((p) => p.endsWith(exe))
    assert.ok(exeReads.length >= 2, `the head, then the whole file: ${exeReads.join(' ')}`)
    assert.ok(!r.target.fileReads().some((p) => p.endsWith(lib)), 'the unchanged library is not read')
    assert.deepEqual(names(r.sym, fresh), {level_one: 'level_one', level_two: 'level_two', main: 'main', lib_function: 'lib_function'})
  })
})

const CXX = ['clang++', 'g++'].find(haveTool)

describe('C++ frames', {skip: bpfdUnavailable() ?? (CXX ? undefined : 'no C++ compiler (clang++ or g++)')}, () => {
  let client: Client
  let dir: string
  let exe: string
  let r: Running
  /** Where Worker::spin is: it has no printable address, so by nm from tick's. */
  let spin: bigint

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bpftools-cxx-'))
    exe = join(dir, 'cxx')
    execFileSync(CXX!, ['-O0', '-fPIE', '-pie', '-Wl,--build-id', '-o', exe, fixturePath('symbols/cxx_target.cpp')])
    const nm = new Map(
      execFileSync('nm', [exe], {encoding: 'utf8'})
        .split('\n')
        .map((l) => l.split(' '))
        .filter((f) => f.length === 3)
        .map((f) => [f[2]!, BigInt(`0x${f[0]}`)]),
    )
    client = await connectTo('local')
    r = await start(exe)
    spin = r.addresses.get('tick')! - nm.get('_ZN4demo4tickEi')! + nm.get('_ZNK4demo6Worker4spinEi')!
  })
  after(async () => {
    await stopAll([r])
    await client?.close()
    rmSync(dir, {recursive: true, force: true})
  })

  it('names them demangled, as bcc does', async (t) => {
    const tool = ['llvm-cxxfilt', 'c++filt'].find(haveTool)
    if (!tool) return t.skip('no demangler on this host')
    const sym = new Symbolizer(client, {cacheDir: join(dir, 'cache')})
    await sym.loadProcesses([r.pid])
    assert.equal(sym.userFrame(r.pid, r.addresses.get('tick')! + 2n), 'demo::tick(int)')
    assert.equal(sym.userFrame(r.pid, r.addresses.get('twice')! + 2n), 'int demo::twice<int>(int)')
    assert.equal(sym.userFrame(r.pid, spin + 2n, {offset: true}), 'demo::Worker::spin(int) const+0x2')
    assert.equal(sym.userFrame(r.pid, r.addresses.get('twice')!), execFileSync(tool, ['_ZN4demo5twiceIiEET_S1_'], {encoding: 'utf8'}).trim())
  })

  it('keeps mangled names without a demangler, and demangles them from the cache once one is there', async () => {
    const cacheDir = join(dir, 'cache-nodemangler')
    const notes: string[] = []
    const logger = {info: (m: string) => notes.push(m), debug: (m: string) => notes.push(m)}
    const bare = new Symbolizer(client, {cacheDir, logger, demanglers: ['bpftools-no-such-demangler']})
    await bare.loadProcesses([r.pid])
    assert.equal(bare.userFrame(r.pid, r.addresses.get('tick')!), '_ZN4demo4tickEi')
    assert.equal(notes.filter((n) => n.startsWith('no C++ demangler on this host')).length, 1)
    if (!['llvm-cxxfilt', 'c++filt'].some(haveTool)) return
    const counting = new Counting(client)
    const later = new Symbolizer(counting, {cacheDir})
    await later.loadProcesses([r.pid])
    assert.deepEqual(counting.fileReads(), [], 'the cached table is demangled on the host')
    assert.equal(later.userFrame(r.pid, r.addresses.get('tick')!), 'demo::tick(int)')
  })
})
