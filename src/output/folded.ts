// Folded stacks: one `root;...;leaf count` line per distinct stack, the
// input of flamegraph.pl, speedscope and our own flame graph.

export type StackSample = {
  /**
   * Frames leaf first, as a stack map gives them: the kernel frames (if any)
   * first, then the user frames, then anything the caller puts at the root
   * (a process name, say).
   */
  frames: readonly string[]
  count: number
  /**
   * How many of `frames`, from the leaf, are kernel frames. The delimiter goes
   * between them and the rest; set it only when the sample has both a kernel
   * and a user stack, as bcc prints the delimiter only then.
   */
  kernelFrames?: number
}

export type FoldedOptions = {
  /** Frame put between the user and the kernel part (bcc's `-d` puts `-`). */
  delimiter?: string
  /** `stack` (default): by stack text; `count`: ascending count as bcc prints, ties by stack text. */
  order?: 'stack' | 'count'
}

export type FoldedStack = {
  /** Frames root first. */
  frames: string[]
  count: number
}

/**
 * Folded-stack text, root first, one line per distinct stack (samples that
 * fold to the same line are summed), each ending in a newline. Frame names
 * lose what would break the format: `;` becomes `:`, line breaks a space.
 */
export function foldStacks(samples: readonly StackSample[], opts: FoldedOptions = {}): string {
  const sums = new Map<string, number>()
  for (const s of samples) {
    if (!(s.count > 0)) continue
    const parts: string[] = []
    const n = s.frames.length
    const k = Math.min(Math.max(s.kernelFrames ?? 0, 0), n)
    for (let i = n - 1; i >= 0; i--) {
      if (opts.delimiter !== undefined && i === k - 1 && k > 0 && k < n) parts.push(cleanFrame(opts.delimiter))
      parts.push(cleanFrame(s.frames[i]!))
    }
    const key = parts.join(';')
    sums.set(key, (sums.get(key) ?? 0) + s.count)
  }
  const lines = [...sums].sort(opts.order === 'count' ? byCountThenStack : byStack)
  let out = ''
  for (const [stack, count] of lines) out += `${stack} ${count}\n`
  return out
}

/** Parse folded-stack text back into stacks (root first); lines that are not `stack count` are skipped. */
export function parseFolded(text: string): FoldedStack[] {
  const out: FoldedStack[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd()
    const sp = line.lastIndexOf(' ')
    if (sp <= 0) continue
    const count = Number(line.slice(sp + 1))
    if (!Number.isFinite(count)) continue
    out.push({frames: line.slice(0, sp).split(';'), count})
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
