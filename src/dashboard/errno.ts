// Names of the errors open(2) and exec(2) return, as numbered by Linux
// (asm-generic, shared by x86 and arm): the target's numbers, whatever
// system the host runs.
const NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 4: 'EINTR', 5: 'EIO', 6: 'ENXIO', 7: 'E2BIG', 8: 'ENOEXEC', 9: 'EBADF', 11: 'EAGAIN',
  12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV', 20: 'ENOTDIR', 21: 'EISDIR',
  22: 'EINVAL', 23: 'ENFILE', 24: 'EMFILE', 26: 'ETXTBSY', 27: 'EFBIG', 28: 'ENOSPC', 30: 'EROFS', 36: 'ENAMETOOLONG',
  40: 'ELOOP', 75: 'EOVERFLOW', 95: 'EOPNOTSUPP', 122: 'EDQUOT',
}

/** `ENOENT` for 2; the number itself for one not listed. */
export function errnoName(errno: number): string {
  return NAMES[errno] ?? String(errno)
}
