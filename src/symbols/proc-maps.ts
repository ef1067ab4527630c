// A process's memory mappings from the text of a target's /proc/PID/maps, and
// the arithmetic that turns a runtime code address into the address an ELF
// file's symbols use. Addresses are bigint: 64-bit ones exceed 2^53.

export type Mapping = {
  start: bigint
  /** One past the last byte. */
  end: bigint
  /** Four letters, e.g. `r-xp`. */
  perms: string
  /** File offset the mapping starts at. */
  offset: bigint
  /** `major:minor` in hex, as the kernel prints it. */
  dev: string
  inode: bigint
  /**
   * The file, a pseudo name (`[heap]`, `[vdso]`, `[anon:...]`), or `` for an
   * anonymous mapping; without the ` (deleted)` the kernel appends.
   */
  path: string
  /** The file was deleted (or replaced) after it was mapped. */
  deleted: boolean
}

/** A PT_LOAD program header of an ELF file, as the ELF parser gives it. */
export type LoadSegment = {
  vaddr: bigint | number
  offset: bigint | number
  filesz: bigint | number
  /** p_flags: PF_X 1, PF_W 2, PF_R 4. */
  flags: number
}

const PF_X = 1
const DELETED = ' (deleted)'

/**
 * Parse /proc/PID/maps text. The result is sorted by start address, as the
 * kernel prints it; lines that do not parse are skipped.
 */
export function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = []
  for (const line of text.split('\n')) {
    const m = parseMapsLine(line)
    if (m) out.push(m)
  }
  for (let i = 1; i < out.length; i++) {
    if (out[i - 1]!.start > out[i]!.start) {
      out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))
      break
    }
  }
  return out
}

const LINE = /^([0-9a-fA-F]+)-([0-9a-fA-F]+)\s+(\S{4})\s+([0-9a-fA-F]+)\s+([0-9a-fA-F]+:[0-9a-fA-F]+)\s+(\d+)(?:\s(.*))?$/

/** One line of /proc/PID/maps, or undefined when it is not one. */
export function parseMapsLine(line: string): Mapping | undefined {
  const m = LINE.exec(line.replace(/\r$/, ''))
  if (!m) return undefined
  // The path column is padded with spaces; the path itself may contain them.
  let path = (m[7] ?? '').replace(/^ +/, '')
  let deleted = false
  if (path.endsWith(DELETED)) {
    deleted = true
    path = path.slice(0, -DELETED.length)
  }
  return {
    start: BigInt('0x' + m[1]),
    end: BigInt('0x' + m[2]),
    perms: m[3]!,
    offset: BigInt('0x' + m[4]),
    dev: m[5]!,
    inode: BigInt(m[6]!),
    path,
    deleted,
  }
}

/** The mapping containing `address` (maps sorted by start, as parseMaps returns them). */
export function findMapping(maps: readonly Mapping[], address: bigint | number): Mapping | undefined {
  const a = BigInt(address)
  let lo = 0
  let hi = maps.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const m = maps[mid]!
    if (a < m.start) hi = mid - 1
    else if (a >= m.end) lo = mid + 1
    else return m
  }
  return undefined
}

/** True for mappings of a regular file (not anonymous memory, the heap, the stack, or a `[...]` pseudo mapping). */
export function isFileBacked(m: Mapping): boolean {
  return m.path.startsWith('/') && !m.path.startsWith('/dev/') && !m.path.startsWith('/SYSV') && !m.path.startsWith('/memfd:') && !m.path.startsWith('//anon')
}

/** The offset in the mapped file of a runtime address inside mapping `m`. */
export function fileOffsetOf(m: Mapping, address: bigint | number): bigint {
  return BigInt(address) - m.start + m.offset
}

/**
 * The address ELF symbols use (st_value space) for runtime `address` inside
 * mapping `m` of that ELF: runtime address → file offset → the PT_LOAD segment
 * holding that offset → `offset + p_vaddr - p_offset`. Works alike for
 * executables (where it gives back the runtime address), PIE executables and
 * shared libraries, and for the vDSO given its own program headers.
 * `elfOffset` is where the ELF starts in the mapped file, for libraries
 * mapped straight out of an archive (an Android APK); 0 otherwise.
 * Undefined when no segment holds the offset.
 */
export function elfAddressOf(
  m: Mapping,
  address: bigint | number,
  segments: readonly LoadSegment[],
  elfOffset: bigint | number = 0n,
): bigint | undefined {
  const off = fileOffsetOf(m, address) - BigInt(elfOffset)
  if (off < 0n) return undefined
  const wantExec = m.perms[2] === 'x'
  let found: {vaddr: bigint; offset: bigint} | undefined
  for (const s of segments) {
    const so = BigInt(s.offset)
    if (off < so || off >= so + BigInt(s.filesz)) continue
    const seg = {vaddr: BigInt(s.vaddr), offset: so}
    // Segments can share a file page; the one whose permission matches the mapping wins.
    if (((s.flags & PF_X) !== 0) === wantExec) {
      found = seg
      break
    }
    found ??= seg
  }
  return found === undefined ? undefined : off + found.vaddr - found.offset
}
