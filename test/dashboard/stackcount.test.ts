// stackcount's dashboard in a tmux pane: two processes under names of their
// own make getppid calls at different rates; their stacks must appear with
// counts, the arrows must select and expand one, / must filter, p must
// freeze the view while counting goes on, q must leave a clean shell; a
// bpfd killed under it must end it with an error and a clean shell too.
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {after, before, describe, it} from 'node:test'
import {BPFTOOLS, dashboardTestsUnavailable, drawnLines, showsDashboard, TmuxPane} from './tmux.js'
import {Background, Scratch, uniqueName} from './workloads.js'

const PERL = '/usr/bin/perl'
/** getppid() N times every 50 ms, forever. */
const loop = (n: number) => `while (1) { getppid() for 1..${n}; select(undef, undef, undef, 0.05) }`

/** The table row of a process: its count, the pointer when selected, and the line's index. */
function row(screen: string, comm: string): {count: number; selected: boolean; index: number} | undefined {
  const lines = drawnLines(screen)
  const index = lines.findIndex((l) => new RegExp(`\\d+ ${comm} `).test(l))
  if (index < 0) return undefined
  const m = /│(.)\s*(\d+)/.exec(lines[index]!)!
  return {count: Number(m[2]), selected: m[1] !== ' ', index}
}

describe('stackcount --dashboard', {skip: dashboardTestsUnavailable() ?? (hasPerl() ? false : 'no perl')}, () => {
  const scratch = new Scratch()
  const busy = uniqueName('scbusy')
  const calm = uniqueName('sccalm')
  const workloads: Background[] = []
  const panes: TmuxPane[] = []

  before(() => {
    workloads.push(new Background(scratch.copy(PERL, busy), ['-e', loop(200)]))
    workloads.push(new Background(scratch.copy(PERL, calm), ['-e', loop(20)]))
  })

  after(() => {
    for (const p of panes) p.kill()
    TmuxPane.shutdown()
    for (const w of workloads) w.stop()
    scratch.remove()
  })

  it('shows the stacks with counts; arrows select and expand, / filters, p pauses, q restores the terminal', async () => {
    const pane = TmuxPane.start('stackcount', `${BPFTOOLS} stackcount --dashboard -P -K t:syscalls:sys_enter_getppid`)
    panes.push(pane)
    let s = await pane.waitFor((s) => row(s, busy) !== undefined && row(s, calm) !== undefined, `rows for ${busy} and ${calm}`)
    assert.match(s, /bpftools stackcount --dashboard/)
    assert.ok(row(s, busy)!.count > 0 && row(s, calm)!.count > 0)

    // The busier process is first, and selected.
    s = await pane.waitFor((s) => row(s, busy)!.index < row(s, calm)!.index && row(s, busy)!.selected, `${busy} above ${calm}`)
    // Down moves the selection off it, Up brings it back, Right expands its frames.
    pane.keys('Down')
    await pane.waitFor((s) => !row(s, busy)!.selected, 'the selection to move down')
    pane.keys('Up', 'Right')
    s = await pane.waitFor((s) => {
      const r = row(s, busy)
      return r !== undefined && r.selected && /^│\s+[0-9a-f]{16}  \S+/.test(drawnLines(s)[r.index + 1] ?? '')
    }, `the frames of ${busy} under its row`)
    const frames = drawnLines(s).slice(row(s, busy)!.index + 1).filter((l) => /^│\s+[0-9a-f]{16}  /.test(l))
    assert.ok(frames.some((l) => /syscall/.test(l)), `kernel frames named:\n${frames.join('\n')}`)
    // Left collapses it again.
    pane.keys('Left')
    await pane.waitFor((s) => !/^│\s+[0-9a-f]{16}  \S+/.test(drawnLines(s)[row(s, busy)!.index + 1] ?? ''), 'the frames to collapse')

    // p freezes the view while the workload goes on counting.
    pane.keys('p')
    const frozen = await pane.waitFor((s) => /PAUSED/.test(drawnLines(s)[0]!), 'PAUSED in the title')
    await new Promise((r) => setTimeout(r, 2500))
    assert.equal(pane.capture(), frozen, 'the view changed while paused')
    pane.keys('p')
    await pane.waitFor((s) => !/PAUSED/.test(s) && row(s, busy)!.count > row(frozen, busy)!.count, `${busy}'s count to grow after resuming`)

    // / and a name: only that process's rows.
    pane.keys('/')
    pane.type(calm)
    pane.keys('Enter')
    s = await pane.waitFor((s) => row(s, calm) !== undefined && row(s, busy) === undefined && /filter: /.test(s), `only ${calm} after filtering`)
    assert.match(s, new RegExp(`\\d+ of \\d+ stacks`))
    pane.keys('Escape')
    await pane.waitFor((s) => row(s, busy) !== undefined, 'every row back after Escape')

    pane.keys('q')
    const {code, screen} = await pane.exit()
    assert.equal(code, 0, screen)
    assert.ok(!showsDashboard(screen), `the dashboard is still drawn after exit:\n${screen}`)
    assert.match(drawnLines(screen)[0]!, /^EXITED:0/, 'the shell does not continue on a clean screen')
  })

  it('a target that dies under it ends it with the error and a clean terminal', async () => {
    const pane = TmuxPane.start('stackcount-crash', `${BPFTOOLS} stackcount --dashboard -K t:syscalls:sys_enter_getppid`)
    panes.push(pane)
    await pane.waitFor((s) => /\blive\b/.test(drawnLines(s)[0] ?? ''), 'the dashboard tracing')
    const bpfd = pane.processes().filter((pid) => /bpfd/.test(comm(pid)))
    assert.ok(bpfd.length > 0, `no bpfd under the pane: ${pane.processes().map(comm).join(', ')}`)
    for (const pid of bpfd) process.kill(pid, 'SIGKILL')
    const {code, screen} = await pane.exit()
    assert.notEqual(code, 0, screen)
    assert.ok(!showsDashboard(screen), `the dashboard is still drawn after the error:\n${screen}`)
    assert.match(screen, /bpftools: /, 'no error message on the terminal')
  })
})

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return '?'
  }
}

function hasPerl(): boolean {
  return existsSync(PERL)
}
