// execsnoop's dashboard in a tmux pane: a shell started under the dashboard
// runs a program under a name of its own with arguments of its own; the
// execs must show with their arguments, the shell and its children as a
// tree; / must filter by name, p must freeze the view while execs go on,
// q must leave a clean shell.
import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import {after, describe, it} from 'node:test'
import {BPFTOOLS, dashboardTestsUnavailable, drawnLines, showsDashboard, TmuxPane} from './tmux.js'
import {Background, Scratch, uniqueName} from './workloads.js'

const TRUE = existsSync('/bin/true') ? '/bin/true' : '/usr/bin/true'

/** The latest-execs rows of a command. */
function execRows(screen: string, comm: string): string[] {
  return drawnLines(screen).filter((l) => new RegExp(`^│\\d\\d:\\d\\d:\\d\\d\\s+\\d+\\s+\\d+\\s+0\\s+${comm} `).test(l))
}

describe('execsnoop --dashboard', {skip: dashboardTestsUnavailable() ?? false}, () => {
  const scratch = new Scratch()
  const comm = uniqueName('exwl')
  const arg = `arg-${process.pid}`
  const panes: TmuxPane[] = []
  let shell: Background | undefined

  after(() => {
    for (const p of panes) p.kill()
    TmuxPane.shutdown()
    shell?.stop()
    scratch.remove()
  })

  it('lists execs with argv and the process tree; / filters, p pauses, q restores the terminal', async () => {
    const pane = TmuxPane.start('execsnoop', `${BPFTOOLS} execsnoop --dashboard`)
    panes.push(pane)
    await pane.waitFor((s) => /\blive\b/.test(drawnLines(s)[0] ?? ''), 'the dashboard tracing')
    const program = scratch.copy(TRUE, comm)
    // Started through exec itself, so the shell is in the tree with its children.
    shell = new Background('/bin/sh', ['-c', `exec /bin/sh -c 'while :; do ${program} ${arg} two; sleep 0.2; done'`])

    let s = await pane.waitFor((s) => execRows(s, comm).length >= 2, `execs of ${comm}`)
    assert.ok(execRows(s, comm).every((l) => l.includes(`${program} ${arg} two`)), s)
    // In the tree: the shell, and the program as its child.
    s = await pane.waitFor((s) => {
      const lines = drawnLines(s)
      const at = lines.findIndex((l) => new RegExp(`^│\\s*(└─ |\`- )?${shell!.pid} /bin/sh -c`).test(l))
      return at >= 0 && lines.slice(at + 1).some((l) => /(└─|`-) \d+ /.test(l) && l.includes(`${program} ${arg}`))
    }, `${comm} under the shell ${shell.pid} in the process tree`)
    assert.match(s, new RegExp(`\\d+\\s+${comm}`), `no busiest-commands row for ${comm}`)

    // / and the program's name: only its execs.
    pane.keys('/')
    pane.type(comm)
    pane.keys('Enter')
    s = await pane.waitFor((s) => /latest execs, newest first: \d+ of \d+ match/.test(s), 'the filtered list')
    const listed = drawnLines(s).filter((l) => /^│\d\d:\d\d:\d\d /.test(l))
    assert.ok(listed.length > 0 && listed.every((l) => l.includes(comm)), `rows other than ${comm}:\n${s}`)
    pane.keys('Escape')

    // p freezes the view while execs go on.
    pane.keys('p')
    const frozen = await pane.waitFor((s) => /PAUSED/.test(drawnLines(s)[0]!), 'PAUSED in the title')
    const execs = (s: string) => Number(/(\d+) execs, \d+ failed/.exec(s)?.[1] ?? 0)
    await new Promise((r) => setTimeout(r, 2200))
    assert.equal(pane.capture(), frozen, 'the view changed while paused')
    pane.keys('p')
    await pane.waitFor((s) => !/PAUSED/.test(s) && execs(s) >= execs(frozen) + 10, 'the execs made while paused counted after resuming')

    pane.keys('q')
    const {code, screen} = await pane.exit()
    assert.equal(code, 0, screen)
    assert.ok(!showsDashboard(screen), `the dashboard is still drawn after exit:\n${screen}`)
    assert.match(drawnLines(screen)[0]!, /^EXITED:0/)
  })
})
