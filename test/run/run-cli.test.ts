/**
 * `bpftools run` through the built CLI on the real kernel: counting what the
 * test causes, records and bpf_printk lines, JSON, --set and --attach, and a
 * clear one-line error (never a stack trace) for what cannot be loaded.
 */
import assert from 'node:assert/strict'
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {closeSync, mkdtempSync, openSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {compileBpf} from '../../src/compile/index.js'
import {parseElf} from '../../src/object/index.js'
import {TEST_CACHE_DIR} from '../fixtures/fixtures.js'
import {REPO} from '../remote/bpfd-env.js'
import {ARCH, getppid, loaderFixturePath, loaderUnavailable} from '../loader/env.js'

const BPFTOOLS = join(REPO, 'bin', 'bpftools')
const env = {...process.env, BPFTOOLS_CACHE_DIR: TEST_CACHE_DIR}
const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m

type Result = {code: number | null; stdout: string; stderr: string}

/** Runs bpftools; `whenRunning` is called once it says it is running (its programs are attached). */
function bpftools(args: string[], whenRunning?: (child: ChildProcess) => void): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(BPFTOOLS, args, {cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    let ready = false
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
      if (!ready && /Ctrl-C to stop/.test(stderr)) {
        ready = true
        whenRunning?.(child)
      }
    })
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
}

function bpftoolsSync(args: string[]): Result {
  const r = spawnSync(BPFTOOLS, args, {cwd: REPO, env, encoding: 'utf8', timeout: 30_000})
  return {code: r.status, stdout: r.stdout, stderr: r.stderr}
}

const fixture = loaderFixturePath

describe('bpftools run', {skip: loaderUnavailable()}, () => {
  let dir: string
  let probe: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpftools-run-'))
    probe = join(dir, 'opened')
    writeFileSync(probe, '')
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  const openProbe = (n: number) => {
    for (let i = 0; i < n; i++) closeSync(openSync(probe, 'r'))
  }

  it('counts exactly the openat calls the test makes, set up through --set', async () => {
    const r = await bpftools(['run', fixture('counter.bpf.c'), '-d', '2', '--set', `targ_pid=${process.pid}`], () => openProbe(7))
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /^bpftools: attached count_openat to tracepoint syscalls:sys_enter_openat$/m)
    assert.equal(r.stdout, `map counts (hash, 1 entry):\n  KEY${' '.repeat(String(process.pid).length - 1)}VALUE\n  ${process.pid}  7\n`)
  })

  it('stops on Ctrl-C and still prints the maps', async () => {
    const r = await bpftools(['run', fixture('counter.bpf.c'), '--set', `targ_pid=${process.pid}`], (child) => {
      openProbe(2)
      child.kill('SIGINT')
    })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^  ${process.pid}  2$`, 'm'))
  })

  it('runs a compiled object with --attach elsewhere and --json output that parses', async () => {
    const object = (await compileBpf({source: fixture('counter.bpf.c'), arch: ARCH, cacheDir: TEST_CACHE_DIR})).path
    const args = ['run', object, '-d', '1', '--json', '--set', `targ_pid=${process.pid}`, '--attach', 'count_openat=tracepoint/syscalls/sys_enter_getppid']
    const r = await bpftools(args, () => {
      openProbe(2)
      getppid(4)
    })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /attached count_openat to tracepoint syscalls:sys_enter_getppid/)
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)
    assert.deepEqual(lines, [{map: 'counts', type: 'hash', entries: [{key: process.pid, value: 4}]}])
  })

  it('prints ring-buffer records as hex, bpf_printk lines from the trace pipe, and maps decoded through BTF', async () => {
    const r = await bpftools(['run', fixture('printk.bpf.c'), '-d', '1', '--set', `targ_pid=${process.pid}`, '--set', 'tag=hello'], () => getppid(3))
    assert.equal(r.code, 0, r.stderr)
    const pid = Buffer.alloc(4)
    pid.writeUInt32LE(process.pid)
    const lines = r.stdout.split('\n')
    assert.equal(lines.filter((l) => l === `[events] ${pid.toString('hex').replace(/(..)(?!$)/g, '$1 ')}`).length, 3)
    const printed = lines.filter((l) => l.startsWith('[trace_pipe] ') && l.endsWith(`bpf_trace_printk: bpftools-test hello pid ${process.pid}`))
    assert.equal(printed.length, 3, r.stdout)
    assert.match(r.stdout, /^map stats \(array, 1 entry, 1 zero entry not shown\):\n {2}KEY {2}VALUE\n {2}1 {4}\{calls: 3, last: "ppid"\}$/m)
  })

  it('writes records, trace lines and maps as JSON lines with --json', async () => {
    const r = await bpftools(['run', fixture('printk.bpf.c'), '-d', '1', '--json', '--set', `targ_pid=${process.pid}`], () => getppid(2))
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    const events = lines.filter((l) => l.map === 'events' && 'data' in l)
    assert.deepEqual(events.map((e) => Buffer.from(e.data as string, 'base64').readUInt32LE(0)), [process.pid, process.pid])
    assert.equal(lines.filter((l) => typeof l.trace_pipe === 'string' && (l.trace_pipe as string).endsWith(`bpftools-test tag pid ${process.pid}`)).length, 2)
    assert.deepEqual(lines.at(-1), {map: 'stats', type: 'array', entries: [{key: 1, value: {calls: 2, last: 'ppid'}}], zeroEntries: 1})
  })

  it('shows the verifier\'s complaint and the C source line of a rejected program', () => {
    const r = bpftoolsSync(['run', fixture('reject.bpf.c')])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^bpftools: the kernel rejected program 'read_past_end' \(EACCES\): invalid access to map value, value_size=32 off=40 size=8$/m)
    assert.match(r.stderr, /^ {2}at reject\.bpf\.c:20: return v\[5\] == 42; \/\* it holds four \*\/$/m)
    assert.match(r.stderr, /^verifier log:$/m)
    assert.doesNotMatch(r.stderr, STACK_FRAME)
    assert.equal(r.stdout, '')
  })

  describe('malformed objects: one clear line and exit code 1', () => {
    let object: Buffer
    before(async () => {
      object = (await compileBpf({source: fixture('counter.bpf.c'), arch: ARCH, cacheDir: TEST_CACHE_DIR})).object
    })

    const refuse = (file: string, problem: RegExp) => {
      const r = bpftoolsSync(['run', file, '-d', '1'])
      assert.equal(r.code, 1, r.stderr)
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr)
      assert.match(r.stderr, /^bpftools: not a usable BPF object: /)
      assert.match(r.stderr, problem)
      assert.doesNotMatch(r.stderr, STACK_FRAME)
      assert.equal(r.stdout, '')
    }

    it('a truncated object', () => {
      const file = join(dir, 'truncated.o')
      writeFileSync(file, object.subarray(0, Math.floor(object.length / 2)))
      refuse(file, /truncated/)
    })

    it('an ELF file for another machine', () => {
      refuse('/bin/true', /ELF machine is \d+, not EM_BPF \(247\): this is not a BPF object/)
    })

    it('a relocation that names no symbol', () => {
      const elf = parseElf(object)
      const [, rel] = [...elf.relocationSections].find(([target]) => elf.sections[target]!.name.startsWith('tracepoint/'))!
      const bad = Buffer.from(object)
      bad.writeUInt32LE(0xfff0, rel.offset + 12) // r_info's symbol index of the first entry
      const file = join(dir, 'bad-relocation.o')
      writeFileSync(file, bad)
      refuse(file, /relocation 0 refers to symbol 65520, but the symbol table has \d+ entries/)
    })
  })

  it('rejects a --set it cannot apply with exit code 2', () => {
    const unknown = bpftoolsSync(['run', fixture('counter.bpf.c'), '--set', 'no_such=1'])
    assert.equal(unknown.code, 2)
    assert.equal(unknown.stderr, "bpftools: --set no_such=1: no global variable of that name (known: targ_pid)\n")
    const wrong = bpftoolsSync(['run', fixture('counter.bpf.c'), '--set', 'targ_pid=abc'])
    assert.equal(wrong.code, 2)
    assert.equal(wrong.stderr, 'bpftools: --set targ_pid=abc: targ_pid is const volatile __u32; give an integer\n')
    const big = bpftoolsSync(['run', fixture('counter.bpf.c'), '--set', 'targ_pid=-1'])
    assert.equal(big.code, 2)
    assert.match(big.stderr, /does not fit/)
  })
})
