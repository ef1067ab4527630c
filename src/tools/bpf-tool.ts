// What every tool does to get its BPF program running on a target: compile
// bpf-programs/<tool>.bpf.c for the target's architecture (cached), set the
// options in its const volatile globals, load, attach.
import {join} from 'node:path'
import {archFromMachine, compileBpf, type BpfArch} from '../compile/index.js'
import {attachAll, type AttachOptions} from '../loader/attach.js'
import {loadCollection, type Collection} from '../loader/collection.js'
import {LoadError} from '../loader/errors.js'
import {parseObject, resizeMap, setGlobals, type GlobalValue, type ProgramSpec} from '../object/index.js'
import type {Client} from '../remote/client.js'
import {packageRoot} from '../remote/bpfd-binary.js'
import type {Logger} from '../remote/transport.js'

export type ToolStart = {
  /** bpf-programs/<program>.bpf.c */
  program: string
  globals?: Readonly<Record<string, GlobalValue>>
  /** `-D` macros for the compile: a variant of the program (e.g. without CO-RE). */
  defines?: Readonly<Record<string, string | number | boolean>>
  /** max_entries to change before load, by map name. */
  maxEntries?: Readonly<Record<string, number>>
  /** Programs not to load. */
  skip?: (p: ProgramSpec) => boolean
  optional?: AttachOptions['optional']
  /** The tool attaches its programs itself, to probes it finds at run time (stackcount). */
  attachesItself?: boolean
  /** `uname -m` to compile for instead of the target's (--arch). */
  machine?: string
  logger?: Logger
}

/** Runs a tool's variant for targets without kernel BTF on one that has it (tests, troubleshooting). */
export const ASSUME_NO_BTF = 'BPFTOOLS_ASSUME_NO_BTF'
export function assumeNoBtf(): boolean {
  return process.env[ASSUME_NO_BTF] === '1'
}

/** The BPF architecture a tool is compiled for on this target. */
export function targetArch(client: Client, machine?: string): BpfArch {
  return archFromMachine(machine ?? client.hello.machine)
}

function nothingAttached(client: Client, program: string, reason: string): LoadError {
  if (!client.hello.tracefs) return new LoadError(`${client.transport}: the target has no tracefs mounted (and bpfd could not mount it), so ${program} has no tracepoints to attach to`)
  return new LoadError(`${program}: none of its probes could be attached: ${reason}`)
}

export async function startTool(client: Client, t: ToolStart): Promise<Collection> {
  const arch = targetArch(client, t.machine)
  const done = t.logger?.progress?.(`compiling ${t.program}.bpf.c for ${arch}`)
  const compiled = await compileBpf({source: join(packageRoot(), 'bpf-programs', `${t.program}.bpf.c`), arch, defines: t.defines}).finally(done)
  t.logger?.debug(`${t.program}.bpf.c for ${arch}: ${compiled.cacheHit ? 'compile cache hit' : 'compiled'}`)
  const spec = parseObject(compiled.object)
  if (t.globals) setGlobals(spec, t.globals)
  for (const [name, n] of Object.entries(t.maxEntries ?? {})) resizeMap(spec, name, n)
  const c = await loadCollection(client, spec, {skip: t.skip, logger: t.logger})
  if (t.attachesItself) return c
  try {
    const {attached, skipped} = await attachAll(c, {optional: t.optional})
    for (const s of skipped) t.logger?.debug(`not attached: ${s.reason}`)
    // Optional probes are optional one by one; a tool with none attached would trace nothing.
    if (t.optional && attached.length === 0 && skipped.length > 0) throw nothingAttached(client, t.program, skipped[0]!.reason)
    t.logger?.debug(`attached ${attached.map((a) => a.target).join(', ')}`)
    return c
  } catch (e) {
    await c.release()
    throw e
  }
}
