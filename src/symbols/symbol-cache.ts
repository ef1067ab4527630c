// The host's cache of user symbol tables, and the index that finds one
// without reading the file it came from.
//
//   elf-symbols/<id>.json   a symbol table; id is the ELF's build-id, or
//                           a digest of the file's stat key when it has none
//   elf-index/<digest>.json what a file (target boot, path, device, inode,
//                           size, times) was last found to be: a table id
//
// A file whose stat key is indexed costs one `stat` on the target and no
// bytes of content; a file that changed has another key and is read again.
import {createHash} from 'node:crypto'
import {mkdir, readFile, rename, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import type {FileStat} from '../remote/client.js'
import type {LoadSegment} from './proc-maps.js'

/** The code symbols of one ELF file, sorted by address, with its load segments. */
export type CodeSymbols = {
  names: string[]
  values: bigint[]
  sizes: number[]
  segments: LoadSegment[]
  /** The names went through a C++ demangler (false: none was on the host). */
  demangled: boolean
}

/** What identifies the target a stat key is valid on: device and inode numbers mean nothing after a reboot. */
export type TargetIdentity = {machine: string; bootId: string}

const FORMAT = 2
const INDEX_FORMAT = 1

export class SymbolCache {
  constructor(private readonly dir: string) {}

  /** A digest naming one version of one file on one boot of one target. */
  static statKey(target: TargetIdentity, path: string, st: FileStat): string {
    const key = [INDEX_FORMAT, target.machine, target.bootId, path, st.major, st.minor, String(st.ino), st.size, String(st.mtimeNs), String(st.ctimeNs)]
    return createHash('sha256').update(JSON.stringify(key)).digest('hex')
  }

  /** The table id recorded for a stat key. */
  async indexed(statKey: string): Promise<string | undefined> {
    const text = await readFile(this.indexFile(statKey), 'utf8').catch(() => undefined)
    if (text === undefined) return undefined
    try {
      const j = JSON.parse(text) as {format: number; table: string}
      return j.format === INDEX_FORMAT && typeof j.table === 'string' ? j.table : undefined
    } catch {
      return undefined
    }
  }

  async index(statKey: string, table: string): Promise<void> {
    await writeAtomically(this.indexFile(statKey), JSON.stringify({format: INDEX_FORMAT, table}))
  }

  async read(table: string): Promise<CodeSymbols | undefined> {
    const text = await readFile(this.tableFile(table), 'utf8').catch(() => undefined)
    if (text === undefined) return undefined
    try {
      const j = JSON.parse(text) as {
        format: number
        demangled: boolean
        names: string[]
        values: string[]
        sizes: number[]
        segments: {vaddr: string; offset: string; filesz: string; flags: number}[]
      }
      if (j.format !== FORMAT) return undefined
      return {
        names: j.names,
        values: j.values.map((v) => BigInt(v)),
        sizes: j.sizes,
        segments: j.segments.map((s) => ({vaddr: BigInt(s.vaddr), offset: BigInt(s.offset), filesz: BigInt(s.filesz), flags: s.flags})),
        demangled: j.demangled === true,
      }
    } catch {
      return undefined
    }
  }

  async write(table: string, s: CodeSymbols): Promise<void> {
    const text = JSON.stringify({
      format: FORMAT,
      demangled: s.demangled,
      names: s.names,
      values: s.values.map((v) => '0x' + v.toString(16)),
      sizes: s.sizes,
      segments: s.segments.map((g) => ({vaddr: String(g.vaddr), offset: String(g.offset), filesz: String(g.filesz), flags: g.flags})),
    })
    await writeAtomically(this.tableFile(table), text)
  }

  private tableFile(table: string): string {
    return join(this.dir, 'elf-symbols', `${safeName(table)}.json`)
  }

  private indexFile(statKey: string): string {
    return join(this.dir, 'elf-index', `${safeName(statKey)}.json`)
  }
}

/** Writes through a temporary file, so a concurrent reader never sees half of it. */
export async function writeAtomically(file: string, data: string): Promise<void> {
  await mkdir(join(file, '..'), {recursive: true})
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`
  await writeFile(tmp, data)
  await rename(tmp, file)
}

export const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_')
