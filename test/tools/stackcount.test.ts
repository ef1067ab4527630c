// stackcount against this machine's kernel through a real bpfd: a workload
// with a known call chain and frame pointers makes a known number of
// syscalls, and the printed stacks must name its functions and count them.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {after, before, describe, it} from 'node:test'
import {parseFolded} from '../../src/output/folded.js'
import {runStackcount} from '../../src/tools/stackcount/run.js'
import type {StackcountOptions} from '../../src/tools/stackcount/options.js'
import {connectTo, destroyLeftovers} from '../remote/bpfd-env.js'
import {BPFTOOLS, toolsUnavailable} from './helpers/programs.js'
import {ToolProcess} from './helpers/tool-process.js'
import {Workload} from './helpers/workload.js'

// glibc's open() uses the frame pointer register as scratch, which breaks a
// frame-pointer walk at its first frame; its syscall() keeps it, so the walk
// goes on to syscall()'s caller's caller (syscall() makes no frame of its
// own, which hides level_two).
const WORKLOAD_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((noinline)) void level_two(const char *path)
{
	long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
	if (fd >= 0)
		close(fd);
}

__attribute__((noinline)) void level_one(const char *path)
{
	level_two(path);
}

/* One distinct user stack per value of bits: each level calls down from one of two call sites. */
__attribute__((noinline)) void branch(unsigned bits, int depth)
{
	if (depth == 0) {
		syscall(SYS_getppid);
		return;
	}
	if (bits & 1)
		branch(bits >> 1, depth - 1);
	else
		branch(bits >> 1, depth - 1);
}

int main(void)
{
	char line[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", getpid());
	while (fgets(line, sizeof(line), stdin)) {
		long n = strtol(line + 5, NULL, 10);

		if (!strncmp(line, "open ", 5))
			for (long i = 0; i < n; i++)
				level_one("/dev/null");
		else if (!strncmp(line, "tree ", 5))
			for (unsigned i = 0; i < (1u << n); i++)
				branch(i, (int)n);
		printf("done %ld\n", n);
	}
	return 0;
}
`

const OPENS = 37
const COMM = 'stackwl'

/** The stacks of bcc's text output: frame lines, then the count. */
function textStacks(stdout: string): {frames: string[]; count: number}[] {
  const body = stdout.split('\n').filter((l) => !l.startsWith('Tracing ') && l !== 'Detaching...')
  const out: {frames: string[]; count: number}[] = []
  let frames: string[] = []
  for (const line of body) {
    if (line === '') continue
    if (/^ {4}\d+$/.test(line)) {
      out.push({frames, count: Number(line)})
      frames = []
    } else {
      frames.push(line)
    }
  }
  return out
}

/** Tags balance and every attribute value is quoted: enough to catch a broken writer. */
function assertWellFormedXml(xml: string): void {
  assert.ok(xml.startsWith('<?xml'), 'an XML declaration first')
  const body = xml.replace(/<\?xml[^>]*\?>/, '').replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '')
  const stack: string[] = []
  for (const m of body.matchAll(/<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>|<(?!\/?[A-Za-z])/g)) {
    assert.ok(m[2], `a stray '<' at ${m.index}`)
    if (m[1]) assert.equal(stack.pop(), m[2], `</${m[2]}> at ${m.index} closes the open element`)
    else if (!m[4]) stack.push(m[2]!)
  }
  assert.deepEqual(stack, [], 'every element is closed')
}

describe('stackcount (real kernel)', {skip: toolsUnavailable()}, () => {
  let dir: string
  let exe: string
  let w: Workload

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bpftools-stackcount-'))
    writeFileSync(join(dir, 'wl.c'), WORKLOAD_C)
    exe = join(dir, COMM)
    await promisify(execFile)('gcc', ['-g', '-O0', '-fno-omit-frame-pointer', '-o', exe, join(dir, 'wl.c')])
    ;({w} = await Workload.start(exe, COMM))
  })

  after(async () => {
    w?.kill()
    destroyLeftovers()
    rmSync(dir, {recursive: true, force: true})
  })

  /** Runs the CLI until it has attached, makes the workload open files, then stops it as Ctrl-C does. */
  async function stackcount(args: string[]): Promise<ToolProcess> {
    const t = await ToolProcess.start([BPFTOOLS, 'stackcount', '--verbose', ...args], {label: 'stackcount', ready: /attached to \d+ of \d+ probes/})
    try {
      assert.equal(await w.ask(`open ${OPENS}`), `done ${OPENS}`)
    } finally {
      await t.stop()
    }
    return t
  }

  it('-p: kernel and user stacks with the workload\'s functions in call order, counted exactly', async () => {
    const t = await stackcount(['-p', String(w.pid), '-d', 't:syscalls:sys_enter_openat'])
    assert.equal(t.header, 'Tracing 1 functions for "t:syscalls:sys_enter_openat"... Hit Ctrl-C to end.', t.report())
    assert.equal(t.lines.at(-1), 'Detaching...', t.report())
    const mine = textStacks(t.stdout).filter((s) => s.frames.includes('  level_one'))
    assert.equal(mine.length, 1, t.report())
    const {frames, count} = mine[0]!
    assert.equal(count, OPENS, t.report())
    const at = (f: string) => frames.indexOf(`  ${f}`)
    const delim = frames.indexOf('    --')
    assert.ok(delim > 0, t.report())
    assert.ok(at('do_syscall_64') >= 0 && at('do_syscall_64') < delim, `a kernel syscall entry frame before the delimiter\n${t.report()}`)
    assert.ok(delim < at('syscall') && at('syscall') < at('level_one') && at('level_one') < at('main'), `user frames leaf first: syscall, level_one, main\n${t.report()}`)
    // -p names the process already.
    assert.ok(!frames.some((f) => f.includes(`[${w.pid}]`)), t.report())
    assert.match(t.stderr, /local: \d+ requests in \d+ round trips/)
  })

  it('-K -P: kernel frames only, with the process name and PID', async () => {
    const t = await stackcount(['-K', '-P', 't:syscalls:sys_enter_openat'])
    const mine = textStacks(t.stdout).filter((s) => s.frames.includes(`    ${COMM} [${w.pid}]`))
    assert.ok(mine.length >= 1, t.report())
    const total = mine.reduce((a, s) => a + s.count, 0)
    assert.ok(total >= OPENS, `${total} counted\n${t.report()}`)
    const frames = mine.flatMap((s) => s.frames.slice(0, -1))
    assert.ok(frames.some((f) => /^ {2}(do_syscall_64|entry_SYSCALL_64\w*)$/.test(f)), t.report())
    assert.ok(!frames.includes('  level_one') && !frames.includes('    --'), t.report())
  })

  it('-U -s: user frames only, with offsets', async () => {
    const t = await stackcount(['-U', '-s', '-p', String(w.pid), 't:syscalls:sys_enter_openat'])
    const [s] = textStacks(t.stdout)
    assert.ok(s, t.report())
    assert.equal(s.count, OPENS, t.report())
    assert.match(s.frames.join('\n'), /^ {2}syscall\+0x[0-9a-f]+\n {2}level_one\+0x[0-9a-f]+\n {2}main\+0x[0-9a-f]+$/m, t.report())
    assert.ok(!s.frames.some((f) => f.includes('do_syscall_64')), t.report())
  })

  it('-f -d -s --svg: folded lines that load into the flame graph, and an SVG naming the frames', async () => {
    const svg = join(dir, 'flame.svg')
    const t = await stackcount(['-p', String(w.pid), '-f', '-d', '-s', '--svg', svg, 't:syscalls:sys_enter_openat'])
    assert.ok(!t.stdout.includes('Tracing ') && !t.stdout.includes('Detaching'), t.report())
    // bcc's folded lines name frames without offsets, -s or not.
    assert.ok(!t.stdout.includes('+0x'), t.report())
    const folded = parseFolded(t.stdout)
    const mine = folded.find((s) => s.frames.includes('level_one'))
    assert.ok(mine, t.report())
    assert.equal(mine.count, OPENS)
    const f = mine.frames
    assert.equal(f[0], COMM, 'the process at the root')
    assert.ok(f.indexOf('main') < f.indexOf('level_one') && f.indexOf('level_one') < f.indexOf('syscall'), 'root first')
    assert.ok(f.indexOf('syscall') < f.indexOf('-') && f.indexOf('-') < f.indexOf('do_syscall_64'), 'the delimiter between user and kernel frames')
    const xml = readFileSync(svg, 'utf8')
    assertWellFormedXml(xml)
    const titles = [...xml.matchAll(/<title>([^<]*)<\/title>/g)].map((m) => m[1]!)
    for (const name of [COMM, 'main', 'level_one', 'do_syscall_64']) assert.ok(titles.some((x) => x.startsWith(`${name} (`)), `a frame titled ${name}`)
  })

  it('-f: two processes of one name with one stack give two equal lines, as bcc keys them by process', async () => {
    const {w: w2} = await Workload.start(exe, `${COMM} 2`)
    try {
      const t = await ToolProcess.start([BPFTOOLS, 'stackcount', '--verbose', '-f', 't:syscalls:sys_enter_openat'], {label: 'stackcount', ready: /attached to \d+ of \d+ probes/})
      try {
        assert.equal(await w.ask(`open ${OPENS}`), `done ${OPENS}`)
        assert.equal(await w2.ask(`open ${OPENS}`), `done ${OPENS}`)
      } finally {
        await t.stop()
      }
      const mine = t.stdout.split('\n').filter((l) => l.includes(';level_one;'))
      assert.equal(mine.length, 2, t.report())
      assert.equal(mine[0], mine[1], t.report())
      assert.match(mine[0]!, new RegExp(`^${COMM};(?:[^ ]*;)?main;level_one;[^ ]*;do_syscall_64(?:;[^ ]*)? ${OPENS}$`), t.report())
    } finally {
      w2.kill()
    }
  })

  it('-K -p -f: kernel stacks not keyed by process start with an empty name, as bcc', async () => {
    const t = await stackcount(['-K', '-p', String(w.pid), '-f', '-d', 't:syscalls:sys_enter_openat'])
    assert.equal(t.lines.length, 1, t.report())
    const [line] = parseFolded(t.stdout)
    assert.equal(line?.count, OPENS, t.report())
    assert.equal(line.frames[0], '', t.report())
    assert.ok(line.frames.includes('do_syscall_64') && !line.frames.includes('-') && !line.frames.includes(COMM), t.report())
  })

  it('u:PATH:FUNC: uprobes on the workload\'s own function', async () => {
    const t = await stackcount(['-U', '-p', String(w.pid), `u:${exe}:level_two`])
    assert.equal(t.header, `Tracing 1 functions for "u:${exe}:level_two"... Hit Ctrl-C to end.`, t.report())
    const [s] = textStacks(t.stdout)
    assert.ok(s, t.report())
    assert.equal(s.count, OPENS, t.report())
    // At a function's first instruction its frame is not made yet: older
    // kernels' walk skips its caller there, newer ones take it from the stack.
    assert.equal(s.frames[0], '  level_two', t.report())
    const main = s.frames.indexOf('  main')
    assert.ok(main === 1 || (main === 2 && s.frames[1] === '  level_one'), t.report())
  })

  it('says plainly when the target has no kprobes', {skip: existsSync('/sys/bus/event_source/devices/kprobe') ? 'this kernel has kprobes' : false}, async () => {
    const r = await promisify(execFile)(BPFTOOLS, ['stackcount', 'k:vfs_read']).then(
      () => assert.fail('stackcount k:vfs_read succeeded'),
      (e: {code: number; stderr: string}) => e,
    )
    assert.equal(r.code, 1)
    assert.match(r.stderr, /no kprobes/)
    assert.match(r.stderr, /t:syscalls:sys_enter_read/)
  })

  it('reads a map of more than 5,000 stacks in a few round trips', async () => {
    const client = await connectTo('local')
    const options: StackcountOptions = {
      pattern: 't:syscalls:sys_enter_getppid', pid: w.pid, userOnly: true, maxStacks: 65536,
      timestamp: false, regexp: false, offset: false, perPid: false, kernelOnly: false, verbose: false, delimited: false, folded: false,
    }
    const abort = new AbortController()
    let out = ''
    let readyTrips = 0
    let ready!: () => void
    const attached = new Promise<void>((r) => (ready = r))
    const run = runStackcount(client, options, {
      json: true,
      signal: abort.signal,
      write: (s) => void (out += s),
      onReady: () => {
        readyTrips = client.stats.roundTrips
        ready()
      },
    })
    await Promise.race([attached, run])
    assert.equal(await w.ask('tree 13'), 'done 13')
    abort.abort()
    const result = await run
    const trips = client.stats.roundTrips - readyTrips
    await client.close()
    const stacks = out.trim().split('\n').map((l) => JSON.parse(l) as {count: number; user_stack: {symbol: string}[]})
    assert.ok(stacks.length > 5000, `${stacks.length} distinct stacks`)
    assert.equal(result.events, 8192)
    // 14 calls of branch(), the last hidden behind the frameless syscall().
    const named = stacks.filter((s) => s.user_stack.filter((f) => f.symbol === 'branch').length === 13 && s.user_stack.some((f) => f.symbol === 'main'))
    assert.ok(named.length > 5000, `${named.length} stacks with every frame named; one is ${JSON.stringify(stacks[0])}`)
    assert.ok(trips < 10, `reading, naming and releasing took ${trips} round trips`)
  })
})
