// The target's disks by device number, from its /sys/block: what names
// biolatency's per-disk histograms and what -d DISK filters on.

/** The part of the client this module reads through. */
export interface BlockFiles {
  listDir(path: string): Promise<{type: string; name: string}[]>
  readWholeFile(path: string): Promise<Buffer>
}

/** A device number as the block tracepoints record it: the kernel's dev_t, major << 20 | minor. */
export function kernelDev(major: number, minor: number): number {
  return ((major << 20) | minor) >>> 0
}

export function devName(dev: number): string {
  return `${dev >>> 20},${dev & 0xfffff}`
}

/** Disk name by kernel dev_t (two pipelined round trips). */
export async function readDisks(files: BlockFiles): Promise<Map<number, string>> {
  const entries = await files.listDir('/sys/block').catch(() => [])
  const names = entries.map((e) => e.name).filter((n) => !n.startsWith('.'))
  const devs = await Promise.all(names.map((n) => files.readWholeFile(`/sys/block/${n}/dev`).then((b) => b.toString('utf8'), () => '')))
  const disks = new Map<number, string>()
  names.forEach((name, i) => {
    const m = /^(\d+):(\d+)/.exec(devs[i]!)
    if (m) disks.set(kernelDev(Number(m[1]), Number(m[2])), name)
  })
  return disks
}
