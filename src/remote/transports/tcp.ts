/**
 * `tcp:HOST:PORT[?token=FILE]`: a bpfd started with `--listen`.
 */
import type {Channel, OpenOptions, Transport} from '../transport.js'
import {connectSocket, readToken} from './socket-channel.js'

export function tcpTransport(host: string, port: number, tokenFile?: string): Transport {
  const description = `tcp:${host.includes(':') ? `[${host}]` : host}:${port}`
  return {
    description,
    async open(options: OpenOptions = {}): Promise<Channel> {
      const authToken = tokenFile === undefined ? undefined : await readToken(description, tokenFile)
      options.logger?.debug(`${description}: connecting`)
      return connectSocket(description, {host, port}, {authToken})
    },
  }
}
