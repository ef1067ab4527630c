// Kernel and user stack frames to names, for a target reached through bpfd.
// The target's /proc/kallsyms is read once per session and kept on the host
// by kernel release and boot id (it only changes when the target reboots or
// loads modules). User frames go through the process's /proc/PID/maps to the
// mapped ELF files, whose symbol tables are kept on the host by build-id and
// found again by each file's stat (symbol-cache.ts): a second run, and every
// process of the same binary, stats the mapped files and reads none of their
// bytes. Every request for a batch of pids is pipelined.
import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {defaultCacheDir} from '../compile/index.js'
import type {Hello} from '../remote/hello.js'
import type {FileChunk, FileStat} from '../remote/client.js'
import {BpfdError} from '../remote/errors.js'
import type {Logger} from '../remote/transport.js'
import {demangleNames} from './demangle.js'
import {readElfSymbols, type ElfSymbols} from './elf-symbols.js'
import {KernelSymbols, UNKNOWN_SYMBOL} from './kallsyms.js'
import {elfAddressOf, findMapping, isFileBacked, parseMaps, type Mapping} from './proc-maps.js'
import {safeName, SymbolCache, writeAtomically, type CodeSymbols} from './symbol-cache.js'

/** The part of the client the symbolizer reads through. */
export interface SymbolSource {
  readonly hello: Pick<Hello, 'machine' | 'release' | 'bootId'>
  readFile(path: string, options?: {offset?: number; len?: number}): Promise<FileChunk>
  readWholeFile(path: string, options?: {size?: number}): Promise<Buffer>
  stat(path: string): Promise<FileStat>
}

export type SymbolizerOptions = {
  /** Where kallsyms and ELF symbol tables are kept (default: the compile cache directory). */
  cacheDir?: string
  logger?: Logger
  /** C++ demanglers to try, in order (default: llvm-cxxfilt, c++filt). */
  demanglers?: readonly string[]
}

export type FrameOptions = {
  /** Append `+0x<offset>` (bcc's -s). */
  offset?: boolean
}

type ProcessView = {maps: Mapping[]; files: Map<Mapping, CodeSymbols | undefined>}

// Enough for the ELF header, program headers and the build-id note of any
// ordinary binary; they sit at the start of the file.
const HEAD_BYTES = 16 * 1024

export class Symbolizer {
  private kernelTable?: Promise<KernelSymbols>
  private readonly processes = new Map<number, ProcessView>()
  /** Parsed files by `dev:inode` (or path), shared by every process mapping them. */
  private readonly files = new Map<string, Promise<CodeSymbols | undefined>>()
  private readonly cacheDir: string
  private readonly cache: SymbolCache
  private warnedRestricted = false
  /** The target's bpfd predates `stat`: files are known by their build-id alone. */
  private noStat = false

  constructor(
    private readonly target: SymbolSource,
    private readonly options: SymbolizerOptions = {},
  ) {
    this.cacheDir = options.cacheDir ?? defaultCacheDir()
    this.cache = new SymbolCache(this.cacheDir)
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
    const file = join(dir, `${safeName(h.machine)}-${safeName(h.release)}-${safeName(h.bootId)}.txt`)
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
    await writeAtomically(file, text).catch((e: Error) => this.options.logger?.debug(`cannot cache kallsyms: ${e.message}`))
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

  /**
   * The kernel's vDSO image: the same in every process of one ABI until the
   * target reboots, so it is read from one process's memory once per boot
   * (its address tells a 64-bit process from a 32-bit one).
   */
  private vdso(pid: number, m: Mapping): Promise<CodeSymbols | undefined> {
    const h = this.target.hello
    const bits = m.start >= 1n << 32n ? 64 : 32
    const id = `vdso-${createHash('sha256').update(JSON.stringify([h.machine, h.bootId, bits, String(m.end - m.start)])).digest('hex')}`
    let f = this.files.get(id)
    if (!f) {
      f = this.loadVdso(pid, m, id).catch((e: Error) => {
        this.options.logger?.debug(`no symbols for the vDSO: ${e.message}`)
        return undefined
      })
      this.files.set(id, f)
    }
    return f
  }

  private async loadVdso(pid: number, m: Mapping, id: string): Promise<CodeSymbols | undefined> {
    const cached = await this.cached(id)
    if (cached) return cached
    const c = await this.target.readFile(`/proc/${pid}/mem`, {offset: Number(m.start), len: Number(m.end - m.start)})
    const syms = await this.symbolsOf(readElfSymbols(c.data))
    await this.store(id, syms)
    return syms
  }

  private async readCodeSymbols(pid: number, m: Mapping): Promise<CodeSymbols | undefined> {
    // Through the process's root, the file it mapped even inside a container;
    // a deleted file only through its mapping.
    const base = `/proc/${pid}`
    const hex = (v: bigint) => v.toString(16)
    const paths = m.deleted ? [`${base}/map_files/${hex(m.start)}-${hex(m.end)}`] : [`${base}/root${m.path}`, m.path]
    let path: string | undefined
    let st: FileStat | undefined
    for (const p of paths) {
      st = await this.statOf(p)
      if (st) {
        path = p
        break
      }
    }
    if (st && st.type !== 'file') throw new Error('not a regular file')
    const key = st && SymbolCache.statKey(this.target.hello, m.path, st)
    if (key) {
      const known = await this.cache.indexed(key)
      const syms = known && (await this.cached(known))
      if (syms) return syms
    } else if (!this.noStat) {
      return undefined // the file is gone (the process exited) or cannot be reached
    }
    // A version of the file not seen on this boot: its build-id may still
    // name a table read before (another path, another boot, another target).
    let head: Buffer | undefined
    for (const p of path ? [path] : paths) {
      head = await this.target.readFile(p, {len: HEAD_BYTES}).then((c) => c.data, () => undefined)
      if (head) {
        path = p
        break
      }
    }
    if (!head || !path) return undefined
    const peek = peekElf(head)
    if (peek?.buildId) {
      const syms = await this.cached(peek.buildId)
      if (syms) {
        if (key) await this.indexIfUnchanged(m, path, key, peek.buildId)
        return syms
      }
    }
    const whole = st && head.length >= st.size ? head : await this.target.readWholeFile(path, {size: st?.size ?? peek?.size})
    const elf = readElfSymbols(whole)
    const syms = await this.symbolsOf(elf)
    this.options.logger?.debug(`read ${m.path} from the target (${whole.length} bytes, ${syms.names.length} functions)`)
    // No build-id: the table is known by this version of the file alone.
    const id = elf.buildId ?? (key && `stat-${key}`)
    if (id) await this.store(id, syms)
    if (id && key) await this.indexIfUnchanged(m, path, key, id)
    return syms
  }

  /** The file's stat; undefined when it cannot be had (then noStat says whether bpfd lacks the op). */
  private async statOf(path: string): Promise<FileStat | undefined> {
    if (this.noStat) return undefined
    try {
      return await this.target.stat(path)
    } catch (e) {
      if (e instanceof BpfdError && e.errname === 'ENOSYS') {
        if (!this.noStat) this.options.logger?.debug('bpfd on the target has no stat (it is older than this host): each mapped file is identified by reading its head')
        this.noStat = true
      }
      return undefined
    }
  }

  /** Records which table this version of the file has, unless it changed while it was being read. */
  private async indexIfUnchanged(m: Mapping, path: string, key: string, table: string): Promise<void> {
    const now = await this.target.stat(path).catch(() => undefined)
    if (!now || SymbolCache.statKey(this.target.hello, m.path, now) !== key) {
      this.options.logger?.debug(`${m.path} changed while it was read; not indexing it`)
      return
    }
    await this.cache.index(key, table).catch((e: Error) => this.options.logger?.debug(`cannot index ${m.path}: ${e.message}`))
  }

  /** A cached table, demangled now if it was cached where no demangler was. */
  private async cached(table: string): Promise<CodeSymbols | undefined> {
    const syms = await this.cache.read(table)
    if (!syms || syms.demangled) return syms
    const again = await this.demangle(syms)
    if (again.demangled) await this.store(table, again)
    return again
  }

  private async symbolsOf(elf: ElfSymbols): Promise<CodeSymbols> {
    return this.demangle(codeSymbols(elf))
  }

  /** One demangler run for the whole table. */
  private async demangle(syms: CodeSymbols): Promise<CodeSymbols> {
    const d = await demangleNames(syms.names, {logger: this.options.logger, tools: this.options.demanglers})
    return {...syms, names: d.names, demangled: d.demangled}
  }

  private async store(table: string, syms: CodeSymbols): Promise<void> {
    await this.cache.write(table, syms).catch((e: Error) => this.options.logger?.debug(`cannot cache symbol table ${table}: ${e.message}`))
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

/** Functions only, by address: data symbols never name a stack frame. Names as the file has them. */
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
  return {names, values, sizes, segments: elf.segments.map((g) => ({vaddr: g.vaddr, offset: g.offset, filesz: g.filesz, flags: g.flags})), demangled: false}
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
