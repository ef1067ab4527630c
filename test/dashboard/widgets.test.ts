// The dashboards' pieces that need no terminal: text widgets, key meanings,
// and the totals the stackcount and biolatency views keep over intervals.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {LatencyTotals} from '../../src/dashboard/biolatency.js'
import {ASCII_GLYPHS, UNICODE_GLYPHS} from '../../src/dashboard/glyphs.js'
import {HeatmapHistory, heatmapLines, shortBound} from '../../src/dashboard/heatmap.js'
import {keyAction} from '../../src/dashboard/keys.js'
import {scrollWindow} from '../../src/dashboard/pane.js'
import {RateMeter} from '../../src/dashboard/rate.js'
import {sparkline} from '../../src/dashboard/sparkline.js'
import {StackTotals, stackMatches, stackSummary} from '../../src/dashboard/stackcount.js'
import {columnWidths, fit, formatTable} from '../../src/dashboard/table.js'
import {dashboardRefusal} from '../../src/dashboard/terminal.js'
import {bucketRange, histogramLines} from '../../src/dashboard/text-histogram.js'
import type {SymbolizedStack} from '../../src/tools/stackcount/format.js'

const g = UNICODE_GLYPHS
const buckets = (set: Record<number, number>) => Array.from({length: 65}, (_, i) => BigInt(set[i] ?? 0))

describe('sparkline', () => {
  it('scales to the largest value shown, zero at the bottom, padded on the left', () => {
    assert.equal(sparkline([0, 1, 2, 4, 8], 5, g), '▁▂▃▅█')
    assert.equal(sparkline([3], 4, g), '   █')
    assert.equal(sparkline([0, 0], 2, g), '▁▁')
    // Only the newest values that fit.
    assert.equal(sparkline([100, 1, 1], 2, g), '██')
    assert.equal(sparkline([0, 5], 2, ASCII_GLYPHS), '_#')
  })
})

describe('RateMeter', () => {
  it('counts per second, with idle seconds as zeros', () => {
    const r = new RateMeter(5)
    r.add(3, 1000)
    r.add(2, 1500)
    r.add(1, 3200)
    assert.deepEqual(r.series(3900), [5, 0, 1])
    assert.equal(r.lastRate(4100), 1)
    assert.deepEqual(r.series(20_000), [0, 0, 0, 0, 0])
  })
})

describe('table', () => {
  it('cuts text with a mark, keeping the end of paths', () => {
    assert.equal(fit('abcdef', 4, g), 'abc…')
    assert.equal(fit('/usr/lib/libc.so.6', 10, g, {keepEnd: true}), '…libc.so.6')
    assert.equal(fit('42', 5, g, {align: 'right'}), '   42')
    assert.equal(fit('a\tb', 3, g), 'a?b')
  })

  it('gives flexible columns what the fixed ones leave', () => {
    const cols = [{title: 'N', width: 5}, {title: 'PATH', width: 10, flex: true}, {title: 'C', width: 3}]
    assert.deepEqual(columnWidths(cols, 40), [5, 30, 3])
    assert.deepEqual(columnWidths(cols, 10), [5, 10, 3])
    const t = formatTable(cols, [['1', 'x', 'y']], 40, g)
    assert.equal(t.header, 'N     PATH                           C')
    assert.equal(t.lines[0], '1     x                              y')
  })

  it('keeps a selection in view while scrolling as little as possible', () => {
    assert.equal(scrollWindow(5, 10, 4, 0), 0)
    assert.equal(scrollWindow(100, 10, 15, 0), 6)
    assert.equal(scrollWindow(100, 10, 8, 6), 6)
    assert.equal(scrollWindow(100, 10, 3, 6), 3)
  })
})

describe('text histogram', () => {
  it('labels buckets as bcc does', () => {
    assert.deepEqual(bucketRange(1), {low: 0n, high: 1n})
    assert.deepEqual(bucketRange(5), {low: 16n, high: 31n})
  })

  it('draws the used buckets with bars fitted to the width and what the last interval added', () => {
    const lines = histogramLines(buckets({5: 10, 7: 40}), {unit: 'usecs', width: 50, glyphs: g, recent: buckets({7: 4})})
    assert.deepEqual(lines, [
      '    usecs : count new    distribution',
      ' 16 -> 31 : 10         |██████                   |',
      ' 32 -> 63 : 0          |                         |',
      '64 -> 127 : 40    +4   |█████████████████████████|',
    ])
    assert.deepEqual(histogramLines(buckets({}), {unit: 'usecs', width: 50, glyphs: g}), [])
  })
})

describe('heatmap', () => {
  it('shades one column per interval, large latencies on top, newest on the right', () => {
    const h = new HeatmapHistory()
    h.push(buckets({5: 1}))
    h.push(buckets({5: 100, 7: 1}))
    h.push(buckets({}))
    const lines = heatmapLines(h, {width: 14, height: 10, glyphs: g, unit: 'usecs'})
    assert.deepEqual(lines, ['    64 |    ░ ', '    32 |      ', '    16 |   ░█ ', ' usecs +-> now'])
  })

  it('sums neighbouring buckets when there are more than rows', () => {
    const h = new HeatmapHistory()
    h.push(buckets({1: 1, 2: 1, 3: 1, 4: 1}))
    const lines = heatmapLines(h, {width: 10, height: 3, glyphs: g, unit: 'usecs'})
    assert.deepEqual(lines.map((l) => l.slice(0, 7)), ['     4 ', '     0 ', ' usecs '])
  })

  it('names bounds briefly', () => {
    assert.equal(shortBound(11), '1K')
    assert.equal(shortBound(21), '1M')
    assert.equal(shortBound(10), '512')
  })

  it('forgets the oldest columns, and a copy does not see later ones', () => {
    const h = new HeatmapHistory(2)
    h.push([1n])
    const c = h.copy()
    h.push([2n])
    h.push([3n])
    assert.deepEqual(h.recent(5), [[2n], [3n]])
    assert.deepEqual(c.recent(5), [[1n]])
  })
})

describe('keys', () => {
  const idle = {editing: false, text: ''}
  it('q and Ctrl-C quit, p pauses, / starts the filter, arrows move', () => {
    assert.deepEqual(keyAction('q', {name: 'q'}, idle), {do: 'quit'})
    assert.deepEqual(keyAction(undefined, {name: 'c', full: 'C-c', ctrl: true}, idle), {do: 'quit'})
    assert.deepEqual(keyAction('p', {name: 'p'}, idle), {do: 'pause'})
    assert.deepEqual(keyAction('/', {name: undefined}, idle), {do: 'filter-start'})
    assert.deepEqual(keyAction(undefined, {name: 'down'}, idle), {do: 'move', key: 'down'})
    assert.deepEqual(keyAction('\r', {name: 'return'}, idle), {do: 'move', key: 'enter'})
  })

  it('while typing a filter, letters are text and Enter and Escape end it', () => {
    const typing = {editing: true, text: 'ab'}
    assert.deepEqual(keyAction('q', {name: 'q'}, typing), {do: 'filter-set', text: 'abq', done: false})
    assert.deepEqual(keyAction(undefined, {name: 'backspace'}, typing), {do: 'filter-set', text: 'a', done: false})
    assert.deepEqual(keyAction('\r', {name: 'enter'}, typing), {do: 'filter-set', text: 'ab', done: true})
    assert.deepEqual(keyAction(undefined, {name: 'escape'}, typing), {do: 'filter-set', text: '', done: true})
    assert.deepEqual(keyAction(undefined, {name: 'c', full: 'C-c', ctrl: true}, typing), {do: 'quit'})
    assert.deepEqual(keyAction(undefined, {name: 'escape'}, {editing: false, text: 'x'}), {do: 'filter-set', text: '', done: true})
  })
})

describe('terminal', () => {
  it('refuses a stdout that is not a terminal', () => {
    assert.match(dashboardRefusal({isTTY: false}) ?? '', /needs a terminal/)
    assert.equal(dashboardRefusal({isTTY: true}), undefined)
  })
})

const frame = (name: string, address = 0x1000n) => ({address, name})
const stack = (pid: number, comm: string, count: number, kernel: string[], user: string[] = []): SymbolizedStack => ({
  pid,
  comm,
  count,
  kernel: kernel.map((n) => frame(n)),
  user: user.map((n) => frame(n)),
})

describe('stackcount view', () => {
  it('adds intervals up; LAST is the latest interval; the busiest first', () => {
    const t = new StackTotals()
    t.add({index: 0, last: false, time: new Date(), stacks: [stack(1, 'a', 5, ['k1']), stack(2, 'b', 3, ['k2'])]})
    t.add({index: 1, last: false, time: new Date(), stacks: [stack(2, 'b', 4, ['k2'])]})
    const v = t.view()
    assert.deepEqual(v.rows.map((r) => [r.comm, r.total, r.last]), [['b', 7, 4], ['a', 5, 0]])
    assert.deepEqual(v.perInterval, [8, 4])
    assert.equal(v.events, 12)
    // A view is a copy.
    t.add({index: 2, last: false, time: new Date(), stacks: [stack(1, 'a', 10, ['k1'])]})
    assert.equal(v.rows[1]!.total, 5)
  })

  it('one row for stacks whose frames have the same names', () => {
    const t = new StackTotals()
    t.add({index: 0, last: false, time: new Date(), stacks: [stack(1, 'a', 1, ['f']), {...stack(1, 'a', 2, []), kernel: [frame('f', 0x2000n)]}]})
    assert.deepEqual(t.view().rows.map((r) => r.total), [3])
  })

  it('filters on the process name or any frame; summarises the user frames first', () => {
    const t = new StackTotals()
    t.add({index: 0, last: false, time: new Date(), stacks: [stack(7, 'worker', 1, ['do_sys_open', 'entry'], ['open', 'main'])]})
    const r = t.view().rows[0]!
    assert.ok(stackMatches(r, 'work') && stackMatches(r, 'sys_open') && stackMatches(r, 'main') && !stackMatches(r, 'zzz'))
    assert.equal(stackSummary(r), 'open < main | do_sys_open < entry')
  })
})

describe('biolatency view', () => {
  const section = (value: string, set: Record<number, number>) => ({section: {name: 'disk' as const, value}, buckets: buckets(set)})

  it('adds intervals up per disk, with every disk together first', () => {
    const t = new LatencyTotals(65, 'all disks')
    t.add({index: 0, last: false, time: new Date(), histograms: [section('vda', {5: 2}), section('vdb', {7: 1})]})
    t.add({index: 1, last: false, time: new Date(), histograms: [section('vda', {5: 1})]})
    const v = t.view()
    assert.deepEqual(v.sections.map((s) => [s.label, s.requests]), [['all disks', 4n], ['disk = vda', 3n], ['disk = vdb', 1n]])
    assert.equal(v.sections[2]!.last[7], 0n)
    assert.equal(v.sections[1]!.last[5], 1n)
    assert.deepEqual(v.perInterval, [3, 1])
    assert.equal(v.sections[1]!.heat.length, 2)
  })

  it('a single histogram is shown alone', () => {
    const t = new LatencyTotals(65, 'all disks')
    t.add({index: 0, last: false, time: new Date(), histograms: [{buckets: buckets({3: 1})}]})
    assert.deepEqual(t.view().sections.map((s) => s.label), [''])
  })
})
