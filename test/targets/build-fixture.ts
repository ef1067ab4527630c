/**
 * Builds a C fixture of test/targets/fixtures into a static binary for a
 * guest's architecture, on this host, for pushing into the guest.
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {packageRoot} from '../../src/remote/bpfd-binary.js'
import type {GuestArch} from './images.js'

const COMPILER: Record<GuestArch, {cc: string; pkg: string}> = {
  x86_64: {cc: 'gcc', pkg: 'gcc'},
  aarch64: {cc: 'aarch64-linux-gnu-gcc', pkg: 'gcc-aarch64-linux-gnu'},
}

export function fixturePath(name: string): string {
  return join(packageRoot(), 'test', 'targets', 'fixtures', name)
}

/**
 * `CC -static FLAGS -o OUT fixtures/SOURCE` in a fresh temporary directory;
 * the binary's path, or a string saying why it cannot be built here.
 */
export function staticBinary(arch: GuestArch, source: string, flags: string[] = []): {path: string} | string {
  const {cc, pkg} = COMPILER[arch]
  const path = join(mkdtempSync(join(tmpdir(), 'bpftools-fixture-')), source.replace(/\.c$/, ''))
  try {
    execFileSync(cc, ['-static', ...flags, '-o', path, fixturePath(source)], {stdio: 'pipe'})
  } catch (error) {
    const e = error as NodeJS.ErrnoException & {stderr?: Buffer}
    if (e.code === 'ENOENT') return `${cc} is not installed (Debian package ${pkg})`
    throw new Error(`${cc} cannot build ${source}: ${e.stderr?.toString() ?? e.message}`)
  }
  return {path}
}
