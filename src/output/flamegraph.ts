// A self-contained interactive SVG flame graph: the root at the bottom, each
// frame as wide as its share of the samples, siblings in name order so the
// same stacks always give the same file. A small embedded script zooms into a
// clicked frame; hovering shows the frame's name and counts.

export type FlameStack = {
  /** Frames root first. */
  frames: readonly string[]
  count: number
}

export type FlameGraphOptions = {
  title?: string
  /** Width of the image in pixels; default 1200. */
  width?: number
  /** Frames narrower than this many pixels are left out, with what is above them; default 0.1. */
  minWidth?: number
  /** What a count counts, shown in each frame's title; default `samples`. */
  countName?: string
}

type Node = {
  name: string
  total: number
  children: Map<string, Node>
}

const FRAME_HEIGHT = 16
const FONT_SIZE = 12
// Average glyph width of the label font as a fraction of its size; good enough to truncate labels.
const CHAR_WIDTH = FONT_SIZE * 0.59
const X_PAD = 10
const TOP_PAD = 36
const BOTTOM_PAD = 24
const ROOT_NAME = 'all'

export function renderFlameGraph(stacks: readonly FlameStack[], opts: FlameGraphOptions = {}): string {
  const width = opts.width !== undefined && opts.width > 2 * X_PAD + 1 ? opts.width : 1200
  const minWidth = opts.minWidth ?? 0.1
  const countName = opts.countName ?? 'samples'
  const title = opts.title ?? 'Flame Graph'
  const inner = width - 2 * X_PAD

  const root = buildTree(stacks)
  const scale = root.total > 0 ? inner / root.total : 0

  type Placed = {node: Node; depth: number; start: number}
  const placed: Placed[] = []
  let maxDepth = -1
  if (root.total > 0) {
    const walk = (node: Node, depth: number, start: number): void => {
      if (node.total * scale < minWidth) return
      placed.push({node, depth, start})
      if (depth > maxDepth) maxDepth = depth
      let s = start
      for (const child of [...node.children.values()].sort(byName)) {
        walk(child, depth + 1, s)
        s += child.total
      }
    }
    walk(root, 0, 0)
  }

  const height = TOP_PAD + Math.max(maxDepth + 1, 1) * FRAME_HEIGHT + BOTTOM_PAD
  const parts: string[] = []
  parts.push(
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
    `<svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" data-total="${root.total}" data-width="${num(inner)}" data-x="${X_PAD}" data-cw="${num(CHAR_WIDTH)}">`,
    '<style>',
    `text { font-family: Verdana, Arial, sans-serif; font-size: ${FONT_SIZE}px; fill: #000; }`,
    '#title { font-size: 17px; text-anchor: middle; }',
    '#reset { cursor: pointer; fill: #0645ad; }',
    'g.f { cursor: pointer; }',
    'g.f text { pointer-events: none; }',
    'g.f:hover rect { stroke: #000; stroke-width: 0.5; }',
    'g.f.a rect { opacity: 0.5; }',
    '</style>',
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#f8f8f4"/>`,
    `<text id="title" x="${num(width / 2)}" y="24">${esc(title)}</text>`,
    `<text id="reset" x="${X_PAD}" y="24" style="display:none">Reset Zoom</text>`,
    `<text id="details" x="${X_PAD}" y="${height - 8}"> </text>`,
  )
  if (root.total === 0) parts.push(`<text x="${num(width / 2)}" y="${TOP_PAD + 12}" style="text-anchor:middle">No ${esc(countName)}</text>`)

  parts.push('<g id="frames">')
  for (const {node, depth, start} of placed) {
    const x = X_PAD + start * scale
    const w = node.total * scale
    const y = height - BOTTOM_PAD - (depth + 1) * FRAME_HEIGHT
    const pct = ((node.total / root.total) * 100).toFixed(2)
    parts.push(
      `<g class="f" data-d="${depth}" data-s="${start}" data-n="${node.total}">` +
        `<title>${esc(`${node.name} (${node.total} ${countName}, ${pct}%)`)}</title>` +
        `<rect x="${num(x)}" y="${y}" width="${num(w)}" height="${FRAME_HEIGHT - 1}" rx="2" ry="2" fill="${frameColor(node.name, depth)}"/>` +
        `<text x="${num(x + 3)}" y="${y + 11.5}">${esc(fitLabel(node.name, w))}</text>` +
        '</g>',
    )
  }
  parts.push('</g>', `<script type="text/ecmascript"><![CDATA[${ZOOM_SCRIPT}]]></script>`, '</svg>', '')
  return parts.join('\n')
}

/** The fill of a frame: a warm colour from its name, a cool one for kernel frames (`_[k]`), grey for the root and delimiters. */
export function frameColor(name: string, depth = 1): string {
  if (depth === 0 || name === '-' || name === '--') return 'rgb(190,190,190)'
  const h = fnv1a(name)
  const a = (h & 0xff) / 255
  const b = ((h >>> 8) & 0xff) / 255
  const c = ((h >>> 16) & 0xff) / 255
  if (name.endsWith('_[k]')) return rgb(40 + 60 * a, 150 + 60 * b, 200 + 55 * c)
  return rgb(205 + 50 * a, 230 * b, 55 * c)
}

/** The label that fits a frame `w` pixels wide: the name, cut with `..`, or nothing. */
export function fitLabel(name: string, w: number): string {
  const chars = Math.floor((w - 6) / CHAR_WIDTH)
  if (chars < 3) return ''
  return name.length <= chars ? name : name.slice(0, chars - 2) + '..'
}

/** Text made safe for XML character data and quoted attribute values. */
export function escapeXml(s: string): string {
  return esc(s)
}

function buildTree(stacks: readonly FlameStack[]): Node {
  const root: Node = {name: ROOT_NAME, total: 0, children: new Map()}
  for (const s of stacks) {
    if (!(s.count > 0)) continue
    root.total += s.count
    let node = root
    for (const f of s.frames) {
      // An empty frame names nothing (bcc's stackcount roots a stack at an
      // empty process name when it has none): what is above it hangs from
      // the frame below it, and a stack of nothing else is the root's own.
      if (f === '') continue
      let child = node.children.get(f)
      if (!child) {
        child = {name: f, total: 0, children: new Map()}
        node.children.set(f, child)
      }
      child.total += s.count
      node = child
    }
  }
  return root
}

function byName(a: Node, b: Node): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

function esc(s: string): string {
  return (
    s
      // Characters XML 1.0 forbids, and unpaired surrogates, would make the file unreadable.
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
      .replace(/[&<>"']/g, (c) => ENTITIES[c]!)
  )
}

const ENTITIES: Record<string, string> = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}

function num(n: number): string {
  return String(Math.round(n * 100) / 100)
}

function rgb(r: number, g: number, b: number): string {
  return `rgb(${Math.round(r)},${Math.round(g)},${Math.round(b)})`
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

// Runs in the viewer. Frames carry their depth, first sample and sample count
// in data attributes; zooming re-lays them out from those alone.
const ZOOM_SCRIPT = `
(function () {
  var svg = document.documentElement;
  var total = +svg.getAttribute('data-total');
  var W = +svg.getAttribute('data-width');
  var X = +svg.getAttribute('data-x');
  var CW = +svg.getAttribute('data-cw');
  var frames = document.getElementById('frames');
  var reset = document.getElementById('reset');
  var details = document.getElementById('details');
  if (!frames || !(total > 0)) return;
  var all = frames.getElementsByTagName('g');

  function r2(n) { return String(Math.round(n * 100) / 100); }
  function info(g) { var t = g.getElementsByTagName('title')[0]; return t ? t.textContent : ''; }
  function name(g) { var s = info(g); var i = s.lastIndexOf(' ('); return i < 0 ? s : s.slice(0, i); }
  function fit(n, w) {
    var c = Math.floor((w - 6) / CW);
    if (c < 3) return '';
    return n.length <= c ? n : n.slice(0, c - 2) + '..';
  }
  function place(g, x, w, ancestor) {
    var r = g.getElementsByTagName('rect')[0];
    var t = g.getElementsByTagName('text')[0];
    r.setAttribute('x', r2(x));
    r.setAttribute('width', r2(w));
    t.setAttribute('x', r2(x + 3));
    t.textContent = fit(name(g), w);
    g.style.display = '';
    if (ancestor) g.classList.add('a'); else g.classList.remove('a');
  }
  function attrs(g) { return [+g.getAttribute('data-d'), +g.getAttribute('data-s'), +g.getAttribute('data-n')]; }
  function zoom(target) {
    var z = attrs(target), d0 = z[0], s0 = z[1], n0 = z[2];
    for (var i = 0; i < all.length; i++) {
      var g = all[i], a = attrs(g), d = a[0], s = a[1], n = a[2];
      if (d < d0 && s <= s0 && s + n >= s0 + n0) place(g, X, W, true);
      else if (d >= d0 && s >= s0 && s + n <= s0 + n0) place(g, X + (s - s0) * W / n0, n * W / n0, false);
      else g.style.display = 'none';
    }
    reset.style.display = d0 === 0 ? 'none' : '';
  }
  function unzoom() {
    for (var i = 0; i < all.length; i++) {
      var a = attrs(all[i]);
      place(all[i], X + a[1] * W / total, a[2] * W / total, false);
    }
    reset.style.display = 'none';
  }
  function frameOf(e) {
    var el = e.target;
    return el && el.closest ? el.closest('g.f') : null;
  }
  frames.addEventListener('click', function (e) { var g = frameOf(e); if (g) zoom(g); });
  frames.addEventListener('mouseover', function (e) { var g = frameOf(e); if (g) details.textContent = info(g); });
  frames.addEventListener('mouseout', function () { details.textContent = ' '; });
  reset.addEventListener('click', unzoom);
})();
`
