// Open flags differ between architectures (asm-generic/fcntl.h and the
// arch overrides in arch/*/include/uapi/asm/fcntl.h), so they are named
// with the target's values, never the host's.

type FlagTable = Readonly<Record<string, number>>

const GENERIC: FlagTable = {
  O_WRONLY: 0o1,
  O_RDWR: 0o2,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_NOCTTY: 0o400,
  O_TRUNC: 0o1000,
  O_APPEND: 0o2000,
  O_NONBLOCK: 0o4000,
  O_DSYNC: 0o10000,
  O_ASYNC: 0o20000,
  O_DIRECT: 0o40000,
  O_LARGEFILE: 0o100000,
  O_DIRECTORY: 0o200000,
  O_NOFOLLOW: 0o400000,
  O_NOATIME: 0o1000000,
  O_CLOEXEC: 0o2000000,
  __O_SYNC: 0o4000000,
  O_PATH: 0o10000000,
  __O_TMPFILE: 0o20000000,
}

const ARM: FlagTable = {...GENERIC, O_DIRECTORY: 0o40000, O_NOFOLLOW: 0o100000, O_DIRECT: 0o200000, O_LARGEFILE: 0o400000}
const POWERPC: FlagTable = {...GENERIC, O_DIRECTORY: 0o40000, O_NOFOLLOW: 0o100000, O_LARGEFILE: 0o200000, O_DIRECT: 0o400000}

const BY_ARCH: Readonly<Record<string, FlagTable>> = {
  x86: GENERIC,
  arm64: ARM,
  arm: ARM,
  powerpc: POWERPC,
  riscv: GENERIC,
  s390: GENERIC,
}

export class OpenFlagError extends Error {}

export function openFlagTable(arch: string): FlagTable {
  const base = BY_ARCH[arch]
  if (!base) throw new OpenFlagError(`no open flag table for architecture ${arch}`)
  // The composite flags as the C library defines them.
  return {
    ...base,
    O_RDONLY: 0,
    O_SYNC: base.__O_SYNC | base.O_DSYNC,
    O_TMPFILE: base.__O_TMPFILE | base.O_DIRECTORY,
    O_NDELAY: base.O_NONBLOCK,
    O_FSYNC: base.__O_SYNC | base.O_DSYNC,
  }
}

/** The mask bcc's -f builds: the union of the named flags. */
export function parseOpenFlags(names: readonly string[], arch: string): number {
  const table = openFlagTable(arch)
  let mask = 0
  for (const name of names) {
    const value = name.startsWith('O_') ? table[name] : undefined
    if (value === undefined) throw new OpenFlagError(`Bad flag: ${name} (known on ${arch}: ${Object.keys(table).filter((k) => !k.startsWith('__')).sort().join(', ')})`)
    mask |= value
  }
  return mask
}

/** Whether open(2) uses the mode argument for these flags. */
export function modeApplies(flags: number, arch: string): boolean {
  const t = openFlagTable(arch)
  return (flags & t.O_CREAT) !== 0 || (flags & t.O_TMPFILE) === t.O_TMPFILE
}
