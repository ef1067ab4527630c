// Where stackcount's program goes: the target's tracepoints, kernel
// functions or library functions an event pattern names, found on the
// target (tracefs, available_filter_functions, the library's ELF symbols),
// and the attaching of one loaded program to every one of them.
import type {Collection, LiveProgram} from '../../loader/collection.js'
import {AttachError, LoadError} from '../../loader/errors.js'
import {resolveBinary} from '../../loader/uprobe.js'
import type {Client} from '../../remote/client.js'
import {BpfdError} from '../../remote/errors.js'
import {readElfSymbols, vaddrToFileOffset} from '../../symbols/elf-symbols.js'
import {parseMaps} from '../../symbols/proc-maps.js'
import {isWildcard, nameMatcher, type ProbePattern} from './options.js'

export type ProbeTarget =
  | {kind: 'tracepoint'; category: string; event: string}
  | {kind: 'kprobe'; func: string}
  | {kind: 'uprobe'; path: string; func: string; offset: bigint}

/** bcc refuses patterns matching more than this many probes; so do we. */
export const MAX_PROBES = 1000

export function describeProbe(t: ProbeTarget): string {
  switch (t.kind) {
    case 'tracepoint':
      return `t:${t.category}:${t.event}`
    case 'kprobe':
      return `k:${t.func}`
    case 'uprobe':
      return `u:${t.path}:${t.func}`
  }
}

/** The probes an event pattern names on the target; an error when it names none. */
export async function findProbes(client: Client, p: ProbePattern, o: {regexp: boolean; pid?: number}): Promise<ProbeTarget[]> {
  let found: ProbeTarget[]
  switch (p.kind) {
    case 'tracepoint':
      found = await findTracepoints(client, p.category, p.event, o.regexp)
      break
    case 'kprobe':
      found = await findKernelFunctions(client, p.func, o.regexp)
      break
    case 'uprobe':
      found = await findLibraryFunctions(client, p.library, p.func, o)
      break
  }
  if (found.length > MAX_PROBES) throw new LoadError(`the pattern matches ${found.length} probes; more than ${MAX_PROBES} would make the target crawl, narrow it down`)
  return found
}

function tracefs(client: Client): string {
  const t = client.hello.tracefs
  if (!t) throw new LoadError(`${client.transport}: the target has no tracefs mounted, so it has no tracepoints to attach to`)
  return t
}

async function findTracepoints(client: Client, category: string, event: string, regexp: boolean): Promise<ProbeTarget[]> {
  // A name without wildcards is attached as given; the kernel says if it is missing.
  if (!isWildcard(category, regexp) && !isWildcard(event, regexp)) return [{kind: 'tracepoint', category, event}]
  const events = `${tracefs(client)}/events`
  const catMatch = nameMatcher(category, regexp)
  const evMatch = nameMatcher(event, regexp)
  const categories = isWildcard(category, regexp) ? (await client.listDir(events)).filter((e) => e.type === 'dir' && catMatch(e.name)).map((e) => e.name) : [category]
  const lists = await Promise.all(categories.map((c) => client.listDir(`${events}/${c}`).catch(() => [])))
  const out: ProbeTarget[] = []
  categories.forEach((c, i) => {
    for (const e of lists[i]!) if (e.type === 'dir' && evMatch(e.name)) out.push({kind: 'tracepoint', category: c, event: e.name})
  })
  if (!out.length) throw new LoadError(`no tracepoint on the target matches t:${category}:${event} (they are listed under ${events})`)
  return out.sort((a, b) => describeProbe(a).localeCompare(describeProbe(b)))
}

/** A tracepoint to suggest instead of a kernel function, where one is obvious. */
function tracepointFor(func: string): string {
  const m = /^(?:__x64_sys_|__arm64_sys_|__ia32_sys_|__se_sys_|__do_sys_|ksys_|sys_|vfs_|do_sys_)(\w+?)\d*$/.exec(func)
  return m ? `t:syscalls:sys_enter_${m[1]}` : 't:sched:sched_switch'
}

async function findKernelFunctions(client: Client, func: string, regexp: boolean): Promise<ProbeTarget[]> {
  if (client.hello.features.kprobe === 'none') {
    throw new LoadError(
      `cannot trace k:${func}: the target kernel has no kprobes (CONFIG_KPROBES is off), so no kernel function can be traced. ` +
        `Count the stacks at a tracepoint instead, e.g. ${tracepointFor(func)} (the target's tracepoints are under ${client.hello.tracefs ?? '/sys/kernel/tracing'}/events)`,
    )
  }
  if (!isWildcard(func, regexp)) return [{kind: 'kprobe', func}]
  const text = (await client.readWholeFile(`${tracefs(client)}/available_filter_functions`)).toString('utf8')
  const match = nameMatcher(func, regexp)
  const names = new Set<string>()
  for (const line of text.split('\n')) {
    const name = line.split(/\s/, 1)[0]
    // Compiler-made local copies (.isra, .constprop) and notrace sections cannot be probed by name reliably.
    if (name && !name.includes('.') && match(name)) names.add(name)
  }
  if (!names.size) throw new LoadError(`no kernel function on the target matches '${func}'`)
  return [...names].sort().map((f) => ({kind: 'kprobe', func: f}))
}

/** The library a uprobe names: a path, the one mapped by -p's process, or found in the target's library directories. */
async function findLibrary(client: Client, library: string, pid: number | undefined): Promise<string> {
  if (library.startsWith('/')) return library
  // Versioned names first: a bare libX.so is often a linker script.
  const names = /\.so(\.|$)/.test(library) || library.includes('/') ? [library] : [library, `lib${library}.so.6`, `lib${library}.so.1`, `lib${library}.so.0`, `lib${library}.so`]
  if (pid !== undefined) {
    const text = await client.readWholeFile(`/proc/${pid}/maps`).then((b) => b.toString('utf8'), () => '')
    for (const m of parseMaps(text)) {
      const base = m.path.slice(m.path.lastIndexOf('/') + 1)
      if (names.includes(base) || base.startsWith(`lib${library}.so`) || base.startsWith(`lib${library}-`)) return m.path
    }
  }
  const found = (await Promise.all(names.map((n) => resolveBinary(client, n)))).filter((f): f is string => f !== undefined)
  const heads = await Promise.all(found.map((f) => client.readFile(f, {len: 4}).then((c) => c.data, () => Buffer.alloc(0))))
  const path = found.find((_, i) => heads[i]!.equals(ELF_MAGIC))
  if (!path) throw new LoadError(`cannot find library '${library}' on the target; give its full path (u:/path/to/lib.so:FUNC)`)
  return path
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46])

async function findLibraryFunctions(client: Client, library: string, func: string, o: {regexp: boolean; pid?: number}): Promise<ProbeTarget[]> {
  if (client.hello.features.uprobe === 'none') throw new LoadError(`cannot trace u:${library}:${func}: the target kernel has no uprobes (CONFIG_UPROBE_EVENTS is off)`)
  const path = await findLibrary(client, library, o.pid)
  let elf
  try {
    elf = readElfSymbols(await client.readWholeFile(path))
  } catch (e) {
    if (e instanceof BpfdError) throw new LoadError(`cannot read ${path} on the target: ${e.detail} (${e.errname})`)
    throw new LoadError(`${path}: ${(e as Error).message}`)
  }
  const match = nameMatcher(func, o.regexp)
  const byOffset = new Map<bigint, string>()
  for (const s of elf.symbols) {
    if (s.type !== 'func' && s.type !== 'ifunc') continue
    const name = s.name.replace(/@.*$/, '')
    if (!match(name)) continue
    const offset = vaddrToFileOffset(elf, s.value)
    // Aliases of one function are one probe.
    if (offset !== undefined && !byOffset.has(offset)) byOffset.set(offset, name)
  }
  if (!byOffset.size) throw new LoadError(`no function in ${path} matches '${func}'${elf.symbols.length ? '' : ' (the file has no symbols)'}`)
  return [...byOffset].map(([offset, name]) => ({kind: 'uprobe', path, func: name, offset}))
}

export type AttachResult = {attached: number; failed: {target: ProbeTarget; reason: string}[]}

/**
 * Attaches one loaded program to every target (pipelined: one round trip).
 * The collection owns the links. Fails only when nothing could be attached.
 */
export async function attachProbes(c: Collection, prog: LiveProgram, targets: readonly ProbeTarget[], pid?: number): Promise<AttachResult> {
  const client = c.client
  const results = await Promise.allSettled(
    targets.map(async (t) => {
      switch (t.kind) {
        case 'tracepoint':
          return (await client.attachTracepoint(prog.handle, t.category, t.event)).handle
        case 'kprobe':
          return (await client.attachKprobe(prog.handle, t.func)).handle
        case 'uprobe':
          return (await client.attachUprobe(prog.handle, t.path, t.offset, {pid})).handle
      }
    }),
  )
  const failed: AttachResult['failed'] = []
  let attached = 0
  let first: AttachError | undefined
  results.forEach((r, i) => {
    const t = targets[i]!
    if (r.status === 'fulfilled') {
      c.own(r.value)
      attached++
      return
    }
    const e = r.reason
    if (!(e instanceof BpfdError)) throw e
    const reason = e.errname === 'ENOENT' ? `it does not exist on the target (${e.detail})` : `${e.detail} (${e.errname})`
    first ??= new AttachError(prog.spec.name, describeProbe(t), e.errname, reason)
    failed.push({target: t, reason})
  })
  if (attached === 0 && first) throw first
  return {attached, failed}
}
