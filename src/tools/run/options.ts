// `bpftools run` options: what the command line says, and turning `--set`
// text into values of the globals' C types (read from the object's BTF).
import {ObjectError, setGlobal, type GlobalValue, type ObjectSpec} from '../../object/index.js'

export type RunOptions = {
  /** BPF C source or a compiled object. */
  file: string
  /** `NAME=VALUE` for const volatile (and other) globals, applied before load. */
  set: readonly string[]
  /** `PROGRAM=SECTION` attach overrides (`handle=tracepoint/syscalls/sys_enter_openat`). */
  attach: readonly string[]
  /** More directories for `#include` when compiling. */
  includeDirs: readonly string[]
  durationSec?: number
}

/** A command-line value bpftools run cannot use. */
export class RunOptionError extends Error {
  override readonly name = 'RunOptionError'
}

function splitAssignment(flag: string, text: string, what: string): [string, string] {
  const eq = text.indexOf('=')
  if (eq <= 0) throw new RunOptionError(`--${flag} ${text}: expected ${what}`)
  return [text.slice(0, eq), text.slice(eq + 1)]
}

/** `--attach PROG=SECTION` flags as program name → section text. */
export function parseAttachFlags(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const v of values) {
    const [prog, target] = splitAssignment('attach', v, 'PROGRAM=SECTION (e.g. handle=tracepoint/syscalls/sys_enter_openat)')
    if (!target) throw new RunOptionError(`--attach ${v}: no section after '='`)
    out[prog] = target
  }
  return out
}

/** Decimal or 0x hex, optionally negative. */
function integer(text: string): bigint | undefined {
  const m = /^(-?)(0x[0-9a-f]+|\d+)$/i.exec(text)
  if (!m) return undefined
  const n = BigInt(m[2]!)
  return m[1] ? -n : n
}

const TRUE = new Set(['1', 'true', 'yes', 'on'])
const FALSE = new Set(['0', 'false', 'no', 'off'])

/** Text → the value a global of this type takes: integers, bools, enumerators, char arrays. */
export function globalValue(spec: ObjectSpec, name: string, text: string): GlobalValue {
  const btf = spec.btf
  const v = spec.maps.flatMap((m) => m.variables ?? []).find((x) => x.name === name)
  if (!btf || v?.btfTypeId === undefined) return integer(text) ?? text
  const t = btf.type(btf.resolve(v.btfTypeId))
  const fail = (what: string): never => {
    throw new RunOptionError(`--set ${name}=${text}: ${name} is ${btf.describe(v.btfTypeId!)}; ${what}`)
  }
  if (t.kind === 'int' && t.bool) {
    const lower = text.toLowerCase()
    if (TRUE.has(lower)) return true
    if (FALSE.has(lower)) return false
    return fail('give true or false')
  }
  if (t.kind === 'int' || t.kind === 'enum' || t.kind === 'enum64') {
    if (t.kind !== 'int') {
      const named = (t.values as {name: string; value: number | bigint}[]).find((e) => e.name === text)
      if (named) return BigInt(named.value)
    }
    return integer(text) ?? fail(t.kind === 'int' ? 'give an integer' : 'give an integer or an enumerator name')
  }
  if (t.kind === 'array') {
    const elem = btf.type(btf.resolve(t.type))
    if (elem.kind === 'int' && elem.size === 1) return text
  }
  return fail('bpftools run sets integers, bools, enums and char arrays only')
}

/** Applies `--set NAME=VALUE` flags to the spec. */
export function applySetFlags(spec: ObjectSpec, values: readonly string[]): void {
  for (const v of values) {
    const [name, text] = splitAssignment('set', v, 'NAME=VALUE')
    try {
      setGlobal(spec, name, globalValue(spec, name, text))
    } catch (e) {
      if (e instanceof ObjectError) throw new RunOptionError(`--set ${v}: ${e.problem}`)
      throw e
    }
  }
}
