/**
 * `local`: runs the bundled bpfd for this machine as a child process.
 */
import {existsSync} from 'node:fs'
import {bpfdPath, hostArch} from '../bpfd-binary.js'
import {PermissionError, TransportError} from '../errors.js'
import type {Channel, OpenOptions, Transport} from '../transport.js'
import {spawnChannel} from './child-channel.js'

/**
 * Set to a command prefix (e.g. `sudo -n`) to start bpfd through it when
 * bpftools itself does not run as root.
 */
export const WRAPPER_ENV = 'BPFTOOLS_BPFD_WRAPPER'

export function localTransport(): Transport {
  const description = 'local'
  return {
    description,
    async open(options: OpenOptions = {}): Promise<Channel> {
      // This machine runs its own architecture's bpfd; --arch only changes what BPF is compiled for.
      const arch = hostArch()
      if (!arch) {
        throw new TransportError(description, `${description}: no bpfd build for architecture ${process.arch}`)
      }
      const path = bpfdPath(arch)
      if (!existsSync(path)) {
        throw new TransportError(description, `${description}: bpfd for ${arch} is not built (expected ${path}; run 'make -C daemon')`)
      }
      const wrapper = process.env[WRAPPER_ENV]?.trim().split(/\s+/).filter(Boolean) ?? []
      if (wrapper.length === 0 && process.getuid?.() !== 0) {
        throw new PermissionError(
          description,
          `bpfd needs root to use bpf(2) on this machine: run as root (e.g. 'sudo bpftools ...'), or set ${WRAPPER_ENV}='sudo -n'`,
        )
      }
      const [command, ...args] = [...wrapper, path]
      options.logger?.debug(`${description}: starting ${[command, ...args].join(' ')}`)
      return spawnChannel(command, args, {transport: description, name: 'bpfd'})
    },
  }
}
