// Kernel and user stack frames to names, for a target reached through bpfd.
// The target's /proc/kallsyms is read once per session and kept on the host
// by kernel release and boot id (it only changes when the target reboots or
// loads modules). User frames go through the process's /proc/PID/maps to the
// mapped ELF files, whose symbol tables are kept on the host by build-id, so
// a second run, and every process of the same binary, reads only the first
// bytes of each file. Every read for a batch of pids is pipelined.
import {mkdir, readFile, rename, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {defaultCacheDir} from '../compile/index.js'
import type {Hello} from '../remote/hello.js'
import type {FileChunk} from '../remote/client.js'
import type {Logger} from '../remote/transport.js'
import {readElfSymbols, type ElfSymbols} from './elf-symbols.js'
import {KernelSymbols, UNKNOWN_SYMBOL} from './kallsyms.js'
import {elfAddressOf, findMapping, isFileBacked, parseMaps, type LoadSegment, type Mapping} from './proc-maps.js'

/** The part of the client the symbolizer reads through. */
export interface SymbolSource {
  readonly hello: Pick<Hello, 'machine' | 'release' | 'bootId'>
  readFile(path: string, options?: {offset?: number; len?: number}): Promise<FileChunk>
  readWholeFile(path: string, options?: {size?: number}): Promise<Buffer>
}

export type SymbolizerOptions = {
  /** Where kallsyms and ELF symbol tables are kept (default: the compile cache directory). */
  cacheDir?: string
  logger?: Logger
}

export type FrameOptions = {
  /** Append `+0x<offset>` (bcc's -s). */
  offset?: boolean
}

/** The code symbols of one ELF file, sorted by address, with its load segments. */
type CodeSymbols = {
  names: string[]
  values: bigint[]
  sizes: number[]
  segments: LoadSegment[]
}

type ProcessView = {maps: Mapping[]; files: Map<Mapping, CodeSymbols | undefined>}

// Enough for the ELF header, program headers and the build-id note of any
// ordinary binary; they sit at the start of the file.
const HEAD_BYTES = 16 * 1024
const CACHE_FORMAT = 1

export class Symbolizer {
  private kernelTable?: Promise<KernelSymbols>
  private readonly processes = new Map<number, ProcessView>()
  /** Parsed files by `dev:inode` (or path), shared by every process mapping them. */
  private readonly files = new Map<string, Promise<CodeSymbols | undefined>>()
  private readonly cacheDir: string
  private warnedRestricted = false

  constructor(
    private readonly target: SymbolSource,
    private readonly options: SymbolizerOptions = {},
  ) {
    this.cacheDir = options.cacheDir ?? defaultCacheDir()
  }

  /** The target's kernel symbols: read once per session, from the host cache when the target has not rebooted. */
  kernel(): Promise<KernelSymbols> {
    this.kernelTable ??= this.loadKernel()
    return this.kernelTable
  }

  /** A kernel address as bcc prints it: `name`, `name+0x1f` with offsets, `[unknown]`. */
  async kernelFrame(address: bigint, o: FrameOptions = {}): Promise<string> {
    const k = await this.kernel()
    return k.symbolize(address, {offset: o.offset ? true : false})
  }

  /**
   * Reads what symbolising these processes' addresses needs: their maps and
   * every mapped ELF file not yet known (a few pipelined round trips for all
   * of them). A process that has exited keeps the maps read before.
   */
  async loadProcesses(pids: Iterable<number>): Promise<void> {
    const wanted = [...new Set(pids)].filter((p) => p > 0)
    const texts = await Promise.all(wanted.map((pid) => this.target.readWholeFile(`/proc/${pid}/maps`).then((b) => b.toString('utf8'), () => undefined)))
    const views: [number, ProcessView][] = []
    wanted.forEach((pid, i) => {
      const text = texts[i]
      if (text === undefined) return // exited: keep what was read before, if anything
      const view: ProcessView = {maps: parseMaps(text), files: new Map()}
      this.processes.set(pid, view)
      views.push([pid, view])
    })
    // Only executable mappings of files and the vDSO hold code a stack can point into.
    const jobs: Promise<void>[] = []
    for (const [pid, view] of views) {
      for (const m of view.maps) {
        if (m.perms[2] !== 'x') continue
        if (isFileBacked(m)) jobs.push(this.file(pid, m).then((syms) => void view.files.set(m, syms)))
        else if (m.path === '[vdso]') jobs.push(this.vdso(pid, m).then((syms) => void view.files.set(m, syms)))
      }
    }
    await Promise.all(jobs)
  }

  /** A user address of `pid` as bcc prints it: `name`, `name+0x1f` with offsets, `[unknown]`. Call loadProcesses first. */
  userFrame(pid: number, address: bigint, o: FrameOptions = {}): string {
    const view = this.processes.get(pid)
    if (!view) return UNKNOWN_SYMBOL
    const m = findMapping(view.maps, address)
    const syms = m && view.files.get(m)
    if (!m || !syms) return UNKNOWN_SYMBOL
    const at = elfAddressOf(m, address, syms.segments)
    if (at === undefined) return UNKNOWN_SYMBOL
    const i = covering(syms, at)
    if (i < 0) return UNKNOWN_SYMBOL
    const off = at - syms.values[i]!
    return o.offset ? `${syms.names[i]!}+0x${off.toString(16)}` : syms.names[i]!
  }

  private async loadKernel(): Promise<KernelSymbols> {
    const h = this.target.hello
    const dir = join(this.cacheDir, 'kallsyms')
    const file = join(dir, `${safe(h.machine)}-${safe(h.release)}-${safe(h.bootId)}.txt`)
    const cached = await readFile(file, 'utf8').catch(() => undefined)
    if (cached !== undefined) {
      const k = KernelSymbols.parse(cached)
      if (k.size > 0 && !k.restricted) return k
    }
    let text: string
    try {
      text = (await this.target.readWholeFile('/proc/kallsyms')).toString('utf8')
    } catch (e) {
      this.options.logger?.info(`cannot read the target's /proc/kallsyms (${(e as Error).message}); kernel frames print as [unknown]`)
      return KernelSymbols.parse('')
    }
    const k = KernelSymbols.parse(text)
    if (k.restricted) {
      if (!this.warnedRestricted) {
        this.warnedRestricted = true
        this.options.logger?.info(
          'the target hides kernel addresses (/proc/kallsyms reads as zeros: kernel.kptr_restrict, or not root), so kernel frames cannot be named; they print as [unknown]',
        )
      }
      return k
    }
    this.options.logger?.debug(`read the target's /proc/kallsyms (${text.length} bytes, ${k.size} symbols); cached for this boot`)
    await writeAtomically(dir, file, text).catch((e: Error) => this.options.logger?.debug(`cannot cache kallsyms: ${e.message}`))
    return k
  }

  /** The code symbols of the ELF mapped by `m` in `pid`, read once per file per session. */
  private file(pid: number, m: Mapping): Promise<CodeSymbols | undefined> {
    const key = m.inode !== 0n ? `${m.dev}:${m.inode}` : m.path
    let f = this.files.get(key)
    if (!f) {
      f = this.readCodeSymbols(pid, m).catch((e: Error) => {
        this.options.logger?.debug(`no symbols for ${m.path}: ${e.message}`)
        return undefined
      })
      this.files.set(key, f)
    }
    return f
  }

  /** The kernel's vDSO image, the same in every process: read once from a process's memory. */
  private vdso(pid: number, m: Mapping): Promise<CodeSymbols | undefined> {
    let f = this.files.get('[vdso]')
    if (!f) {
      f = this.target
        .readFile(`/proc/${pid}/mem`, {offset: Number(m.start), len: Number(m.end - m.start)})
        .then((c) => codeSymbols(readElfSymbols(c.data)))
        .catch((e: Error) => {
          this.options.logger?.debug(`no symbols for the vDSO: ${e.message}`)
          return undefined
        })
      this.files.set('[vdso]', f)
    }
    return f
  }

  private async readCodeSymbols(pid: number, m: Mapping): Promise<CodeSymbols | undefined> {
    // Through the process's root, the file it mapped even inside a container;
    // a deleted file only through its mapping.
    const base = `/proc/${pid}`
    const hex = (v: bigint) => v.toString(16)
    const paths = m.deleted ? [`${base}/map_files/${hex(m.start)}-${hex(m.end)}`] : [`${base}/root${m.path}`, m.path]
    let path: string | undefined
    let head: Buffer | undefined
    for (const p of paths) {
      head = await this.target.readFile(p, {len: HEAD_BYTES}).then((c) => c.data, () => undefined)
      if (head) {
        path = p
        break
      }
    }
    if (!head || !path) return undefined
    const peek = peekElf(head)
    if (peek?.buildId) {
      const cached = await this.readCache(peek.buildId)
      if (cached) return cached
    }
    const whole = await this.target.readWholeFile(path, {size: peek?.size})
    const elf = readElfSymbols(whole)
    const syms = codeSymbols(elf)
    this.options.logger?.debug(`read ${m.path} from the target (${whole.length} bytes, ${syms.names.length} functions)`)
    if (elf.buildId) await this.writeCache(elf.buildId, syms)
    return syms
  }

  private async readCache(buildId: string): Promise<CodeSymbols | undefined> {
    const text = await readFile(this.cacheFile(buildId), 'utf8').catch(() => undefined)
    if (text === undefined) return undefined
    try {
      const j = JSON.parse(text) as {format: number; names: string[]; values: string[]; sizes: number[]; segments: {vaddr: string; offset: string; filesz: string; flags: number}[]}
      if (j.format !== CACHE_FORMAT) return undefined
      return {
        names: j.names,
        values: j.values.map((v) => BigInt(v)),
        sizes: j.sizes,
        segments: j.segments.map((s) => ({vaddr: BigInt(s.vaddr), offset: BigInt(s.offset), filesz: BigInt(s.filesz), flags: s.flags})),
      }
    } catch {
      return undefined
    }
  }

  private async writeCache(buildId: string, s: CodeSymbols): Promise<void> {
    const text = JSON.stringify({
      format: CACHE_FORMAT,
      names: s.names,
      values: s.values.map((v) => '0x' + v.toString(16)),
      sizes: s.sizes,
      segments: s.segments.map((g) => ({vaddr: String(g.vaddr), offset: String(g.offset), filesz: String(g.filesz), flags: g.flags})),
    })
    await writeAtomically(join(this.cacheDir, 'elf-symbols'), this.cacheFile(buildId), text).catch((e: Error) =>
      this.options.logger?.debug(`cannot cache symbols of build-id ${buildId}: ${e.message}`),
    )
  }

  private cacheFile(buildId: string): string {
    return join(this.cacheDir, 'elf-symbols', `${safe(buildId)}.json`)
  }
}

/**
 * The build-id and likely size of an ELF file from its first bytes alone:
 * readElfSymbols over the head with the section header table hidden reads
 * just the program headers and notes. Undefined when the head does not hold
 * them (the whole file is read then).
 */
export function peekElf(head: Buffer): {buildId?: string; size?: number} | undefined {
  if (head.length < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return undefined
  // Section headers are normally last in the file: their end is its size.
  const shoff = head.readBigUInt64LE(40)
  const shnum = head.readUInt16LE(60)
  const shentsize = head.readUInt16LE(58)
  const end = shoff + BigInt(shnum * shentsize)
  const size = end > 0n && end < BigInt(Number.MAX_SAFE_INTEGER) ? Number(end) : undefined
  const view = Buffer.from(head)
  view.writeBigUInt64LE(0n, 40)
  view.writeUInt16LE(0, 60)
  try {
    const e = readElfSymbols(view)
    return {buildId: e.buildId, size}
  } catch {
    return {size}
  }
}

/** Functions only, by address: data symbols never name a stack frame. */
function codeSymbols(elf: ElfSymbols): CodeSymbols {
  const names: string[] = []
  const values: bigint[] = []
  const sizes: number[] = []
  let lastGlobal = false
  for (const s of elf.symbols) {
    if (s.type !== 'func' && s.type !== 'ifunc') continue
    const last = values.length - 1
    // One name per address: a global one over a local alias.
    if (last >= 0 && values[last] === s.value) {
      if (!lastGlobal && s.bind === 'global') {
        names[last] = stripVersion(s.name)
        sizes[last] = Math.max(sizes[last]!, s.size)
        lastGlobal = true
      }
      continue
    }
    names.push(stripVersion(s.name))
    values.push(s.value)
    sizes.push(s.size)
    lastGlobal = s.bind === 'global'
  }
  return {names, values, sizes, segments: elf.segments.map((g) => ({vaddr: g.vaddr, offset: g.offset, filesz: g.filesz, flags: g.flags}))}
}

/** `memcpy@GLIBC_2.2.5` → `memcpy`, as bcc names frames. */
function stripVersion(name: string): string {
  const at = name.indexOf('@')
  return at > 0 ? name.slice(0, at) : name
}

/**
 * The function covering ELF address `a`: the last one starting at or below
 * it, if `a` is within its size (a size of 0, as hand-written assembly
 * often has, covers up to the next function).
 */
function covering(s: CodeSymbols, a: bigint): number {
  let lo = 0
  let hi = s.values.length - 1
  if (hi < 0 || s.values[0]! > a) return -1
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1
    if (s.values[mid]! <= a) lo = mid
    else hi = mid - 1
  }
  const size = s.sizes[lo]!
  if (size > 0 && a >= s.values[lo]! + BigInt(size)) return -1
  return lo
}

async function writeAtomically(dir: string, file: string, data: string): Promise<void> {
  await mkdir(dir, {recursive: true})
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, data)
  await rename(tmp, file)
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_')
