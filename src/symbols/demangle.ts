// C++ symbol names as bcc prints them (it demangles with __cxa_demangle):
// through the host's llvm-cxxfilt or c++filt, one process for a whole
// symbol table.
import {spawn} from 'node:child_process'
import type {Logger} from '../remote/transport.js'

/** Demanglers tried in order; each reads one name a line and writes one a line. */
export const DEMANGLERS = ['llvm-cxxfilt', 'c++filt']

/**
 * Itanium-mangled names (only the characters a mangling uses, so one name
 * is one line to the demangler); anything else (C, Rust v0, assembly)
 * stays as it is.
 */
export function isMangled(name: string): boolean {
  return /^_Z[A-Za-z0-9_.$]+$/.test(name)
}

const found = new Map<string, Promise<string | undefined>>()
let warned = false

/** Runs `tool` over the names; undefined when it cannot be started. */
function run(tool: string, names: readonly string[]): Promise<string[] | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, [], {stdio: ['pipe', 'pipe', 'ignore']})
    const out: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? resolve(undefined) : reject(e)))
    child.stdin.on('error', () => {}) // an early exit shows as the exit code
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${tool} exited with status ${code}`))
      const lines = Buffer.concat(out).toString('utf8').split('\n')
      if (lines.at(-1) === '') lines.pop()
      if (lines.length !== names.length) return reject(new Error(`${tool} gave ${lines.length} names for ${names.length}`))
      resolve(lines)
    })
    child.stdin.end(names.length ? names.join('\n') + '\n' : '')
  })
}

/** The first of `tools` that runs on this host and demangles, looked for once. */
function demangler(tools: readonly string[]): Promise<string | undefined> {
  const key = tools.join('\0')
  let f = found.get(key)
  if (!f) {
    f = (async () => {
      for (const tool of tools) {
        const probe = await run(tool, ['_Z1fv']).catch(() => undefined)
        if (probe?.[0] === 'f()') return tool
      }
      return undefined
    })()
    found.set(key, f)
  }
  return f
}

/**
 * The names with every Itanium-mangled one demangled, in one run of the
 * demangler; `demangled` is false when the host has none (the names are
 * returned as they are, and the logger hears so once).
 */
export async function demangleNames(
  names: readonly string[],
  o: {logger?: Logger; tools?: readonly string[]} = {},
): Promise<{names: string[]; demangled: boolean}> {
  const {logger, tools = DEMANGLERS} = o
  const at: number[] = []
  names.forEach((n, i) => isMangled(n) && at.push(i))
  if (at.length === 0) return {names: [...names], demangled: true}
  const tool = await demangler(tools)
  if (!tool) {
    if (!warned) {
      warned = true
      logger?.debug(`no C++ demangler on this host (${tools.join(' or ')}; Debian packages llvm or binutils): C++ frames keep their mangled names`)
    }
    return {names: [...names], demangled: false}
  }
  const plain = await run(tool, at.map((i) => names[i]!)).catch((e: Error) => {
    logger?.debug(`cannot demangle: ${e.message}`)
    return undefined
  })
  if (!plain) return {names: [...names], demangled: false}
  const out = [...names]
  at.forEach((i, k) => (out[i] = plain[k]!))
  return {names: out, demangled: true}
}
