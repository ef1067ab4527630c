// biolatency's dashboard in a tmux pane: O_DIRECT writes to a file on a
// real disk are block requests the disk's histogram must count, and the
// heatmap must shade; p must freeze the view while requests go on being
// timed, q must leave a clean shell.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {after, describe, it} from 'node:test'
import {BPFTOOLS, dashboardTestsUnavailable, drawnLines, showsDashboard, TmuxPane} from './tmux.js'
import {diskOf, Scratch} from './workloads.js'

const run = promisify(execFile)
const BLOCKS = 200

const scratch = new Scratch()
const disk = diskOf(scratch.dir)

/** BLOCKS synchronous 4 KiB writes that bypass the page cache: BLOCKS block requests. */
async function directWrites(): Promise<void> {
  await run('dd', ['if=/dev/zero', `of=${join(scratch.dir, 'data')}`, 'bs=4k', `count=${BLOCKS}`, 'oflag=direct,dsync', 'conv=notrunc'])
}

/** The requests the pane says the disk had. */
function requests(screen: string): number | undefined {
  const m = new RegExp(`disk = ${disk}: (\\d+) requests`).exec(screen)
  return m ? Number(m[1]) : undefined
}

const unavailable = dashboardTestsUnavailable() ?? (disk ? (existsSync('/sys/kernel/tracing/events/block') ? undefined : 'no block tracepoints') : 'the temporary directory is not on a whole disk')

describe('biolatency --dashboard', {skip: unavailable ?? false}, () => {
  const panes: TmuxPane[] = []

  after(() => {
    for (const p of panes) p.kill()
    TmuxPane.shutdown()
    scratch.remove()
  })

  it('counts direct writes in the disk\'s histogram and heatmap; p pauses, q restores the terminal', async () => {
    const pane = TmuxPane.start('biolatency', `${BPFTOOLS} biolatency --dashboard -D`)
    panes.push(pane)
    await pane.waitFor((s) => /\blive\b/.test(drawnLines(s)[0] ?? ''), 'the dashboard tracing')
    await directWrites()
    let s = await pane.waitFor((s) => (requests(s) ?? 0) >= BLOCKS, `${BLOCKS} requests on ${disk}`)
    const lines = drawnLines(s)
    assert.ok(lines.some((l) => /^│\s+usecs : count\s+new\s+distribution/.test(l)), s)
    assert.ok(lines.some((l) => /^│\s+\d+ -> \d+ : \d+\s+(\+\d+)?\s*\|█+ *\|/.test(l)), `no histogram bars:\n${s}`)
    assert.ok(lines.some((l) => /^│\s+\d+[KMG]? \|.*[░▒▓█]/.test(l)), `no shaded heatmap row:\n${s}`)
    assert.ok(lines.some((l) => /^│\s+usecs \+-+> now/.test(l)), `no heatmap time axis:\n${s}`)

    // p freezes the view while requests go on being timed.
    pane.keys('p')
    const frozen = await pane.waitFor((s) => /PAUSED/.test(drawnLines(s)[0]!), 'PAUSED in the title')
    const before = requests(frozen)!
    await directWrites()
    await new Promise((r) => setTimeout(r, 2200))
    assert.equal(pane.capture(), frozen, 'the view changed while paused')
    pane.keys('p')
    s = await pane.waitFor((s) => !/PAUSED/.test(s) && (requests(s) ?? 0) >= before + BLOCKS, `the writes made while paused counted after resuming`)

    // A smaller terminal: every pane is drawn again to its width.
    pane.resize(100, 30)
    s = await pane.waitFor((s) => drawnLines(s)[1]?.length === 100 && /^└─+┘$/.test(drawnLines(s)[3] ?? ''), 'the panes redrawn 100 columns wide')
    assert.ok(drawnLines(s).length <= 30 && drawnLines(s).every((l) => l.length <= 100), s)
    assert.ok(requests(s)! >= before + BLOCKS, s)

    pane.keys('q')
    const {code, screen} = await pane.exit()
    assert.equal(code, 0, screen)
    assert.ok(!showsDashboard(screen), `the dashboard is still drawn after exit:\n${screen}`)
    assert.match(drawnLines(screen)[0]!, /^EXITED:0/)
  })
})
