/**
 * A writer for the cpio "newc" format the kernel unpacks as an initramfs.
 * Written here rather than with cpio(1) so the image needs neither root (for
 * the /dev/console node) nor a staging tree, and is byte-for-byte reproducible.
 */

export type CpioEntry =
  | {kind: 'dir'; path: string; mode?: number}
  | {kind: 'file'; path: string; data: Buffer; mode?: number}
  | {kind: 'symlink'; path: string; target: string}
  | {kind: 'chardev'; path: string; major: number; minor: number; mode?: number}

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000
const S_IFCHR = 0o020000

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4)
}

function header(fields: number[], name: string): Buffer {
  const nameBytes = Buffer.from(name + '\0', 'latin1')
  const text = '070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('')
  // namesize is the 12th field; the header checksum (13th) is 0 in newc.
  const head = Buffer.from(text, 'latin1')
  return Buffer.concat([head, nameBytes, pad4(head.length + nameBytes.length)])
}

/** Serialises entries (parents before children) into one newc archive. */
export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = []
  let ino = 1
  const add = (path: string, mode: number, data: Buffer, rdev: [number, number] = [0, 0]) => {
    const name = path.replace(/^\/+/, '')
    const nlink = (mode & 0o170000) === S_IFDIR ? 2 : 1
    const fields = [ino++, mode, 0, 0, nlink, 0, data.length, 0, 0, rdev[0], rdev[1], Buffer.byteLength(name, 'latin1') + 1, 0]
    parts.push(header(fields, name), data, pad4(data.length))
  }
  for (const e of entries) {
    switch (e.kind) {
      case 'dir':
        add(e.path, S_IFDIR | (e.mode ?? 0o755), Buffer.alloc(0))
        break
      case 'file':
        add(e.path, S_IFREG | (e.mode ?? 0o644), e.data)
        break
      case 'symlink':
        add(e.path, S_IFLNK | 0o777, Buffer.from(e.target, 'latin1'))
        break
      case 'chardev':
        add(e.path, S_IFCHR | (e.mode ?? 0o600), Buffer.alloc(0), [e.major, e.minor])
        break
    }
  }
  const trailer = header([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 'TRAILER!!!'.length + 1, 0], 'TRAILER!!!')
  parts.push(trailer)
  return Buffer.concat(parts)
}
