// stackcount's pure parts: patterns, key layout, bcc's text, folded output,
// and the symbolizer's caches (against a stand-in target that counts reads).
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, it} from 'node:test'
import {compileBpf} from '../../src/compile/index.js'
import {parseObject, type BtfComposite} from '../../src/object/index.js'
import {parseFolded} from '../../src/output/folded.js'
import {BpfdError} from '../../src/remote/errors.js'
import {Symbolizer, type SymbolSource} from '../../src/symbols/symbolizer.js'
import {formatFolded, formatStacks, stackJson, type SymbolizedStack} from '../../src/tools/stackcount/format.js'
import {isWildcard, nameMatcher, parsePattern, stackChoice, StackcountUsageError, type StackcountOptions} from '../../src/tools/stackcount/options.js'
import {stackcountOutput} from '../../src/tools/stackcount/sink.js'
import {countedStacks, decodeStackKey, missingStackIds, STACK_KEY, stackTable} from '../../src/tools/stackcount/stacks.js'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

const BASE: StackcountOptions = {
  pattern: 't:a:b', timestamp: false, regexp: false, offset: false, perPid: false, kernelOnly: false,
  userOnly: false, verbose: false, delimited: false, folded: false,
}

describe('stackcount patterns', () => {
  it('parses patterns as bcc does', () => {
    assert.deepEqual(parsePattern('t:syscalls:sys_enter_openat'), {kind: 'tracepoint', category: 'syscalls', event: 'sys_enter_openat'})
    assert.deepEqual(parsePattern('vfs_read'), {kind: 'kprobe', func: 'vfs_read'})
    assert.deepEqual(parsePattern('k:vfs_*'), {kind: 'kprobe', func: 'vfs_*'})
    assert.deepEqual(parsePattern('p::vfs_read'), {kind: 'kprobe', func: 'vfs_read'})
    assert.deepEqual(parsePattern('u:c:malloc'), {kind: 'uprobe', library: 'c', func: 'malloc'})
    assert.deepEqual(parsePattern('c:malloc'), {kind: 'uprobe', library: 'c', func: 'malloc'})
    assert.deepEqual(parsePattern('p:c:malloc'), {kind: 'uprobe', library: 'c', func: 'malloc'})
    for (const bad of ['t:x', 'x:a:b', 'a:b:c:d', 't::b', '']) assert.throws(() => parsePattern(bad), StackcountUsageError, bad)
  })

  it('matches wildcards whole and regular expressions from the start', () => {
    const w = nameMatcher('sys_enter_open*', false)
    assert.ok(w('sys_enter_openat') && w('sys_enter_open') && !w('xsys_enter_open'))
    assert.ok(nameMatcher('a.b', false)('a.b') && !nameMatcher('a.b', false)('axb'))
    const r = nameMatcher('sys_enter_(read|write)$', true)
    assert.ok(r('sys_enter_read') && r('sys_enter_write') && !r('sys_enter_readv'))
    assert.ok(isWildcard('x*', false) && !isWildcard('x.y', false) && isWildcard('x.y', true))
    assert.throws(() => nameMatcher('(', true), StackcountUsageError)
  })

  it('chooses stacks and per-process keys as bcc does', () => {
    const tp = parsePattern('t:a:b')
    assert.deepEqual(stackChoice(BASE, tp), {kernel: true, user: true, perPid: true, delimiter: false})
    assert.deepEqual(stackChoice({...BASE, kernelOnly: true}, tp), {kernel: true, user: false, perPid: false, delimiter: false})
    assert.deepEqual(stackChoice({...BASE, kernelOnly: true, perPid: true}, tp), {kernel: true, user: false, perPid: true, delimiter: false})
    // bcc keys kernel-only stacks by process only with -P (or for a uprobe), -p or not.
    assert.deepEqual(stackChoice({...BASE, kernelOnly: true, pid: 42}, tp), {kernel: true, user: false, perPid: false, delimiter: false})
    assert.equal(stackChoice({...BASE, kernelOnly: true}, parsePattern('u:c:malloc')).perPid, true)
    assert.equal(stackChoice({...BASE, userOnly: true}, tp).perPid, true)
    assert.deepEqual(stackChoice({...BASE, delimited: true}, tp).delimiter, true)
    assert.deepEqual(stackChoice({...BASE, delimited: true, userOnly: true}, tp).delimiter, false)
    assert.throws(() => stackChoice({...BASE, kernelOnly: true, userOnly: true}, tp), StackcountUsageError)
  })
})

describe('stackcount maps', () => {
  const key = (tgid: number, k: number, u: number, comm: string) => {
    const b = Buffer.alloc(28)
    b.writeUInt32LE(tgid, 0)
    b.writeInt32LE(k, 4)
    b.writeInt32LE(u, 8)
    b.write(comm, 12)
    return b
  }
  const u64 = (n: bigint) => {
    const b = Buffer.alloc(8)
    b.writeBigUInt64LE(n)
    return b
  }
  const id = (n: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(n)
    return b
  }
  const stack = (...a: bigint[]) => Buffer.concat([...a.map(u64), Buffer.alloc(8 * (127 - a.length))])

  it('struct stack_key matches its TypeScript layout', async () => {
    const {object} = await compileBpf({source: join(REPO, 'bpf-programs', 'stackcount.bpf.c'), arch: 'x86'})
    const btf = parseObject(object).btf!
    const t = btf.find('stack_key', 'struct') as BtfComposite
    assert.equal(t.size, STACK_KEY.headerSize)
    assert.deepEqual(
      t.members.map((m) => [m.name, m.bitOffset / 8]),
      Object.entries(STACK_KEY.fields).map(([name, [offset]]) => [name, offset]),
    )
  })

  it('joins counts to stacks and finds ids the stack dump lacked', () => {
    assert.deepEqual(decodeStackKey(key(0xffffffff, 3, -1, '')), {comm: '', kernelStackId: 3, userStackId: -1})
    const table = stackTable([{key: id(3), value: stack(0xffffffff81000010n, 0xffffffff81000020n)}])
    const counts = [
      {key: key(42, 3, 7, 'work'), value: u64(5n)},
      {key: key(43, -14, -1, 'kthread'), value: u64(2n)},
    ]
    const c = countedStacks(counts, table)
    assert.deepEqual(c[0], {pid: 42, comm: 'work', kernelStackId: 3, userStackId: 7, count: 5, kernel: [0xffffffff81000010n, 0xffffffff81000020n], user: []})
    assert.deepEqual(c[1]!.kernel, [])
    assert.deepEqual(missingStackIds(c, table), [7])
  })

  it('prints nothing in place of a stack the kernel could not store, as bcc stackcount', () => {
    // bcc's stackcount walks a stack only for an id >= 0: -ENOMEM (map full),
    // -EEXIST (hash collision) or -EFAULT (none) print no frames and no
    // placeholder, unlike profile or offcputime's "[Missed Kernel Stack]".
    const table = stackTable([{key: id(3), value: stack(0x401000n)}])
    const c = countedStacks(
      [
        {key: key(42, -12, 3, 'work'), value: u64(4n)},
        {key: key(43, -17, 3, 'work'), value: u64(2n)},
      ],
      table,
    )
    assert.deepEqual(c.map((s) => [s.kernel, s.user]), [[[], [0x401000n]], [[], [0x401000n]]])
    const stacks: SymbolizedStack[] = c.map((s) => ({pid: s.pid, comm: s.comm, count: s.count, kernel: [], user: [{address: 0x401000n, name: 'main'}]}))
    assert.equal(
      formatStacks(stacks, {verbose: false, delimiter: true, pidGiven: false}),
      ['    --', '  main', '    work [43]', '    2', '', '    --', '  main', '    work [42]', '    4', '', ''].join('\n'),
    )
  })
})

const STACKS: SymbolizedStack[] = [
  {pid: 100, comm: 'work', count: 12, kernel: [{address: 0xffffffff81000010n, name: 'do_syscall_64'}], user: [{address: 0x401000n, name: 'level_one'}, {address: 0x401100n, name: 'main'}]},
  {pid: 101, comm: 'other', count: 3, kernel: [{address: 0xffffffff81000020n, name: 'ksys_read'}, {address: 0xffffffff81000010n, name: 'do_syscall_64'}], user: []},
]

const TP = parsePattern('t:syscalls:sys_enter_read')
const K_READ = {address: 0xffffffff81000020n, name: 'ksys_read'}
const K_SYSCALL = {address: 0xffffffff81000010n, name: 'do_syscall_64'}
const U_READ = {address: 0x7f0000001000n, name: 'read'}
const U_MAIN = {address: 0x401100n, name: 'main'}

/**
 * Keys as bcc's stackcount counts them by default: per process (user stacks
 * are recorded), so two `sh` with one stack are two keys; a kernel thread has
 * no user stack; pid 12's kernel stack could not be stored.
 */
const BCC_STACKS: SymbolizedStack[] = [
  {pid: 13, comm: 'sh', count: 9, kernel: [K_READ, K_SYSCALL], user: [U_READ, U_MAIN]},
  {pid: 11, comm: 'sh', count: 5, kernel: [K_READ, K_SYSCALL], user: [U_READ, U_MAIN]},
  {pid: 30, comm: 'kworker/0:1', count: 1, kernel: [{address: 0xffffffff81000300n, name: 'process_one_work'}, {address: 0xffffffff81000400n, name: 'worker_thread'}], user: []},
  {pid: 10, comm: 'sh', count: 5, kernel: [K_READ, K_SYSCALL], user: [U_READ, U_MAIN]},
  {pid: 12, comm: 'sh', count: 2, kernel: [], user: [U_READ, U_MAIN]},
]

describe('stackcount output', () => {
  it('prints frames, the process and the count as bcc, most frequent last', () => {
    assert.equal(
      formatStacks(STACKS, {verbose: false, delimiter: false, pidGiven: false}),
      [
        '  ksys_read', '  do_syscall_64', '    other [101]', '    3', '',
        '  do_syscall_64', '  level_one', '  main', '    work [100]', '    12', '', '',
      ].join('\n'),
    )
  })

  it('-v shows addresses, -d the delimiter, -p leaves the process out', () => {
    const text = formatStacks([STACKS[0]!], {verbose: true, delimiter: true, pidGiven: true})
    assert.equal(text, ['  ffffffff81000010 do_syscall_64', '    --', '  401000           level_one', '  401100           main', '    12', '', ''].join('\n'))
  })

  it('folds stacks root first with the process at the root, ascending counts', () => {
    const folded = formatFolded(STACKS, true)
    // As bcc: the delimiter follows the process name even when the user stack is empty.
    assert.equal(folded, 'other;-;do_syscall_64;ksys_read 3\nwork;main;level_one;-;do_syscall_64 12\n')
    assert.equal(formatFolded(STACKS, false), 'other;do_syscall_64;ksys_read 3\nwork;main;level_one;do_syscall_64 12\n')
    assert.deepEqual(parseFolded(folded)[1], {frames: ['work', 'main', 'level_one', '-', 'do_syscall_64'], count: 12})
  })

  it('folds every key on its own line as bcc, equal stacks of two processes included', () => {
    assert.equal(
      formatFolded(BCC_STACKS, false),
      [
        'kworker/0:1;worker_thread;process_one_work 1',
        'sh;main;read 2',
        'sh;main;read;do_syscall_64;ksys_read 5',
        'sh;main;read;do_syscall_64;ksys_read 5',
        'sh;main;read;do_syscall_64;ksys_read 9',
        '',
      ].join('\n'),
    )
  })

  it('-f -d: the delimiter on every line, also where the user or the kernel stack is empty', () => {
    assert.equal(
      formatFolded(BCC_STACKS, stackChoice({...BASE, folded: true, delimited: true}, TP).delimiter),
      [
        'kworker/0:1;-;worker_thread;process_one_work 1',
        'sh;main;read;- 2',
        'sh;main;read;-;do_syscall_64;ksys_read 5',
        'sh;main;read;-;do_syscall_64;ksys_read 5',
        'sh;main;read;-;do_syscall_64;ksys_read 9',
        '',
      ].join('\n'),
    )
  })

  it('-K -f: stacks of every process together start with an empty process name; -d adds nothing', () => {
    const all: SymbolizedStack[] = [
      {comm: '', count: 7, kernel: [K_READ, K_SYSCALL], user: []},
      // A kernel stack the map could not store: no frames at all.
      {comm: '', count: 1, kernel: [], user: []},
    ]
    const delimiter = stackChoice({...BASE, kernelOnly: true, delimited: true}, TP).delimiter
    assert.equal(formatFolded(all, delimiter), ' 1\n;do_syscall_64;ksys_read 7\n')
    assert.deepEqual(parseFolded(formatFolded(all, delimiter)).map((f) => f.frames), [[''], ['', 'do_syscall_64', 'ksys_read']])
  })

  it('-K -P -f and -U -f: the process at the root of its own stack kind, no delimiter even with -d', () => {
    const perProcess: SymbolizedStack[] = [{pid: 10, comm: 'sh', count: 3, kernel: [K_READ, K_SYSCALL], user: []}]
    assert.equal(formatFolded(perProcess, stackChoice({...BASE, kernelOnly: true, perPid: true, delimited: true}, TP).delimiter), 'sh;do_syscall_64;ksys_read 3\n')
    const userOnly: SymbolizedStack[] = [{pid: 10, comm: 'sh', count: 4, kernel: [], user: [U_READ, U_MAIN]}]
    assert.equal(formatFolded(userOnly, stackChoice({...BASE, userOnly: true, delimited: true}, TP).delimiter), 'sh;main;read 4\n')
  })

  it('-d -P text: `--` on every stack, the process under its frames, ascending counts', () => {
    assert.equal(
      formatStacks(BCC_STACKS, {verbose: false, delimiter: true, pidGiven: false}),
      [
        '  process_one_work', '  worker_thread', '    --', '    kworker/0:1 [30]', '    1', '',
        '    --', '  read', '  main', '    sh [12]', '    2', '',
        '  ksys_read', '  do_syscall_64', '    --', '  read', '  main', '    sh [10]', '    5', '',
        '  ksys_read', '  do_syscall_64', '    --', '  read', '  main', '    sh [11]', '    5', '',
        '  ksys_read', '  do_syscall_64', '    --', '  read', '  main', '    sh [13]', '    9', '', '',
      ].join('\n'),
    )
    // Stacks of every process together (-K without -P) have no process line.
    assert.equal(formatStacks([{comm: '', count: 7, kernel: [K_READ, K_SYSCALL], user: []}], {verbose: false, delimiter: false, pidGiven: false}), '  ksys_read\n  do_syscall_64\n    7\n\n')
  })

  it('-f output: no header, no blank lines, no Detaching, the time with -T', async () => {
    let out = ''
    const sink = stackcountOutput({...BASE, folded: true, delimited: true, timestamp: true}, {json: false, write: (t) => void (out += t)})
    await sink.start?.({probes: 1, choice: stackChoice({...BASE, delimited: true}, TP)})
    const time = new Date(2026, 0, 2, 3, 4, 5)
    await sink.interval({index: 0, last: true, time, stacks: BCC_STACKS.slice(2)})
    assert.equal(out, '03:04:05\nkworker/0:1;-;worker_thread;process_one_work 1\nsh;main;read;- 2\nsh;main;read;-;do_syscall_64;ksys_read 5\n')
  })

  it('gives one JSON object per stack', () => {
    const j = stackJson(STACKS[0]!, 't')
    assert.deepEqual(JSON.parse(JSON.stringify(j)), {
      time: 't', pid: 100, comm: 'work', count: 12,
      kernel_stack: [{address: '0xffffffff81000010', symbol: 'do_syscall_64'}],
      user_stack: [{address: '0x401000', symbol: 'level_one'}, {address: '0x401100', symbol: 'main'}],
    })
  })
})

/** A target made of host files, counting what is read. */
class FakeTarget implements SymbolSource {
  readonly hello = {machine: 'x86_64', release: '6.0.0-test', bootId: `boot-${process.pid}-${Math.random()}`}
  reads: string[] = []
  constructor(private readonly files: Record<string, Buffer>) {}
  private get(path: string): Buffer {
    this.reads.push(path)
    const f = this.files[path]
    if (!f) throw new Error(`ENOENT ${path}`)
    return f
  }
  async readFile(path: string, o: {offset?: number; len?: number} = {}) {
    const f = this.get(path)
    const start = o.offset ?? 0
    const data = Buffer.from(f.subarray(start, start + (o.len ?? f.length)))
    return {data: data as Buffer<ArrayBuffer>, eof: start + data.length >= f.length}
  }
  async readWholeFile(path: string) {
    return this.get(path)
  }
  async stat(path: string) {
    const f = this.files[path]
    if (!f) throw new Error(`ENOENT ${path}`)
    const t = BigInt(this.mtimes[path] ?? 1_700_000_000_000_000_000)
    return {type: 'file' as const, mode: 0o755, major: 254, minor: 0, ino: BigInt(Object.keys(this.files).indexOf(path) + 2), size: f.length, mtimeNs: t, ctimeNs: t}
  }
  /** Modification times by path, to make a file look changed. */
  mtimes: Record<string, number> = {}
}

describe('symbolizer', () => {
  it('names kernel and PIE user addresses, and reads an unchanged ELF once across sessions', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'bpftools-sym-'))
    t.after(() => rmSync(dir, {recursive: true, force: true}))
    writeFileSync(join(dir, 'p.c'), '__attribute__((noinline)) int level_one(int x) { return x + 1; }\nint main(void) { return level_one(1); }\n')
    const exe = join(dir, 'p')
    execFileSync('gcc', ['-g', '-O0', '-fPIE', '-pie', '-Wl,--build-id', '-o', exe, join(dir, 'p.c')])
    const nm = execFileSync('nm', [exe], {encoding: 'utf8'})
    const levelOne = BigInt('0x' + /^([0-9a-f]+) T level_one$/m.exec(nm)![1])
    const elf = readFileSync(exe)
    // Mapped as the loader maps a PIE: the text segment at its file offset.
    const base = 0x555555554000n
    const maps = [
      `${base.toString(16)}-${(base + 0x1000n).toString(16)} r--p 00000000 fe:00 1234 ${exe}`,
      `${(base + 0x1000n).toString(16)}-${(base + 0x2000n).toString(16)} r-xp 00001000 fe:00 1234 ${exe}`,
    ].join('\n')
    const kallsyms = 'ffffffff81000000 T do_syscall_64\nffffffff81000100 T ksys_read\n'
    const files = {'/proc/7/maps': Buffer.from(maps), [`/proc/7/root${exe}`]: elf, '/proc/kallsyms': Buffer.from(kallsyms)}
    const target = new FakeTarget(files)
    const sym = new Symbolizer(target, {cacheDir: dir})
    assert.equal(await sym.kernelFrame(0xffffffff81000105n), 'ksys_read')
    assert.equal(await sym.kernelFrame(0xffffffff81000105n, {offset: true}), 'ksys_read+0x5')
    await sym.loadProcesses([7])
    assert.equal(sym.userFrame(7, base + levelOne + 4n), 'level_one')
    assert.equal(sym.userFrame(7, base + levelOne + 4n, {offset: true}), 'level_one+0x4')
    assert.equal(sym.userFrame(7, 0x1234n), '[unknown]')
    assert.equal(sym.userFrame(8, base + levelOne), '[unknown]')
    assert.ok(target.reads.filter((r) => r.endsWith(exe)).length >= 2, 'the first session reads the head, then the whole file')

    // A new session on the same boot: kallsyms and the ELF's symbols come from the host cache.
    const again = new FakeTarget(files)
    Object.assign(again.hello, {bootId: target.hello.bootId})
    const sym2 = new Symbolizer(again, {cacheDir: dir})
    await sym2.loadProcesses([7])
    assert.equal(await sym2.kernelFrame(0xffffffff81000001n), 'do_syscall_64')
    assert.equal(sym2.userFrame(7, base + levelOne), 'level_one')
    assert.deepEqual(again.reads, ['/proc/7/maps'], 'the ELF is known by its stat: none of it is read')

    // The file changed: its head is read to learn the build-id (the same here, so no more).
    const changed = new FakeTarget(files)
    Object.assign(changed.hello, {bootId: target.hello.bootId})
    changed.mtimes[`/proc/7/root${exe}`] = 1_800_000_000_000_000_000
    const sym3 = new Symbolizer(changed, {cacheDir: dir})
    await sym3.loadProcesses([7])
    assert.equal(sym3.userFrame(7, base + levelOne), 'level_one')
    assert.deepEqual(changed.reads, ['/proc/7/maps', `/proc/7/root${exe}`])

    // The process exits: its maps are gone, the ones read before still resolve.
    delete (files as Record<string, Buffer>)['/proc/7/maps']
    await sym2.loadProcesses([7])
    assert.equal(sym2.userFrame(7, base + levelOne), 'level_one')
  })

  it('still names frames through a bpfd without stat, by each file head', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'bpftools-sym-'))
    t.after(() => rmSync(dir, {recursive: true, force: true}))
    writeFileSync(join(dir, 'p.c'), '__attribute__((noinline)) int level_one(int x) { return x + 1; }\nint main(void) { return level_one(1); }\n')
    const exe = join(dir, 'p')
    execFileSync('gcc', ['-O0', '-fPIE', '-pie', '-Wl,--build-id', '-o', exe, join(dir, 'p.c')])
    const levelOne = BigInt('0x' + /^([0-9a-f]+) T level_one$/m.exec(execFileSync('nm', [exe], {encoding: 'utf8'}))![1])
    const base = 0x555555554000n
    const maps = `${base.toString(16)}-${(base + 0x2000n).toString(16)} r-xp 00000000 fe:00 1234 ${exe}\n`
    const files = {'/proc/7/maps': Buffer.from(maps), [`/proc/7/root${exe}`]: readFileSync(exe)}
    const debug: string[] = []
    const session = () => {
      const target = new FakeTarget(files)
      target.stat = async () => {
        throw new BpfdError('stat', 'ENOSYS', 38, "unknown operation 'stat'")
      }
      return target
    }
    const first = session()
    const sym = new Symbolizer(first, {cacheDir: dir, logger: {info() {}, debug: (m) => debug.push(m)}})
    await sym.loadProcesses([7])
    assert.equal(sym.userFrame(7, base + levelOne), 'level_one')
    assert.equal(debug.filter((m) => m.startsWith('bpfd on the target has no stat')).length, 1)
    const second = session()
    Object.assign(second.hello, {bootId: first.hello.bootId})
    const sym2 = new Symbolizer(second, {cacheDir: dir})
    await sym2.loadProcesses([7])
    assert.equal(sym2.userFrame(7, base + levelOne), 'level_one')
    assert.deepEqual(second.reads, ['/proc/7/maps', `/proc/7/root${exe}`], 'the head, to learn the build-id')
  })

  it('says so once when the target hides kernel addresses', async () => {
    const info: string[] = []
    const target = new FakeTarget({'/proc/kallsyms': Buffer.from('0000000000000000 T do_syscall_64\n0000000000000000 T ksys_read\n')})
    const sym = new Symbolizer(target, {cacheDir: mkdtempSync(join(tmpdir(), 'bpftools-sym-')), logger: {info: (m) => info.push(m), debug() {}}})
    assert.equal(await sym.kernelFrame(0xffffffff81000105n), '[unknown]')
    assert.equal(info.length, 1)
    assert.match(info[0]!, /hides kernel addresses/)
  })
})
