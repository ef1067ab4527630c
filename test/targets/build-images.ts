/**
 * `scripts/guest-images [ARCH...]`: builds (or finds cached) the test guest
 * images and prints where they are.
 */
import {guestImage, TargetUnavailable, type GuestArch} from './images.js'

const all: GuestArch[] = ['x86_64', 'aarch64']

/**
 * The exit status. Called by scripts/guest-images; nothing runs at import,
 * since the test runner loads every module under test/.
 */
export async function main(wanted: string[]): Promise<number> {
  const unknown = wanted.filter((a) => !all.includes(a as GuestArch))
  if (unknown.length > 0) {
    console.error(`guest-images: unknown architecture ${unknown.join(', ')} (known: ${all.join(', ')})`)
    return 2
  }
  let status = 0
  for (const arch of wanted.length > 0 ? (wanted as GuestArch[]) : all) {
    try {
      const image = await guestImage(arch, {log: (line) => console.error(`guest-images: ${arch}: ${line}`)})
      const m = image.manifest
      console.log(
        `${arch}: ${image.cached ? 'cached' : 'built'} ${m.kernelPackage} ${m.kernelVersion} (${m.kernelRelease}), ` +
          `busybox ${m.busyboxVersion}, modules ${m.modules.join(' ')}\n` +
          `  kernel ${image.kernel} (${(m.kernelBytes / 1048576).toFixed(1)} MiB)\n` +
          `  initrd ${image.initrd} (${(m.initrdBytes / 1048576).toFixed(1)} MiB)`,
      )
    } catch (error) {
      console.error(`guest-images: ${arch}: ${error instanceof TargetUnavailable ? '' : 'error: '}${(error as Error).message}`)
      status = 1
    }
  }
  return status
}
