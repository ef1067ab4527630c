// Attaches loaded programs where their section names say, through bpfd.
import {enumName, parseSectionName, ProgType, type AttachTarget, type ProgramSpec} from '../object/index.js'
import {BpfdError} from '../remote/errors.js'
import {ElfSymbolError} from '../symbols/elf-symbols.js'
import type {Collection, LiveProgram} from './collection.js'
import {AttachError, LoadError} from './errors.js'
import {resolveBinary, uprobeOffset, type ElfCache} from './uprobe.js'

export type AttachOptions = {
  /** Programs whose target may be missing on this kernel: skipped instead of failing. */
  optional?: (program: ProgramSpec) => boolean
  /** Override where a program attaches (`tracepoint/CAT/NAME`-style section text), by program name. */
  targets?: Readonly<Record<string, string>>
  /** Report every program that cannot be attached in `skipped` instead of failing. */
  keepGoing?: boolean
}

export type Attached = {program: string; handle: number; target: string}
export type Skipped = {program: string; target: string; reason: string}

/** A readable name for where a program attaches. */
export function describeTarget(p: ProgramSpec): string {
  return describeAttach(p.attach, p.section)
}

export function describeAttach(a: AttachTarget, section: string): string {
  switch (a.kind) {
    case 'tracepoint':
      return `tracepoint ${a.category}:${a.name}`
    case 'raw_tracepoint':
      return `raw tracepoint ${a.name}`
    case 'kprobe':
      return `${a.ret ? 'kretprobe' : 'kprobe'} ${a.func}${a.offset ? `+${a.offset}` : ''}`
    case 'ksyscall':
      return `${a.ret ? 'kretsyscall' : 'ksyscall'} ${a.syscall}`
    case 'uprobe':
      return `${a.ret ? 'uretprobe' : 'uprobe'} ${a.path}:${a.func === undefined ? `0x${a.offset.toString(16)}` : `${a.func}${a.offset ? `+${a.offset}` : ''}`}`
    case 'tracing':
      return `${a.how} ${a.target}`
    case 'perf_event':
      return 'perf event'
    case 'none':
      return `section ${section}`
  }
}

/** Where a program attaches: its section name, or an override in section-name form. */
function targetOf(p: ProgramSpec, override: string | undefined): AttachTarget {
  if (override === undefined) return p.attach
  const info = parseSectionName(override)
  if (info.progType === ProgType.UNSPEC || info.attach.kind === 'none') {
    throw new LoadError(`cannot attach program '${p.name}' to '${override}': not a section name with a target (tracepoint/CAT/NAME, kprobe/FUNC, uprobe/PATH:FUNC ...)`)
  }
  if (info.progType !== p.progType) {
    const has = enumName(ProgType, p.progType)
    throw new LoadError(`cannot attach program '${p.name}' to '${override}': it is a ${has} program (section '${p.section}'); '${override}' needs a ${enumName(ProgType, info.progType)} program`)
  }
  return info.attach
}

/**
 * Attaches every program of the collection that has a target (pipelined: one
 * round trip, plus one to read each ELF file uprobes name). Programs without
 * one (bare sections, perf_event programs: see attachPerfEvent) are listed
 * in `skipped`.
 */
export async function attachAll(c: Collection, options: AttachOptions = {}): Promise<{attached: Attached[]; skipped: Skipped[]}> {
  for (const name of Object.keys(options.targets ?? {})) {
    if (!c.programs.has(name)) throw new LoadError(`cannot attach '${name}': the object has no program of that name (it has ${[...c.programs.keys()].join(', ')})`)
  }
  const attached: Attached[] = []
  const skipped: Skipped[] = []
  const todo: {p: LiveProgram; target: AttachTarget; what: string}[] = []
  for (const p of c.programs.values()) {
    const target = targetOf(p.spec, options.targets?.[p.spec.name])
    const what = describeAttach(target, p.spec.section)
    if (target.kind === 'none') skipped.push({program: p.spec.name, target: what, reason: `program '${p.spec.name}': section '${p.spec.section}' names nothing to attach to`})
    else if (target.kind === 'perf_event') skipped.push({program: p.spec.name, target: what, reason: `program '${p.spec.name}': a perf_event program needs an event to sample`})
    else todo.push({p, target, what})
  }
  const elfs: ElfCache = new Map()
  const results = await Promise.allSettled(todo.map((t) => attachOne(c, t.p, t.target, elfs)))
  let failure: unknown
  results.forEach((r, i) => {
    const {p, what} = todo[i]!
    if (r.status === 'fulfilled') {
      c.own(r.value)
      attached.push({program: p.spec.name, handle: r.value, target: what})
    } else if (r.reason instanceof AttachError && (options.keepGoing || (options.optional?.(p.spec) && r.reason.errname === 'ENOENT'))) {
      skipped.push({program: p.spec.name, target: what, reason: r.reason.message})
    } else {
      failure ??= r.reason
    }
  })
  if (failure) {
    await Promise.allSettled(attached.map((a) => c.client.closeHandle(a.handle)))
    throw failure
  }
  return {attached, skipped}
}

export type PerfEventSampling = {
  /** perf_event_attr.type: PERF_TYPE_HARDWARE 0, PERF_TYPE_SOFTWARE 1 ... */
  type: number
  /** perf_event_attr.config: e.g. PERF_COUNT_SW_CPU_CLOCK 0. */
  config: number | bigint
} & ({period: number | bigint; freq?: undefined} | {freq: number; period?: undefined})

/** Attaches a perf_event program to one sampling event per online CPU of the target (pipelined: one round trip). */
export async function attachPerfEvent(c: Collection, programName: string, sampling: PerfEventSampling): Promise<Attached[]> {
  const p = c.programs.get(programName)
  if (!p) throw new LoadError(`the object has no program '${programName}' (it has ${[...c.programs.keys()].join(', ')})`)
  const what = `perf event type ${sampling.type} config ${sampling.config} ${sampling.freq === undefined ? `every ${sampling.period} events` : `at ${sampling.freq} Hz`}`
  const cpus = c.client.hello.cpusOnline
  const results = await Promise.allSettled(
    cpus.map((cpu) => c.client.attachPerfEvent(p.handle, {type: sampling.type, config: sampling.config, cpu, period: sampling.period, freq: sampling.freq})),
  )
  const handles = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) {
    await Promise.allSettled(handles.map((h) => c.client.closeHandle(h)))
    const e = failed.reason
    if (e instanceof BpfdError) throw new AttachError(programName, what, e.errname, `${e.detail} (${e.errname})`)
    throw e
  }
  return handles.map((handle, i) => {
    c.own(handle)
    return {program: programName, handle, target: `${what} on CPU ${cpus[i]}`}
  })
}

async function attachOne(c: Collection, p: LiveProgram, a: AttachTarget, elfs: ElfCache): Promise<number> {
  const client = c.client
  const features = client.hello.features
  const what = describeAttach(a, p.spec.section)
  try {
    switch (a.kind) {
      case 'tracepoint':
        return (await client.attachTracepoint(p.handle, a.category, a.name)).handle
      case 'raw_tracepoint':
        return await client.attachRawTracepoint(p.handle, a.name)
      case 'kprobe':
        if (features.kprobe === 'none') throw new AttachError(p.spec.name, what, 'ENOTSUP', `the target kernel has no kprobes (CONFIG_KPROBES); use a tracepoint instead`)
        return (await client.attachKprobe(p.handle, a.func, {offset: a.offset, ret: a.ret})).handle
      case 'ksyscall': {
        if (features.kprobe === 'none') throw new AttachError(p.spec.name, what, 'ENOTSUP', `the target kernel has no kprobes (CONFIG_KPROBES); use the syscalls:sys_enter_${a.syscall} tracepoint instead`)
        return (await client.attachKprobe(p.handle, syscallFunction(client.hello.machine, a.syscall), {ret: a.ret})).handle
      }
      case 'uprobe': {
        if (features.uprobe === 'none') throw new AttachError(p.spec.name, what, 'ENOTSUP', 'the target kernel has no uprobes (CONFIG_UPROBE_EVENTS)')
        const path = await resolveBinary(client, a.path)
        if (path === undefined) throw new AttachError(p.spec.name, what, 'ENOENT', `no library '${a.path}' in the target's library directories; give its full path`)
        const offset = a.func === undefined ? BigInt(a.offset) : await uprobeOffset(client, path, a.func, a.offset, elfs).catch((e: unknown) => {
          throw e instanceof ElfSymbolError ? new AttachError(p.spec.name, what, 'ENOENT', `${path}: ${e.message}`) : e
        })
        return (await client.attachUprobe(p.handle, path, offset, {ret: a.ret})).handle
      }
      case 'tracing':
        return await client.attachTracing(p.handle)
      default:
        throw new AttachError(p.spec.name, what, undefined, 'its section names no place to attach it (perf event and bare sections are attached by the tool that loads them)')
    }
  } catch (e) {
    if (e instanceof BpfdError) {
      const detail = e.errname === 'ENOENT' ? `it does not exist on the target (${e.detail})` : `${e.detail} (${e.errname})`
      throw new AttachError(p.spec.name, what, e.errname, detail)
    }
    throw e
  }
}

/** The kernel function behind a syscall: its name carries an architecture prefix where syscalls have pt_regs wrappers. */
export function syscallFunction(machine: string, syscall: string): string {
  const prefix: Record<string, string> = {x86_64: '__x64_sys_', aarch64: '__arm64_sys_', s390x: '__s390x_sys_', riscv64: '__riscv_sys_', ppc64le: 'sys_'}
  return `${prefix[machine] ?? 'sys_'}${syscall}`
}
