// execsnoop end to end: the built CLI on the real kernel, over `local` and
// over a tcp bpfd, watching a workload that forks and execs on command and
// reports every child it made. Every flag runs as its own tool instance over
// the same workload session; libbpf-tools' execsnoop watches it too for the
// column-by-column comparison.
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {HELPERS_SRC, NOBODY, Scratch, toolsUnavailable} from './helpers/programs.js'
import {startBpftools, startPeer, startTogether, stopAll, stopEveryTool, TRANSPORTS, type Exit, type ToolProcess, type Transport} from './helpers/tool-process.js'
import {killEveryWorkload, Workload} from './helpers/workload.js'

const skip = toolsUnavailable()
const PEER = '/usr/sbin/execsnoop'
const STORM = 1000
const SCRIPT = join(HELPERS_SRC, 'quoted-argv.sh')
/** What quoted-argv.sh execs, argument for argument. */
const QUOTED_ARGV = ['/bin/echo', 'two words', 'say "hi"', "it's", '', 'back\\slash', '  lead', '']
const STORM_ARGV = ['/bin/true', 'arg1', 'arg2']
const MISSING_ARGV = ['/nonexistent/bpft-missing', 'a b', 'c"d']

/** One exec as the workload made it. */
type Exec = {comm: string; pid: number; ppid: number; uid: number; ret: number; argv: string[]}

/** bcc's columns: "%-16s %-6d %-6s %3d %s". */
function bccLine(e: Exec, args = e.argv.join(' ')): string {
  return `${e.comm.padEnd(16)} ${String(e.pid).padEnd(6)} ${String(e.ppid).padEnd(6)} ${String(e.ret).padStart(3)} ${args}`
}

/** bcc's -q: every word in double quotes, inner double quotes escaped. */
function quoted(words: string[]): string {
  return words.map((w) => `"${w.replace(/"/g, '\\"')}"`).join(' ')
}

type Columns = {comm: string; pid: number; ppid: number; ret: number; args: string}

/** PCOMM PID PPID RET ARGS, split on the fixed widths both bcc and libbpf-tools use. */
function tryColumns(line: string): Columns | undefined {
  const m = /^(.{16}) (\d+) +(\d+|\?) +(-?\d+) (.*)$/.exec(line)
  return m ? {comm: m[1]!.trimEnd(), pid: Number(m[2]), ppid: Number(m[3]), ret: Number(m[4]), args: m[5]!} : undefined
}

function parseColumns(line: string): Columns {
  const c = tryColumns(line)
  assert.ok(c, `not a PCOMM PID PPID RET ARGS line: ${JSON.stringify(line)}`)
  return c
}

/**
 * The lines of one parent's children. Other processes' lines are skipped
 * unread: libbpf-tools prints a newline inside an argument as is, so its
 * lines for them need not parse.
 */
function ofParent(t: ToolProcess, ppid: number, skipChars = 0): string[] {
  return t.dataLines.filter((l) => tryColumns(l.slice(skipChars))?.ppid === ppid)
}

type Session = {
  w1: number
  w2: number
  /** In the order they happened: the failed exec, the script's two execs, the storm. */
  execs: Exec[]
  w2execs: Exec[]
  tools: Record<string, ToolProcess>
  peers: Record<string, ToolProcess>
  exits: Record<string, Exit>
  wallStart: number
  wallEnd: number
}

async function runSession(transport: Transport): Promise<Session> {
  const s = new Scratch()
  const tools: Record<string, ToolProcess> = {}
  const peers: Record<string, ToolProcess> = {}
  const workloads: Workload[] = []
  try {
    const program = await s.compile('exec-workload', 'bpft-execwl')
    const {w: w1} = await Workload.start(program, 'bpft-execwl')
    workloads.push(w1)
    const {w: w2} = await Workload.start(program, 'bpft-execwl nobody', {uid: NOBODY, gid: NOBODY})
    workloads.push(w2)
    const p = String(w1.pid)
    const wallStart = Date.now()
    const start = (name: string, args: string[], ready?: RegExp) => startBpftools('execsnoop', args, transport, {label: `execsnoop ${name}`, ready})
    const names = ['plain', '-x', '-q', '-n', '-l', '-l comm', '--max-args', '-T -t -U', '-u', '--json']
    const started = await startTogether([
      start('plain', ['-P', p]),
      start('-x', ['-x', '-P', p]),
      start('-q', ['-q', '--max-args', '7', '-P', p]),
      start('-n', ['-n', '^t.ue$']),
      start('-l', ['-l', 'arg2$']),
      start('-l comm', ['-x', '-l', 'execwl|^/bin/sh ', '-P', p]),
      start('--max-args', ['--max-args', '2', '-P', p]),
      start('-T -t -U', ['-T', '-t', '-U', '-P', p]),
      start('-u', ['-u', String(NOBODY), '-U']),
      start('--json', ['--json', '-x', '-P', p, '--verbose'], /bpftools: attached /),
    ])
    started.forEach((t, i) => (tools[names[i]!] = t))
    const [peer, peerLine] = await startTogether([
      startPeer(PEER, ['-x'], 'libbpf-tools execsnoop -x'),
      startPeer(PEER, ['-x', '-l', 'execwl'], 'libbpf-tools execsnoop -x -l execwl'),
    ])
    peers['-x'] = peer
    peers['-l'] = peerLine
    // libbpf-tools prints its header before it opens its perf buffer, and drops what comes in between:
    // a process of its own fails execs until both peers have shown one.
    const {w: probe} = await Workload.start(program, 'bpft-execwl probe')
    workloads.push(probe)
    const seen = (t: ToolProcess) => ofParent(t, probe.pid).length > 0
    for (let i = 0; !(seen(peer) && seen(peerLine)); i++) {
      assert.ok(i < 50, `libbpf-tools never showed a probe exec\n${peer.report()}\n${peerLine.report()}`)
      await probe.ask('fail')
      await Promise.all([peer, peerLine].map((t) => t.waitFor(() => seen(t), 'probe', 200).catch(() => undefined)))
    }

    const execs: Exec[] = []
    const failed = /^failed (\d+) (\d+)$/.exec(await w1.ask('fail'))
    assert.ok(failed)
    execs.push({comm: 'bpft-execwl', pid: Number(failed[1]), ppid: w1.pid, uid: 0, ret: -Number(failed[2]), argv: MISSING_ARGV})
    const script = /^script (\d+) 0$/.exec(await w1.ask(`script ${SCRIPT}`))
    assert.ok(script, 'the script ran')
    const scriptPid = Number(script[1])
    execs.push({comm: 'sh', pid: scriptPid, ppid: w1.pid, uid: 0, ret: 0, argv: ['/bin/sh', SCRIPT]})
    execs.push({comm: 'echo', pid: scriptPid, ppid: w1.pid, uid: 0, ret: 0, argv: QUOTED_ARGV})
    const stormExecs = async (w: Workload, n: number, uid: number) => {
      const answer = await w.askUntil(`storm ${n}`, (l) => l.startsWith('done '))
      assert.equal(answer.at(-1), `done ${n}`)
      return answer.slice(0, -1).map((l) => {
        const m = /^child (\d+)$/.exec(l)
        assert.ok(m, l)
        return {comm: 'true', pid: Number(m[1]), ppid: w.pid, uid, ret: 0, argv: STORM_ARGV}
      })
    }
    const w2execs = await stormExecs(w2, 3, NOBODY)
    execs.push(...(await stormExecs(w1, STORM, 0)))
    const ok = execs.filter((e) => e.ret === 0)

    const count = (t: ToolProcess, n: number, pick: (t: ToolProcess) => string[] = (x) => x.dataLines) =>
      t.waitFor(() => pick(t).length >= n, `${n} lines`, 30000)
    await Promise.all([
      count(tools.plain!, ok.length),
      count(tools['-x']!, execs.length),
      count(tools['-q']!, ok.length),
      count(tools['-n']!, STORM, (t) => ofParent(t, w1.pid)),
      count(tools['-l']!, STORM, (t) => ofParent(t, w1.pid)),
      count(tools['-l comm']!, 1),
      count(tools['--max-args']!, ok.length),
      count(tools['-T -t -U']!, ok.length),
      count(tools['-u']!, w2execs.length, (t) => ofParent(t, w2.pid, 6)),
      count(tools['--json']!, execs.length, (t) => t.lines),
      count(peer, execs.length, (t) => ofParent(t, w1.pid)),
      count(peerLine, 1, (t) => ofParent(t, w1.pid)),
    ])
    await new Promise((r) => setTimeout(r, 200))
    const exits: Record<string, Exit> = {}
    await Promise.all(Object.entries(tools).map(async ([name, t]) => (exits[name] = await t.stop())))
    await stopAll(Object.values(peers))
    return {w1: w1.pid, w2: w2.pid, execs, w2execs, tools, peers, exits, wallStart, wallEnd: Date.now()}
  } catch (e) {
    await stopAll([...Object.values(tools), ...Object.values(peers)])
    throw e
  } finally {
    await Promise.all(workloads.map((w) => w.end().catch(() => w.kill())))
    s.remove()
  }
}

function clock(ms: number): string {
  const d = new Date(ms)
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':')
}

for (const transport of TRANSPORTS) {
  describe(`execsnoop over ${transport}`, {skip}, () => {
    let session: Session
    before(async () => {
      session = await runSession(transport)
    }, {timeout: 90000})
    after(async () => {
      await stopEveryTool()
      killEveryWorkload()
    })

    const tool = (name: string) => session.tools[name]!
    const succeeded = () => session.execs.filter((e) => e.ret === 0)

    it(`shows all ${STORM} forked execs of /bin/true with their literal arguments and PPID, and the script's exact argv`, () => {
      const t = tool('plain')
      assert.equal(t.header, 'PCOMM            PID    PPID   RET ARGS', t.report())
      assert.equal(succeeded().filter((e) => e.comm === 'true').length, STORM)
      assert.deepEqual(t.dataLines, succeeded().map((e) => bccLine(e)), t.report())
      assert.equal(session.exits.plain!.code, 0, t.report())
      assert.ok(t.dataLines.every((l) => parseColumns(l).args !== ''), 'never empty arguments')
    })

    it('-x: adds the failed exec with its negative return and its arguments', () => {
      const t = tool('-x')
      assert.deepEqual(t.dataLines, session.execs.map((e) => bccLine(e)), t.report())
      assert.equal(t.dataLines[0], bccLine({comm: 'bpft-execwl', pid: session.execs[0]!.pid, ppid: session.w1, uid: 0, ret: -2, argv: MISSING_ARGV}))
    })

    it('-q: every argument in double quotes, inner quotes escaped, the ellipsis too, as bcc', () => {
      const t = tool('-q')
      const cut = (e: Exec) => (e.argv.length > 7 ? [...e.argv.slice(0, 7), '...'] : e.argv)
      assert.deepEqual(t.dataLines, succeeded().map((e) => bccLine(e, quoted(cut(e)))), t.report())
      assert.ok(t.dataLines.includes(bccLine(session.execs[2]!, '"/bin/echo" "two words" "say \\"hi\\"" "it\'s" "" "back\\slash" "  lead" "..."')), t.report())
      assert.ok(t.dataLines.at(-1)!.endsWith(' "/bin/true" "arg1" "arg2"'), t.report())
    })

    it('-n: a regular expression on the command name, not the arguments', () => {
      const t = tool('-n')
      assert.ok(t.dataLines.every((l) => /^t.ue$/.test(parseColumns(l).comm)), t.report())
      assert.deepEqual(ofParent(t, session.w1), succeeded().filter((e) => e.comm === 'true').map((e) => bccLine(e)), t.report())
    })

    it('-l: a regular expression on the arguments, not the command name (unlike libbpf-tools)', () => {
      const t = tool('-l')
      assert.ok(t.dataLines.every((l) => /arg2$/.test(parseColumns(l).args)), t.report())
      assert.deepEqual(ofParent(t, session.w1), succeeded().filter((e) => e.comm === 'true').map((e) => bccLine(e)), t.report())
      // The failed exec's command name contains "execwl" and its arguments do not: we skip it, libbpf-tools shows it.
      const byArgs = tool('-l comm')
      assert.deepEqual(byArgs.dataLines, [bccLine(session.execs[1]!)], byArgs.report())
      const peer = session.peers['-l']!
      assert.deepEqual(ofParent(peer, session.w1).map((l) => parseColumns(l).pid), [session.execs[0]!.pid], peer.report())
    })

    // bcc also prints "..." when argv has exactly --max-args words, though nothing was cut; we do not.
    it('--max-args 2: at most two words, then "..."', () => {
      const t = tool('--max-args')
      const cut = (e: Exec) => (e.argv.length > 2 ? [...e.argv.slice(0, 2), '...'] : e.argv).join(' ')
      assert.deepEqual(t.dataLines, succeeded().map((e) => bccLine(e, cut(e))), t.report())
      assert.ok(t.dataLines.at(-1)!.endsWith(' /bin/true arg1 ...'))
    })

    it('-T: wall clock HH:MM:SS; -t: seconds since start; -U: the UID', () => {
      const t = tool('-T -t -U')
      assert.equal(t.header, 'TIME     TIME(s) UID   PCOMM            PID    PPID   RET ARGS', t.report())
      const clocks = new Set<string>()
      for (let ms = session.wallStart - 1000; ms <= session.wallEnd + 1000; ms += 500) clocks.add(clock(ms))
      const ran = (t.readyAtMs - t.spawnedAtMs) / 1000 + (session.wallEnd - session.wallStart) / 1000 + 1
      let last = 0
      for (const l of t.dataLines) {
        assert.ok(clocks.has(l.slice(0, 8)) && l[8] === ' ', `${JSON.stringify(l.slice(0, 9))} is not a time of the run\n${t.report()}`)
        assert.match(l.slice(9, 17), /^\d+\.\d{3} *$/, t.report())
        const s = Number(l.slice(9, 17))
        assert.ok(s >= last && s <= ran, `TIME(s) ${s} after ${last}, run ${ran}\n${t.report()}`)
        last = s
        assert.equal(l.slice(17, 23), '0     ', t.report())
      }
      assert.deepEqual(t.dataLines.map((l) => l.slice(23)), succeeded().map((e) => bccLine(e)), t.report())
    })

    it('-u: only that user\'s execs', () => {
      const t = tool('-u')
      assert.ok(t.dataLines.every((l) => l.startsWith(`${String(NOBODY).padEnd(6)}`)), t.report())
      assert.deepEqual(ofParent(t, session.w2, 6), session.w2execs.map((e) => `${String(NOBODY).padEnd(6)}${bccLine(e)}`), t.report())
      assert.deepEqual(ofParent(t, session.w1, 6), [], t.report())
    })

    it('--json: one object per line carrying the same facts as the text', () => {
      const t = tool('--json')
      const objects = t.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
      const facts = objects.map((j) => ({comm: j.comm, pid: j.pid, ppid: j.ppid, uid: j.uid, ret: j.ret, argv: j.argv}))
      assert.deepEqual(facts, session.execs, t.report())
      const text = tool('-x').dataLines.map(parseColumns)
      assert.deepEqual(objects.map((j) => ({comm: j.comm, pid: j.pid, ppid: j.ppid, ret: j.ret, args: (j.argv as string[]).join(' ')})), text)
      for (const j of objects) {
        assert.equal(typeof j.time, 'number')
        assert.equal(j.truncated, false)
      }
    })

    it('matches libbpf-tools\' execsnoop column by column', (ctx) => {
      const peer = session.peers['-x']!
      // libbpf-tools reads per-CPU perf buffers, so its lines come out of order across CPUs:
      // match them by process and command name.
      const key = (c: Columns) => `${c.pid} ${c.comm}`
      const ours = tool('-x').dataLines.map(parseColumns)
      const theirs = new Map(ofParent(peer, session.w1).map((l) => [key(parseColumns(l)), parseColumns(l)]))
      assert.deepEqual([...theirs.keys()].sort(), ours.map(key).sort(), peer.report())
      let complete = 0
      let partial = 0
      ours.forEach((o, i) => {
        const c = theirs.get(key(o))!
        assert.deepEqual({comm: c.comm, pid: c.pid, ppid: c.ppid, ret: c.ret}, {comm: o.comm, pid: o.pid, ppid: o.ppid, ret: o.ret}, `line ${i}\n${peer.report()}`)
        // libbpf-tools ends every argument with a space, the last one too.
        const args = c.args.endsWith(' ') ? c.args.slice(0, -1) : c.args
        // It reads argv at execve entry and prints an empty word for each string not paged in yet (a
        // fresh child's literals), and may stop early: every word it has must be ours, in its place.
        const argv = session.execs[i]!.argv
        assert.equal(o.args, argv.join(' '))
        const escape = (w: string) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
        const words = new RegExp(`^${argv.reduceRight((rest, w, k) => `${k ? ' ' : ''}(?:${escape(w)})?${rest ? `(?:${rest})?` : ''}`, '')}$`)
        assert.match(args, words, `line ${i}: not a masked ${JSON.stringify(argv)}\n${peer.report()}`)
        if (args === o.args) complete++
        else if (args.replace(/ /g, '') !== '') partial++
      })
      ctx.diagnostic(`libbpf-tools printed complete arguments for ${complete} of ${ours.length} execs, some of them for ${partial}; we printed all of them`)
      // The script's echo has its arguments on the shell's heap: libbpf-tools has those to compare.
      assert.ok(complete >= 1, peer.report())
      assert.ok(ours.every((c) => c.args !== ''))
    })
  })
}
