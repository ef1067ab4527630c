// A target without privilege beside one that has it: the one is reported
// once, naming it, the other traces as if alone, and the exit code at the
// end is the privilege one (4). Both sides of "no privilege" are covered:
// bpfd running as nobody on the target, and bpftools itself not root for
// `local`.
import assert from 'node:assert/strict'
import {chownSync, mkdirSync, writeFileSync} from 'node:fs'
import {after, before, describe, it} from 'node:test'
import {ExitCode} from '../../src/cli/exit-codes.js'
import {BPFTOOLS, NOBODY, Scratch, toolsUnavailable} from './helpers/programs.js'
import {BPFD, Bpfd, stopEveryTool, ToolProcess} from './helpers/tool-process.js'
import {killEveryWorkload, Workload} from './helpers/workload.js'

const COMM = 'bpft-mtpriv'
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups']
/** A bpfd that runs as nobody: every BPF request it makes is refused. */
const UNPRIVILEGED = `shell:${AS_NOBODY.join(' ')} ${BPFD}`
const REFUSED = `bpfd runs as uid ${NOBODY} on the target, and BPF needs root (or CAP_BPF with CAP_PERFMON)`

/** The lines of `stderr` that report a failure of `target`. */
function reports(stderr: string, target: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith(`bpftools: ${target}: `))
}

describe('a target without privilege beside one with it', {skip: toolsUnavailable()}, () => {
  let s: Scratch
  let program: string
  let w: Workload
  let pid: number

  before(async () => {
    s = new Scratch('bpftools-multi-priv-')
    program = await s.compile('open-workload', COMM)
    const started = await Workload.start(program, COMM)
    w = started.w
    pid = Number(started.ready[0])
  })

  after(async () => {
    await stopEveryTool()
    killEveryWorkload()
    s.remove()
  })

  /** A file of its own, so its path names one open of this test and nothing else. */
  function uniqueFile(name: string): string {
    const path = s.path(`${name}-${process.pid}-${Date.now()}`)
    writeFileSync(path, 'x')
    return path
  }

  it('opensnoop: bpfd as nobody is reported once; local prints its opens; exit 4', async () => {
    const width = UNPRIVILEGED.length
    const tool = await ToolProcess.start([BPFTOOLS, 'opensnoop', '-p', String(pid), '-r', 'local', '-r', UNPRIVILEGED], {label: 'opensnoop, one not root'})
    try {
      // The header waits for every target to be tracing or gone: the refusal is already out.
      assert.equal(tool.header, `${'TARGET'.padEnd(width)} PID    COMM               FD ERR PATH`)
      const path = uniqueFile('opened')
      const fd = Number(/^ok (\d+)$/.exec(await w.ask(`open\t${path}`))![1])
      const line = `${'local'.padEnd(width)} ${String(pid).padEnd(6)} ${COMM.padEnd(16)} ${String(fd).padStart(4)}   0 ${path}`
      await tool.waitFor(() => tool.lines.includes(line), 'the open, from local')
    } finally {
      const exit = await tool.stop()
      assert.equal(exit.code, ExitCode.PERMISSION, tool.report())
    }
    const refused = reports(tool.stderr, UNPRIVILEGED)
    assert.equal(refused.length, 1, tool.report())
    assert.match(refused[0]!, /: [a-zA-Z ]+ was refused \(EPERM\): /)
    assert.ok(refused[0]!.endsWith(REFUSED), tool.report())
    assert.deepEqual(reports(tool.stderr, 'local'), [], tool.report())
    // Nothing on stdout names the target that never traced.
    assert.ok(tool.lines.every((l) => !l.startsWith(UNPRIVILEGED)), tool.report())
  })

  it('stackcount: the stacks of local alone, under its target line; exit 4', async () => {
    const opens = 5
    const tool = await ToolProcess.start(
      [BPFTOOLS, 'stackcount', '-K', '-p', String(pid), 't:syscalls:sys_enter_openat', '--remote', UNPRIVILEGED, '--remote', 'local'],
      {label: 'stackcount, one not root'},
    )
    try {
      assert.equal(tool.header, 'Tracing 1 functions for "t:syscalls:sys_enter_openat" on local... Hit Ctrl-C to end.')
      for (let i = 0; i < opens; i++) assert.match(await w.ask(`open\t${uniqueFile(`stack${i}`)}`), /^ok \d+$/)
    } finally {
      const exit = await tool.stop()
      assert.equal(exit.code, ExitCode.PERMISSION, tool.report())
    }
    // One section, local's; the failed target, listed first, has none.
    assert.match(tool.stdout, new RegExp(`^${tool.header.replace(/[.()"]/g, '\\$&')}\\n\\ntarget = local\\n(?:  \\S+\\n)+    ${opens}\\n\\nDetaching\\.\\.\\.\\n$`), tool.report())
    assert.match(tool.stdout, /^ {2}do_syscall_64$/m, tool.report())
    const refused = reports(tool.stderr, UNPRIVILEGED)
    assert.equal(refused.length, 1, tool.report())
    assert.ok(refused[0]!.endsWith(REFUSED), tool.report())
  })

  it('bpftools not root: local refuses and says so once; a root bpfd over tcp traces; exit 4', async () => {
    // The CLI runs as nobody: its compile cache must be one nobody can write.
    const cache = s.path('nobody-cache')
    mkdirSync(cache)
    chownSync(cache, NOBODY, NOBODY)
    const bpfd = await Bpfd.start()
    const env = ['env', `HOME=${cache}`, `BPFTOOLS_CACHE_DIR=${cache}`]
    const width = Math.max(6, bpfd.remote.length)
    const tool = await ToolProcess.start([...AS_NOBODY, ...env, BPFTOOLS, 'opensnoop', '-p', String(pid), '-r', 'local', '-r', bpfd.remote], {
      label: 'opensnoop as nobody',
      bpfd,
    })
    try {
      assert.equal(tool.header, `${'TARGET'.padEnd(width)} PID    COMM               FD ERR PATH`)
      const path = uniqueFile('tcp')
      const fd = Number(/^ok (\d+)$/.exec(await w.ask(`open\t${path}`))![1])
      const line = `${bpfd.remote.padEnd(width)} ${String(pid).padEnd(6)} ${COMM.padEnd(16)} ${String(fd).padStart(4)}   0 ${path}`
      await tool.waitFor(() => tool.lines.includes(line), 'the open, from the tcp bpfd')
    } finally {
      const exit = await tool.stop()
      assert.equal(exit.code, ExitCode.PERMISSION, tool.report())
    }
    const refused = reports(tool.stderr, 'local')
    assert.equal(refused.length, 1, tool.report())
    assert.match(refused[0]!, /^bpftools: local: bpfd needs root .*sudo bpftools/)
    assert.deepEqual(reports(tool.stderr, bpfd.remote), [], tool.report())
    assert.ok(tool.lines.every((l) => !l.startsWith('local ')), tool.report())
  })
})
