/**
 * `shell:CMD`: runs CMD through /bin/sh; its stdin/stdout must be a bpfd.
 * Covers anything the other transports do not (a serial console, a jail).
 */
import type {Channel, OpenOptions, Transport} from '../transport.js'
import {spawnChannel} from './child-channel.js'

export function shellTransport(command: string): Transport {
  const description = `shell:${command}`
  return {
    description,
    async open(options: OpenOptions = {}): Promise<Channel> {
      options.logger?.debug(`${description}: starting /bin/sh -c ${JSON.stringify(command)}`)
      return spawnChannel('/bin/sh', ['-c', command], {transport: description, name: 'shell command'})
    },
  }
}
