// Attaches loaded programs where their section names say, through bpfd.
import type {ProgramSpec} from '../object/index.js'
import {BpfdError} from '../remote/errors.js'
import type {Collection, LiveProgram} from './collection.js'
import {AttachError} from './errors.js'

export type AttachOptions = {
  /** Programs whose target may be missing on this kernel: skipped instead of failing. */
  optional?: (program: ProgramSpec) => boolean
  /** Override where a program attaches (`tracepoint/CAT/NAME`-style section text), by program name. */
  targets?: Readonly<Record<string, string>>
}

export type Attached = {program: string; handle: number; target: string}
export type Skipped = {program: string; target: string; reason: string}

/** A readable name for where a program attaches. */
export function describeTarget(p: ProgramSpec): string {
  const a = p.attach
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
      return `${a.ret ? 'uretprobe' : 'uprobe'} ${a.path}:${a.func ?? `0x${a.offset.toString(16)}`}`
    case 'tracing':
      return `${a.how} ${a.target}`
    case 'perf_event':
      return 'perf event'
    case 'none':
      return `section ${p.section}`
  }
}

/** Attaches every program of the collection that has a target (pipelined: one round trip). */
export async function attachAll(c: Collection, options: AttachOptions = {}): Promise<{attached: Attached[]; skipped: Skipped[]}> {
  const progs = [...c.programs.values()].filter((p) => p.spec.attach.kind !== 'none' && p.spec.attach.kind !== 'perf_event')
  const results = await Promise.allSettled(progs.map((p) => attachOne(c, p)))
  const attached: Attached[] = []
  const skipped: Skipped[] = []
  let failure: unknown
  results.forEach((r, i) => {
    const p = progs[i]!
    const target = describeTarget(p.spec)
    if (r.status === 'fulfilled') {
      c.own(r.value)
      attached.push({program: p.spec.name, handle: r.value, target})
    } else if (options.optional?.(p.spec) && r.reason instanceof AttachError && r.reason.errname === 'ENOENT') {
      skipped.push({program: p.spec.name, target, reason: r.reason.message})
    } else {
      failure ??= r.reason
    }
  })
  if (failure) throw failure
  return {attached, skipped}
}

async function attachOne(c: Collection, p: LiveProgram): Promise<number> {
  const client = c.client
  const a = p.spec.attach
  const features = client.hello.features
  try {
    switch (a.kind) {
      case 'tracepoint':
        return (await client.attachTracepoint(p.handle, a.category, a.name)).handle
      case 'raw_tracepoint':
        return await client.attachRawTracepoint(p.handle, a.name)
      case 'kprobe':
        if (features.kprobe === 'none') throw new AttachError(p.spec.name, describeTarget(p.spec), 'ENOTSUP', `the target kernel has no kprobes (CONFIG_KPROBES); use a tracepoint instead`)
        return (await client.attachKprobe(p.handle, a.func, {offset: a.offset, ret: a.ret})).handle
      case 'ksyscall': {
        if (features.kprobe === 'none') throw new AttachError(p.spec.name, describeTarget(p.spec), 'ENOTSUP', `the target kernel has no kprobes (CONFIG_KPROBES); use the syscalls:sys_enter_${a.syscall} tracepoint instead`)
        return (await client.attachKprobe(p.handle, syscallFunction(client.hello.machine, a.syscall), {ret: a.ret})).handle
      }
      case 'tracing':
        return await client.attachTracing(p.handle)
      default:
        throw new AttachError(p.spec.name, describeTarget(p.spec), undefined, 'bpftools cannot attach this kind of program by its section name yet')
    }
  } catch (e) {
    if (e instanceof BpfdError) {
      const detail = e.errname === 'ENOENT' ? `it does not exist on the target (${e.detail})` : `${e.detail} (${e.errname})`
      throw new AttachError(p.spec.name, describeTarget(p.spec), e.errname, detail)
    }
    throw e
  }
}

/** The kernel function behind a syscall: its name carries an architecture prefix where syscalls have pt_regs wrappers. */
export function syscallFunction(machine: string, syscall: string): string {
  const prefix: Record<string, string> = {x86_64: '__x64_sys_', aarch64: '__arm64_sys_', s390x: '__s390x_sys_', riscv64: '__riscv_sys_', ppc64le: 'sys_'}
  return `${prefix[machine] ?? 'sys_'}${syscall}`
}
