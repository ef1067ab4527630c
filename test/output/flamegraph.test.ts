import {test} from 'node:test'
import assert from 'node:assert/strict'
import {escapeXml, fitLabel, frameColor, renderFlameGraph, type FlameStack} from '../../src/output/flamegraph.js'

type El = {name: string; attrs: Record<string, string>; children: El[]; text: string}

const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g

/** A strict little XML reader: throws on unbalanced tags, raw `<` or `&` in text or attributes. */
function parseXml(xml: string): El {
  let s = xml.replace(/^<\?xml[^?]*\?>\s*/, '')
  const root: El = {name: '#doc', attrs: {}, children: [], text: ''}
  const stack: El[] = [root]
  const checkText = (t: string): string => {
    const bare = t.replace(ENTITY, '')
    if (/[<&]/.test(bare)) throw new Error(`unescaped text: ${JSON.stringify(t.slice(0, 60))}`)
    return t.replace(ENTITY, (e) => ({'&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&apos;': "'"})[e] ?? String.fromCodePoint(Number(e.slice(2, -1))))
  }
  const tag = /^<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/
  while (s.length > 0) {
    const top = stack[stack.length - 1]!
    if (s.startsWith('<![CDATA[')) {
      const end = s.indexOf(']]>')
      if (end < 0) throw new Error('unterminated CDATA')
      top.text += s.slice(9, end)
      s = s.slice(end + 3)
      continue
    }
    if (s.startsWith('<!--')) {
      const end = s.indexOf('-->')
      if (end < 0) throw new Error('unterminated comment')
      s = s.slice(end + 3)
      continue
    }
    if (s[0] === '<') {
      const m = tag.exec(s)
      if (!m) throw new Error(`bad tag at ${JSON.stringify(s.slice(0, 60))}`)
      const [all, close, name, attrText, selfClose] = m
      if (close) {
        const open = stack.pop()
        if (!open || open.name !== name) throw new Error(`</${name}> closes <${open?.name}>`)
      } else {
        const attrs: Record<string, string> = {}
        for (const a of attrText!.matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
          if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]}`)
          attrs[a[1]!] = checkText(a[2] ?? a[3]!)
        }
        const el: El = {name: name!, attrs, children: [], text: ''}
        top.children.push(el)
        if (!selfClose) stack.push(el)
      }
      s = s.slice(all!.length)
      continue
    }
    const next = s.indexOf('<')
    const chunk = next < 0 ? s : s.slice(0, next)
    top.text += checkText(chunk)
    s = next < 0 ? '' : s.slice(next)
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`)
  const roots = root.children
  if (roots.length !== 1) throw new Error('not exactly one root element')
  return roots[0]!
}

function find(el: El, pred: (e: El) => boolean, out: El[] = []): El[] {
  if (pred(el)) out.push(el)
  for (const c of el.children) find(c, pred, out)
  return out
}

function frames(svg: El) {
  return find(svg, (e) => e.name === 'g' && e.attrs['class'] === 'f').map((g) => {
    const rect = g.children.find((c) => c.name === 'rect')!
    return {
      depth: Number(g.attrs['data-d']),
      start: Number(g.attrs['data-s']),
      samples: Number(g.attrs['data-n']),
      title: g.children.find((c) => c.name === 'title')!.text,
      label: g.children.find((c) => c.name === 'text')!.text,
      x: Number(rect.attrs['x']),
      width: Number(rect.attrs['width']),
      fill: rect.attrs['fill']!,
    }
  })
}

const stacks: FlameStack[] = [
  {frames: ['main', 'parse', 'lex'], count: 30},
  {frames: ['main', 'parse'], count: 10},
  {frames: ['main', 'emit', 'write', 'vfs_write_[k]'], count: 45},
  {frames: ['main', 'emit', 'fmt'], count: 15},
]

test('flame graph: well-formed SVG with a frame per distinct path', () => {
  const svg = parseXml(renderFlameGraph(stacks, {title: 'CPU'}))
  assert.equal(svg.name, 'svg')
  assert.equal(svg.attrs['xmlns'], 'http://www.w3.org/2000/svg')
  const f = frames(svg)
  // all, main, parse, lex, emit, write, vfs_write_[k], fmt
  assert.equal(f.length, 8)
  assert.equal(find(svg, (e) => e.attrs['id'] === 'title')[0]!.text, 'CPU')
  assert.equal(find(svg, (e) => e.name === 'script').length, 1)
  assert.ok(find(svg, (e) => e.attrs['id'] === 'reset').length === 1)
})

test('flame graph: widths proportional to counts, children laid side by side inside their parent', () => {
  const width = 1000
  const f = frames(parseXml(renderFlameGraph(stacks, {width})))
  const total = 100
  const scale = (width - 20) / total
  for (const fr of f) {
    assert.ok(Math.abs(fr.width - fr.samples * scale) <= 0.006, `${fr.title}: ${fr.width} for ${fr.samples}`)
    assert.ok(Math.abs(fr.x - (10 + fr.start * scale)) <= 0.006)
  }
  const by = (name: string) => f.find((x) => x.title.startsWith(name + ' ('))!
  assert.equal(by('all').samples, 100)
  assert.equal(by('main').samples, 100)
  assert.equal(by('parse').samples, 40)
  assert.equal(by('lex').samples, 30)
  assert.equal(by('emit').samples, 60)
  assert.equal(by('write').samples, 45)
  // Siblings in name order: emit before parse, fmt before write.
  assert.ok(by('emit').x < by('parse').x)
  assert.ok(by('fmt').x < by('write').x)
  assert.equal(by('emit').depth, 2)
  assert.equal(by('vfs_write_[k]').depth, 4)
  for (const fr of f) if (fr.depth > 0) assert.ok(fr.samples <= by('all').samples)
})

test('flame graph: each frame titled with name, count and percentage', () => {
  const f = frames(parseXml(renderFlameGraph(stacks, {countName: 'samples'})))
  const titles = f.map((x) => x.title).sort()
  assert.deepEqual(titles, [
    'all (100 samples, 100.00%)',
    'emit (60 samples, 60.00%)',
    'fmt (15 samples, 15.00%)',
    'lex (30 samples, 30.00%)',
    'main (100 samples, 100.00%)',
    'parse (40 samples, 40.00%)',
    'vfs_write_[k] (45 samples, 45.00%)',
    'write (45 samples, 45.00%)',
  ])
})

test('flame graph: names are escaped', () => {
  const nasty = `operator<<(std::ostream&, "q" 'a') </title><script>alert(1)</script>`
  const out = renderFlameGraph([{frames: ['main', nasty, 'ctl\u0001x'], count: 3}], {title: 'a < b & "c"', width: 4000})
  const svg = parseXml(out)
  const f = frames(svg)
  assert.ok(f.some((x) => x.title === `${nasty} (3 samples, 100.00%)`))
  assert.ok(f.some((x) => x.label === nasty))
  assert.ok(f.some((x) => x.title.startsWith('ctl\ufffdx (')))
  assert.equal(find(svg, (e) => e.attrs['id'] === 'title')[0]!.text, 'a < b & "c"')
  assert.equal(find(svg, (e) => e.name === 'script').length, 1)
  assert.equal(escapeXml(`<&>"'`), '&lt;&amp;&gt;&quot;&#39;')
})

test('flame graph: deterministic, whatever the order of the input', () => {
  const a = renderFlameGraph(stacks, {title: 't'})
  assert.equal(renderFlameGraph(stacks, {title: 't'}), a)
  assert.equal(renderFlameGraph([...stacks].reverse(), {title: 't'}), a)
  // Split counts of one path merge to the same picture.
  const split = [...stacks.slice(1), {frames: ['main', 'parse', 'lex'], count: 10}, {frames: ['main', 'parse', 'lex'], count: 20}]
  assert.equal(renderFlameGraph(split, {title: 't'}), a)
})

test('flame graph: colours by name, kernel frames in another hue', () => {
  assert.equal(frameColor('do_work'), frameColor('do_work'))
  const warm = /^rgb\((\d+),(\d+),(\d+)\)$/.exec(frameColor('do_work'))!.slice(1).map(Number)
  assert.ok(warm[0]! >= 205 && warm[2]! <= 55)
  const cool = /^rgb\((\d+),(\d+),(\d+)\)$/.exec(frameColor('vfs_read_[k]'))!.slice(1).map(Number)
  assert.ok(cool[2]! >= 200 && cool[0]! < 150)
  const f = frames(parseXml(renderFlameGraph(stacks)))
  const fills = new Map(f.map((x) => [x.title.slice(0, x.title.lastIndexOf(' (')), x.fill]))
  assert.equal(fills.get('write'), frameColor('write'))
  assert.equal(fills.get('vfs_write_[k]'), frameColor('vfs_write_[k]'))
})

test('flame graph: labels truncated to fit their frame', () => {
  assert.equal(fitLabel('x', 10), '')
  assert.equal(fitLabel('short', 200), 'short')
  const cut = fitLabel('a_rather_long_function_name_indeed', 100)
  assert.ok(cut.endsWith('..') && cut.length < 'a_rather_long_function_name_indeed'.length)
  const f = frames(parseXml(renderFlameGraph([{frames: ['a_rather_long_function_name_indeed'], count: 1}, {frames: ['z'], count: 99}], {width: 1000})))
  const long = f.find((x) => x.title.startsWith('a_rather'))!
  assert.equal(long.label, '')
  const wide = f.find((x) => x.title.startsWith('z ('))!
  assert.equal(wide.label, 'z')
})

test('flame graph: frames too thin to see are left out', () => {
  const f = frames(parseXml(renderFlameGraph([{frames: ['big'], count: 1_000_000}, {frames: ['tiny', 'child'], count: 1}], {width: 1000})))
  assert.deepEqual(f.map((x) => x.title.split(' ')[0]).sort(), ['all', 'big'])
})

test('flame graph: empty frames (bcc stackcount without a process name) draw nothing and keep their counts', () => {
  // As parseFolded reads `;do_syscall_64;ksys_read 6`, `;do_syscall_64;- 2`, ` 4` and `sh;;main 3`.
  const f = frames(
    parseXml(
      renderFlameGraph([
        {frames: ['', 'do_syscall_64', 'ksys_read'], count: 6},
        {frames: ['', 'do_syscall_64', '-'], count: 2},
        {frames: [''], count: 4},
        {frames: ['sh', '', 'main'], count: 3},
      ]),
    ),
  )
  assert.deepEqual(
    f.map((x) => [x.depth, x.title]).sort(),
    [
      [0, 'all (15 samples, 100.00%)'],
      [1, 'do_syscall_64 (8 samples, 53.33%)'],
      [1, 'sh (3 samples, 20.00%)'],
      [2, '- (2 samples, 13.33%)'],
      [2, 'ksys_read (6 samples, 40.00%)'],
      [2, 'main (3 samples, 20.00%)'],
    ],
  )
})

test('flame graph: no samples still gives a well-formed picture', () => {
  const svg = parseXml(renderFlameGraph([], {title: 'empty'}))
  assert.equal(frames(svg).length, 0)
  assert.ok(find(svg, (e) => e.name === 'text' && e.text === 'No samples').length === 1)
})

test('the XML checker itself rejects broken documents', () => {
  assert.throws(() => parseXml('<svg><g></svg>'))
  assert.throws(() => parseXml('<svg>a < b</svg>'))
  assert.throws(() => parseXml('<svg>a & b</svg>'))
  assert.throws(() => parseXml('<svg><rect x="<"/></svg>'))
  assert.doesNotThrow(() => parseXml('<svg><g a="&amp;">x &lt; y</g><![CDATA[ a < b && c ]]></svg>'))
})

// Just enough of a DOM to run the embedded script against the parsed SVG.
class FakeNode {
  readonly style: {display: string} = {display: ''}
  readonly classes: Set<string>
  readonly children: FakeNode[]
  readonly listeners = new Map<string, ((e: {target: FakeNode}) => void)[]>()
  constructor(
    readonly el: El,
    readonly parent: FakeNode | null,
  ) {
    this.classes = new Set((el.attrs['class'] ?? '').split(' ').filter(Boolean))
    this.children = el.children.map((c) => new FakeNode(c, this))
    const m = /display:\s*(\w+)/.exec(el.attrs['style'] ?? '')
    if (m) this.style.display = m[1]!
  }
  get classList() {
    return {add: (c: string) => this.classes.add(c), remove: (c: string) => this.classes.delete(c)}
  }
  getAttribute(n: string): string | null {
    return this.el.attrs[n] ?? null
  }
  setAttribute(n: string, v: string): void {
    this.el.attrs[n] = v
  }
  get textContent(): string {
    return this.el.text + this.children.map((c) => c.textContent).join('')
  }
  set textContent(v: string) {
    this.el.text = v
  }
  all(): FakeNode[] {
    return this.children.flatMap((c) => [c, ...c.all()])
  }
  getElementsByTagName(tag: string): FakeNode[] {
    return this.all().filter((n) => n.el.name === tag)
  }
  closest(sel: string): FakeNode | null {
    const [tag, cls] = sel.split('.')
    for (let n: FakeNode | null = this; n; n = n.parent) if (n.el.name === tag && n.classes.has(cls!)) return n
    return null
  }
  addEventListener(type: string, fn: (e: {target: FakeNode}) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn])
  }
  fire(type: string, target: FakeNode): void {
    for (let n: FakeNode | null = target; n; n = n.parent) for (const fn of n.listeners.get(type) ?? []) fn({target})
  }
}

test('flame graph: clicking a frame zooms it to full width, reset restores', () => {
  const width = 1000
  const inner = width - 20
  const svgEl = parseXml(renderFlameGraph(stacks, {width}))
  const svg = new FakeNode(svgEl, null)
  const byId = (id: string) => svg.all().find((n) => n.el.attrs['id'] === id)!
  const script = svg.getElementsByTagName('script')[0]!.el.text
  new Function('document', script)({documentElement: svg, getElementById: byId})

  const frameNodes = svg.all().filter((n) => n.classes.has('f'))
  const named = (name: string) => frameNodes.find((n) => n.getElementsByTagName('title')[0]!.textContent.startsWith(name + ' ('))!
  const rect = (name: string) => named(name).getElementsByTagName('rect')[0]!
  const geometry = (name: string) => [Number(rect(name).getAttribute('x')), Number(rect(name).getAttribute('width'))]
  const before = new Map(frameNodes.map((n) => [n, [n.getElementsByTagName('rect')[0]!.getAttribute('x'), n.getElementsByTagName('rect')[0]!.getAttribute('width')]]))
  const framesGroup = byId('frames')
  const reset = byId('reset')
  assert.equal(reset.style.display, 'none')

  framesGroup.fire('click', rect('parse'))
  assert.deepEqual(geometry('parse'), [10, inner])
  assert.deepEqual(geometry('lex'), [10, (inner * 30) / 40])
  assert.equal(named('lex').getElementsByTagName('text')[0]!.textContent, 'lex')
  // Ancestors span the width, faded; everything beside the zoomed frame is hidden.
  assert.deepEqual(geometry('main'), [10, inner])
  assert.ok(named('main').classes.has('a'))
  assert.equal(named('emit').style.display, 'none')
  assert.equal(named('vfs_write_[k]').style.display, 'none')
  assert.equal(reset.style.display, '')

  // Hovering shows the frame's title below the graph.
  framesGroup.fire('mouseover', rect('lex'))
  assert.equal(byId('details').textContent, 'lex (30 samples, 30.00%)')

  // Zooming from an ancestor shown at full width works from the original layout.
  framesGroup.fire('click', rect('main'))
  assert.deepEqual(geometry('emit'), [10, (inner * 60) / 100])
  assert.equal(named('emit').style.display, '')

  reset.fire('click', reset)
  for (const [n, [x, w]] of before) {
    const r = n.getElementsByTagName('rect')[0]!
    assert.equal(Number(r.getAttribute('x')), Number(x))
    assert.equal(Number(r.getAttribute('width')), Number(w))
    assert.equal(n.style.display, '')
    assert.ok(!n.classes.has('a'))
  }
  assert.equal(reset.style.display, 'none')
})
