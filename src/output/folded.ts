// Folded stacks: one `root;...;leaf count` line per stack, the input of
// flamegraph.pl, speedscope and our own flame graph.

export type StackSample = {
  /**
   * Frames leaf first, as a stack map gives them: the kernel frames (if any)
   * first, then the user frames, then anything the caller puts at the root
   * (a process name, say). An empty frame is printed as one: bcc's
   * stackcount starts a line with an empty process name when it has none.
   */
  frames: readonly string[]
  count: number
  /**
   * How many of `frames`, from the leaf, are kernel frames. With a delimiter
   * it goes between them and the rest whenever this is set, even when either
   * side is empty, as bcc's stackcount -d prints it.
   */
  kernelFrames?: number
}

export type FoldedOptions = {
  /** Frame put between the user and the kernel part (bcc's `-d` puts `-`). */
  delimiter?: string
  /** `stack` (default): by stack text; `count`: ascending count as bcc prints, ties by stack text. */
  order?: 'stack' | 'count'
  /**
   * true (default): samples that fold to the same text are summed into one
   * line. false: one line per sample, as bcc's stackcount prints one line
   * per key of its count map, so two processes of one name with the same
   * stack give two equal stacks on two lines.
   */
  merge?: boolean
}

export type FoldedStack = {
  /** Frames root first. */
  frames: string[]
  count: number
}

/**
 * Folded-stack text, root first, each line ending in a newline. Frame names
 * lose what would break the format: `;` becomes `:`, line breaks a space.
 * Samples with no positive count are left out.
 */
export function foldStacks(samples: readonly StackSample[], opts: FoldedOptions = {}): string {
  let lines: [string, number][]
  if (opts.merge === false) {
    lines = samples.filter((s) => s.count > 0).map((s) => [foldedStack(s, opts.delimiter), s.count])
  } else {
    const sums = new Map<string, number>()
    for (const s of samples) {
      if (!(s.count > 0)) continue
      const key = foldedStack(s, opts.delimiter)
      sums.set(key, (sums.get(key) ?? 0) + s.count)
    }
    lines = [...sums]
  }
  lines.sort(opts.order === 'count' ? byCountThenStack : byStack)
  let out = ''
  for (const [stack, count] of lines) out += `${stack} ${count}\n`
  return out
}

/** One sample's frames, root first, joined by `;` (no count). */
function foldedStack(s: StackSample, delimiter?: string): string {
  const n = s.frames.length
  const k = s.kernelFrames === undefined ? -1 : Math.min(Math.max(s.kernelFrames, 0), n)
  const parts: string[] = []
  for (let i = n - 1; i >= 0; i--) {
    if (delimiter !== undefined && i === k - 1) parts.push(cleanFrame(delimiter))
    parts.push(cleanFrame(s.frames[i]!))
  }
  // No kernel frames: the delimiter ends the line (bcc's `comm;main;read;-`).
  if (delimiter !== undefined && k === 0) parts.push(cleanFrame(delimiter))
  return parts.join(';')
}

/**
 * Parse folded-stack text back into stacks (root first); lines that are not
 * `stack count` are skipped. Empty frames are kept as empty strings: a line
 * `;a;b 5` has three frames, and ` 5` (no frames at all) one.
 */
export function parseFolded(text: string): FoldedStack[] {
  const out: FoldedStack[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd()
    const sp = line.lastIndexOf(' ')
    if (sp < 0) continue
    const count = line.slice(sp + 1)
    if (!/^\d+(?:\.\d*)?$/.test(count)) continue
    out.push({frames: line.slice(0, sp).split(';'), count: Number(count)})
  }
  return out
}

function cleanFrame(f: string): string {
  return f.replace(/;/g, ':').replace(/[\r\n]+/g, ' ')
}

// Code-unit order, not locale order, so the output is the same everywhere.
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function byStack(a: [string, number], b: [string, number]): number {
  return compareText(a[0], b[0])
}

function byCountThenStack(a: [string, number], b: [string, number]): number {
  return a[1] - b[1] || compareText(a[0], b[0])
}
