/**
 * Finding the bundled bpfd binary for a target architecture.
 */
import {createHash} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {arch as osArch} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {TransportError} from './errors.js'

/** Architectures bpfd is built for, named as `uname -m` names them. */
export type BpfdArch = 'x86_64' | 'aarch64'

export const BPFD_ARCHES: readonly BpfdArch[] = ['x86_64', 'aarch64']

const ALIASES: Record<string, BpfdArch> = {
  x86_64: 'x86_64',
  amd64: 'x86_64',
  x64: 'x86_64',
  aarch64: 'aarch64',
  arm64: 'aarch64',
}

/** Maps a `uname -m`, Node `os.arch()` or user-given name to a bpfd arch; undefined when unsupported. */
export function toBpfdArch(name: string): BpfdArch | undefined {
  return ALIASES[name.trim().toLowerCase()]
}

/** The architecture of this machine, as bpfd names it. */
export function hostArch(): BpfdArch | undefined {
  return toBpfdArch(osArch())
}

let root: string | undefined

/** The bpftools package directory, found upwards from this module (works from src/ and dist/). */
export function packageRoot(): string {
  if (root) return root
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as {name?: string}).name === 'bpftools') {
          root = dir
          return dir
        }
      } catch {
        // Not ours; keep looking.
      }
    }
    const parent = dirname(dir)
    if (parent === dir) throw new Error('cannot find the bpftools package directory')
    dir = parent
  }
}

/** Where the bundled bpfd for `arch` lives (it may not have been built). */
export function bpfdPath(arch: BpfdArch): string {
  return join(packageRoot(), 'daemon', 'out', `bpfd-${arch}`)
}

/** The bundled binary's bytes and sha256 (hex), for uploading to a target. */
export async function readBpfd(
  arch: BpfdArch,
  transport: string,
): Promise<{path: string; bytes: Buffer; sha256: string}> {
  const path = bpfdPath(arch)
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (error) {
    throw new TransportError(transport, `${transport}: bpfd for ${arch} is not built (expected ${path}; run 'make -C daemon')`, {
      cause: error,
    })
  }
  return {path, bytes, sha256: createHash('sha256').update(bytes).digest('hex')}
}
