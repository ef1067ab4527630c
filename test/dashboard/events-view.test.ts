// The opensnoop and execsnoop views' totals over decoded events, without a terminal.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ExecStats, processTree} from '../../src/dashboard/execsnoop.js'
import {UNICODE_GLYPHS} from '../../src/dashboard/glyphs.js'
import {filterOpens, OpenStats} from '../../src/dashboard/opensnoop.js'
import type {ExecEvent} from '../../src/tools/execsnoop/event.js'
import type {ExecsnoopOptions} from '../../src/tools/execsnoop/options.js'
import type {OpenEvent} from '../../src/tools/opensnoop/event.js'

const open = (pid: number, comm: string, path: string, ret = 3) => ({
  event: {tsNs: 0n, pid, tid: pid, uid: 0, ret, flags: 0, mode: 0, dfd: -100, syscall: 'openat', comm, path} satisfies OpenEvent,
  line: {firstUs: 0n, arch: 'x86_64', path},
})

describe('opensnoop view', () => {
  it('counts opens and failures per file and per process, busiest first, and rates per second', () => {
    let now = 10_000
    const s = new OpenStats(() => now)
    s.add([open(1, 'a', '/x'), open(1, 'a', '/x'), open(2, 'b', '/y', -2)])
    now = 11_200
    s.add([open(2, 'b', '/y', -2)])
    const v = s.view()
    assert.deepEqual(v.files.map((f) => [f.path, f.opens, f.fails]), [['/y', 2, 2], ['/x', 2, 0]])
    assert.deepEqual(v.processes.map((p) => [p.pid, p.comm, p.opens, p.fails]), [[2, 'b', 2, 2], [1, 'a', 2, 0]])
    assert.deepEqual(v.recent.map((r) => [r.path, r.fd, r.err]), [['/y', -1, 2], ['/y', -1, 2], ['/x', 3, 0], ['/x', 3, 0]])
    assert.equal(v.failures.length, 2)
    assert.deepEqual(v.rate, [3, 1])
    assert.equal(v.opens, 4)
    assert.equal(v.failed, 2)
  })

  it('filters by process name or path, in every table', () => {
    const s = new OpenStats(() => 0)
    s.add([open(1, 'alpha', '/etc/passwd'), open(2, 'beta', '/tmp/other')])
    const byComm = filterOpens(s.view(), 'alp')
    assert.deepEqual(byComm.files.map((f) => f.path), ['/etc/passwd'])
    assert.deepEqual(byComm.processes.map((p) => p.comm), ['alpha'])
    const byPath = filterOpens(s.view(), 'other')
    assert.deepEqual(byPath.processes.map((p) => p.comm), ['beta'])
    assert.deepEqual(byPath.recent.map((r) => r.comm), ['beta'])
  })
})

const OPTIONS: ExecsnoopOptions = {time: false, timestamp: false, failed: true, quote: false, printUid: false, maxArgs: 20}
const exec = (pid: number, ppid: number, comm: string, argv: string[], ret = 0) => ({
  event: {tsNs: 0n, pid, ppid, uid: 0, ret, comm, argv, truncated: false} satisfies ExecEvent,
  line: {elapsedSec: 0, now: new Date(0)},
})

describe('execsnoop view', () => {
  it('lists execs newest first with the words the text prints, and counts commands', () => {
    const s = new ExecStats({...OPTIONS, maxArgs: 2}, () => 0)
    s.add([exec(10, 1, 'sh', ['/bin/sh', '-c', 'x']), exec(11, 10, 'ls', ['/bin/ls'], -2)])
    const v = s.view()
    assert.deepEqual(v.recent.map((r) => [r.pid, r.args]), [[11, '/bin/ls'], [10, '/bin/sh -c ...']])
    assert.deepEqual(v.commands.map((c) => [c.comm, c.execs, c.fails]), [['ls', 1, 1], ['sh', 1, 0]])
    // A failed exec changed no process.
    assert.deepEqual(v.processes.map((p) => p.pid), [10])
  })

  it('draws the processes as a tree under parents that did not exec', () => {
    const s = new ExecStats(OPTIONS, () => 0)
    s.add([exec(10, 1, 'sh', ['/bin/sh']), exec(11, 10, 'make', ['make']), exec(12, 11, 'cc', ['cc', 'a.c']), exec(20, 1, 'top', ['top']), exec(30, 5, 'x', ['x'])])
    const tree = processTree(s.view().processes, '', UNICODE_GLYPHS).map((l) => l.text)
    assert.deepEqual(tree, ['[1]', '└─ 10 /bin/sh', '   └─ 11 make', '      └─ 12 cc a.c', '└─ 20 top', '[5]', '└─ 30 x'])
    const filtered = processTree(s.view().processes, 'cc', UNICODE_GLYPHS)
    assert.deepEqual(filtered.map((l) => [l.text, l.match]), [['[1]', false], ['└─ 10 /bin/sh', false], ['   └─ 11 make', false], ['      └─ 12 cc a.c', true]])
  })

  it('survives a parent that is its own descendant (reused pids)', () => {
    const s = new ExecStats(OPTIONS, () => 0)
    s.add([exec(10, 11, 'a', ['a']), exec(11, 10, 'b', ['b'])])
    assert.deepEqual(processTree(s.view().processes, '', UNICODE_GLYPHS).map((l) => l.text), ['[11]', '└─ 10 a', '   └─ 11 b'])
  })
})
