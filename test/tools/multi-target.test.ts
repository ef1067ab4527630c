// Several targets at once, end to end: `local` and a tcp bpfd on loopback
// are the same machine, so each must report every event a workload causes,
// each labelled with its own target; a target whose bpfd is killed is
// reported and the other keeps tracing.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {closeSync, openSync, writeFileSync} from 'node:fs'
import {promisify} from 'node:util'
import {after, before, describe, it} from 'node:test'
import {BPFTOOLS, Scratch, toolsUnavailable} from './helpers/programs.js'
import {Bpfd, stopEveryTool, ToolProcess} from './helpers/tool-process.js'
import {killEveryWorkload, Workload} from './helpers/workload.js'
import {loaderFixturePath} from '../loader/env.js'

const run = promisify(execFile)
const COMM = 'bpft-mtopen'

describe('several targets at once (local and tcp on loopback)', {skip: toolsUnavailable()}, () => {
  let s: Scratch
  let program: string
  const bpfds: Bpfd[] = []

  before(async () => {
    s = new Scratch('bpftools-multi-')
    program = await s.compile('open-workload', COMM)
  })

  after(async () => {
    await stopEveryTool()
    killEveryWorkload()
    await Promise.all(bpfds.map((b) => b.stop()))
    s.remove()
  })

  async function tcpBpfd(): Promise<Bpfd> {
    const b = await Bpfd.start()
    bpfds.push(b)
    return b
  }

  /** A file of its own, so its path names this test's open and nothing else. */
  function uniqueFile(name: string): string {
    const path = s.path(`${name}-${process.pid}-${Date.now()}`)
    writeFileSync(path, 'x')
    return path
  }

  it('opensnoop: one header with a TARGET column, and every open on each target labelled with it', async () => {
    const bpfd = await tcpBpfd()
    const {w, ready} = await Workload.start(program, COMM)
    const pid = Number(ready[0])
    const tool = await ToolProcess.start([BPFTOOLS, 'opensnoop', '-p', String(pid), '-r', 'local', '-r', bpfd.remote], {label: 'opensnoop x2', bpfd})
    try {
      const width = Math.max(6, bpfd.remote.length)
      assert.equal(tool.header, `${'TARGET'.padEnd(width)} PID    COMM               FD ERR PATH`)
      const path = uniqueFile('opened')
      const fd = Number(/^ok (\d+)$/.exec(await w.ask(`open\t${path}`))![1])
      const line = (target: string) => `${target.padEnd(width)} ${String(pid).padEnd(6)} ${COMM.padEnd(16)} ${String(fd).padStart(4)}   0 ${path}`
      await tool.waitFor(() => tool.lines.includes(line('local')) && tool.lines.includes(line(bpfd.remote)), 'the open from both targets')
      // The header is printed once, whatever the number of targets.
      assert.equal(tool.lines.filter((l) => l.includes('PATH')).length, 1, tool.report())
    } finally {
      w.kill()
      const exit = await tool.stop()
      assert.equal(exit.code, 0, tool.report())
    }
  })

  it('opensnoop --json: a target field first in every object', async () => {
    const bpfd = await tcpBpfd()
    const {w, ready} = await Workload.start(program, COMM)
    const pid = Number(ready[0])
    const tool = await ToolProcess.start([BPFTOOLS, 'opensnoop', '--json', '--verbose', '-p', String(pid), '-r', 'local', '-r', bpfd.remote], {
      label: 'opensnoop --json x2',
      bpfd,
      ready: /attached/,
    })
    try {
      // Each target says when it is attached; wait for both.
      await tool.waitFor(() => (tool.stderr.match(/^bpftools: (local|tcp:\S+): attached /gm) ?? []).length === 2, 'both targets attached')
      const path = uniqueFile('json')
      await w.ask(`open\t${path}`)
      const mine = () => tool.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => o.path === path)
      await tool.waitFor(() => mine().length === 2, 'the open from both targets')
      assert.deepEqual(mine().map((o) => o.target).sort(), ['local', bpfd.remote].sort())
      for (const o of mine()) {
        assert.equal(Object.keys(o)[0], 'target')
        assert.equal(o.pid, pid)
        assert.equal(o.comm, COMM)
      }
    } finally {
      w.kill()
      await tool.stop()
    }
  })

  it('execsnoop: each target reports the exec, labelled', async () => {
    const bpfd = await tcpBpfd()
    const name = 'bpft-mtexec'
    const exe = s.copy('/bin/true', name)
    const tool = await ToolProcess.start([BPFTOOLS, 'execsnoop', '-n', name, '-r', bpfd.remote, '-r', 'local'], {label: 'execsnoop x2', bpfd})
    try {
      const width = Math.max(6, bpfd.remote.length)
      assert.equal(tool.header, `${'TARGET'.padEnd(width)} PCOMM            PID    PPID   RET ARGS`)
      const arg = `multi-${process.pid}`
      await run(exe, [arg])
      const lines = (target: string) => tool.lines.filter((l) => l.startsWith(`${target.padEnd(width)} ${name.padEnd(16)} `) && l.endsWith(` 0 ${exe} ${arg}`))
      await tool.waitFor(() => lines('local').length === 1 && lines(bpfd.remote).length === 1, 'the exec from both targets')
      // Same machine, same exec: the same pid and parent on both.
      assert.equal(lines('local')[0]!.slice(width), lines(bpfd.remote)[0]!.slice(width))
    } finally {
      await tool.stop()
    }
  })

  it('a tcp bpfd killed mid-run is reported; local keeps tracing; the exit code says a target failed', async () => {
    const bpfd = await tcpBpfd()
    const {w, ready} = await Workload.start(program, COMM)
    const pid = Number(ready[0])
    const tool = await ToolProcess.start([BPFTOOLS, 'opensnoop', '-p', String(pid), '-r', 'local', '-r', bpfd.remote], {label: 'opensnoop x2, one killed'})
    try {
      const width = Math.max(6, bpfd.remote.length)
      const seen = (target: string, path: string) => tool.lines.some((l) => l.startsWith(`${target.padEnd(width)} ${String(pid).padEnd(6)} `) && l.endsWith(` ${path}`))
      const before = uniqueFile('before')
      await w.ask(`open\t${before}`)
      await tool.waitFor(() => seen('local', before) && seen(bpfd.remote, before), 'the first open from both targets')

      bpfd.child.kill('SIGKILL')
      await tool.waitFor(() => tool.stderr.includes(`bpftools: ${bpfd.remote}: `), 'the dead target reported')
      assert.match(tool.stderr, new RegExp(`^bpftools: ${bpfd.remote.replace(/[.]/g, '\\.')}: connection to ${bpfd.remote.replace(/[.]/g, '\\.')} closed`, 'm'))

      const after = uniqueFile('after')
      await w.ask(`open\t${after}`)
      await tool.waitFor(() => seen('local', after), 'an open after the kill, from local')
      assert.ok(!seen(bpfd.remote, after), tool.report())
      assert.equal(tool.child.exitCode, null, 'still running on the target that is alive')
    } finally {
      w.kill()
    }
    const exit = await tool.stop()
    // 3: a target could not be reached or its connection died.
    assert.equal(exit.code, 3, tool.report())
    assert.equal(tool.stderr.split('\n').filter((l) => l.startsWith(`bpftools: ${bpfd.remote}: `)).length, 1, tool.report())
  })

  it('a target that cannot be reached is reported and the others trace', async () => {
    const {w, ready} = await Workload.start(program, COMM)
    const pid = Number(ready[0])
    // Port 1 on loopback: nothing listens there.
    const tool = await ToolProcess.start([BPFTOOLS, 'opensnoop', '-p', String(pid), '-r', 'tcp:127.0.0.1:1', '-r', 'local'], {label: 'opensnoop, one unreachable'})
    try {
      assert.equal(tool.header, 'TARGET          PID    COMM               FD ERR PATH')
      assert.match(tool.stderr, /^bpftools: tcp:127\.0\.0\.1:1: cannot connect: connect ECONNREFUSED 127\.0\.0\.1:1$/m)
      const path = uniqueFile('reachable')
      await w.ask(`open\t${path}`)
      await tool.waitFor(() => tool.lines.some((l) => l.startsWith('local           ') && l.endsWith(` ${path}`)), 'the open from local')
    } finally {
      w.kill()
    }
    const exit = await tool.stop()
    assert.equal(exit.code, 3, tool.report())
  })

  it('run: the records of each target labelled with it', async () => {
    const bpfd = await tcpBpfd()
    const width = Math.max(6, bpfd.remote.length)
    const path = uniqueFile('run')
    const args = ['run', loaderFixturePath('openat.bpf.c'), '-d', '3', '--set', `targ_pid=${process.pid}`, '-r', 'local', '-r', bpfd.remote]
    const tool = await ToolProcess.start([BPFTOOLS, ...args], {label: 'run x2', bpfd, ready: /Ctrl-C to stop/})
    await tool.waitFor(() => (tool.stderr.match(/^bpftools: (local|tcp:\S+): running for 3 s; Ctrl-C to stop$/gm) ?? []).length === 2, 'both targets running')
    for (let i = 0; i < 3; i++) closeSync(openSync(path, 'r'))
    const exit = await tool.exited
    assert.equal(exit.code, 0, tool.report())
    // struct open_event: pid, length with the NUL, the name.
    const head = Buffer.alloc(8)
    head.writeUInt32LE(process.pid, 0)
    head.writeInt32LE(path.length + 1, 4)
    const hex = (b: Buffer) => b.toString('hex').replace(/(..)(?!$)/g, '$1 ')
    const record = `[opens] ${hex(Buffer.concat([head, Buffer.from(path)]))} 00`
    for (const target of ['local', bpfd.remote]) {
      assert.equal(tool.lines.filter((l) => l.startsWith(`${target.padEnd(width)} ${record}`)).length, 3, tool.report())
    }
  })
})
