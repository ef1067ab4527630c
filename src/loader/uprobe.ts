// Where a uprobe goes in a binary on the target: the ELF is read through
// bpfd and its symbols looked up on the host, so the target needs no tools.
import type {Client} from '../remote/client.js'
import {readElfSymbols, symbolFileOffset, type ElfSymbols} from '../symbols/elf-symbols.js'

/** Parsed ELF files by target path, shared by the probes of one attach. */
export type ElfCache = Map<string, Promise<ElfSymbols>>

/** Where libraries named without a directory are looked for, as the dynamic linker and libbpf do. */
function libraryDirs(machine: string): string[] {
  return [
    `/lib/${machine}-linux-gnu`, `/usr/lib/${machine}-linux-gnu`, '/lib64', '/usr/lib64', '/lib', '/usr/lib',
    // Android
    '/apex/com.android.runtime/lib64/bionic', '/system/lib64', '/vendor/lib64',
  ]
}

/** The absolute path of a binary named in a uprobe section (`libc.so.6` or `/bin/bash`) on the target; undefined when it is nowhere. */
export async function resolveBinary(client: Client, path: string): Promise<string | undefined> {
  if (path.startsWith('/')) return path
  const candidates = libraryDirs(client.hello.machine).map((d) => `${d}/${path}`)
  // One pipelined round trip: the first directory that has the file wins.
  const found = await Promise.allSettled(candidates.map((c) => client.readFile(c, {len: 4})))
  const i = found.findIndex((r) => r.status === 'fulfilled')
  return i < 0 ? undefined : candidates[i]
}

/** The file offset of `func` (plus `offset` bytes) in the binary at `path` on the target. */
export async function uprobeOffset(client: Client, path: string, func: string, offset: number, cache: ElfCache): Promise<bigint> {
  let elf = cache.get(path)
  if (!elf) {
    elf = client.readWholeFile(path).then(readElfSymbols)
    cache.set(path, elf)
  }
  return symbolFileOffset(await elf, func) + BigInt(offset)
}
