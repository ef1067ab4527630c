// opensnoop's dashboard in a tmux pane: a process under a name of its own
// opens a file of its own and fails to open another; both must show in the
// tables with their counts, the failure in red among the latest failures;
// / must filter by path or name, p must freeze the view while opens go on,
// q must leave a clean shell.
import assert from 'node:assert/strict'
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {BPFTOOLS, dashboardTestsUnavailable, drawnLines, showsDashboard, TmuxPane} from './tmux.js'
import {Background, Scratch, uniqueName} from './workloads.js'

const PERL = '/usr/bin/perl'

/** The OPENS count of the busiest-files row of `path`. */
function fileOpens(screen: string, path: string): number | undefined {
  const line = drawnLines(screen).find((l) => l.includes(path) && /^│\s*\d+/.test(l))
  return line ? Number(/^│\s*(\d+)/.exec(line)![1]) : undefined
}

describe('opensnoop --dashboard', {skip: dashboardTestsUnavailable() ?? (existsSync(PERL) ? false : 'no perl')}, () => {
  const scratch = new Scratch()
  const comm = uniqueName('oswl')
  const file = `osfile-${process.pid}`
  const missing = `osmissing-${process.pid}`
  const panes: TmuxPane[] = []
  let workload: Background | undefined

  before(() => writeFileSync(join(scratch.dir, file), 'x'))

  after(() => {
    for (const p of panes) p.kill()
    TmuxPane.shutdown()
    workload?.stop()
    scratch.remove()
  })

  it('tables the busiest files and processes, highlights failures; / filters, p pauses, q restores the terminal', async () => {
    const pane = TmuxPane.start('opensnoop', `${BPFTOOLS} opensnoop --dashboard`)
    panes.push(pane)
    await pane.waitFor((s) => /\blive\b/.test(drawnLines(s)[0] ?? ''), 'the dashboard tracing')
    // 20 opens of the file and one failed open every 100 ms.
    const loop = `while (1) { for (1..20) { open(my $f, '<', '${join(scratch.dir, file)}') and close($f) } open(my $g, '<', '${join(scratch.dir, missing)}'); select(undef, undef, undef, 0.1) }`
    workload = new Background(scratch.copy(PERL, comm), ['-e', loop])

    let s = await pane.waitFor((s) => (fileOpens(s, file) ?? 0) >= 20 && s.includes(missing) && s.includes(comm), `opens of ${file} and ${missing} by ${comm}`)
    const lines = drawnLines(s)
    // The process's row, with its opens and failures.
    assert.ok(lines.some((l) => new RegExp(`${workload!.pid} ${comm}\\s+\\d+\\s+\\d+`).test(l)), `no row for ${comm} [${workload!.pid}]:\n${s}`)
    // The failed open among the latest failures, named, and drawn in red.
    assert.ok(lines.some((l) => l.includes(comm) && l.includes('ENOENT') && l.includes(missing)), `no ENOENT of ${missing}:\n${s}`)
    const colored = pane.capture(true).split('\n').find((l) => l.includes(missing) && l.includes('ENOENT'))
    assert.match(colored ?? '', /\x1b\[[0-9;]*31[;m]/, `the failure is not red: ${JSON.stringify(colored)}`)

    // / and the missing file's name: only its row among the busiest files.
    pane.keys('/')
    pane.type(missing)
    pane.keys('Enter')
    s = await pane.waitFor((s) => /busiest files: 1 of \d+/.test(s) && fileOpens(s, file) === undefined, `only ${missing} after filtering`)
    assert.ok(drawnLines(s).some((l) => l.includes(missing) && /^│\s*\d+\s+\d+ /.test(l)), s)
    pane.keys('Escape')
    await pane.waitFor((s) => fileOpens(s, file) !== undefined, 'every row back after Escape')

    // p freezes the view while the workload goes on opening.
    pane.keys('p')
    const frozen = await pane.waitFor((s) => /PAUSED/.test(drawnLines(s)[0]!), 'PAUSED in the title')
    await new Promise((r) => setTimeout(r, 2200))
    assert.equal(pane.capture(), frozen, 'the view changed while paused')
    pane.keys('p')
    await pane.waitFor((s) => !/PAUSED/.test(s) && (fileOpens(s, file) ?? 0) >= fileOpens(frozen, file)! + 200, `${file}'s opens while paused counted after resuming`)

    pane.keys('q')
    const {code, screen} = await pane.exit()
    assert.equal(code, 0, screen)
    assert.ok(!showsDashboard(screen), `the dashboard is still drawn after exit:\n${screen}`)
    assert.match(drawnLines(screen)[0]!, /^EXITED:0/)
  })
})
