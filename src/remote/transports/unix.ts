/**
 * `unix:PATH[?token=FILE]`: a bpfd started with `--listen unix:PATH`.
 */
import type {Channel, OpenOptions, Transport} from '../transport.js'
import {connectSocket, readToken} from './socket-channel.js'

export function unixTransport(path: string, tokenFile?: string): Transport {
  const description = `unix:${path}`
  return {
    description,
    async open(options: OpenOptions = {}): Promise<Channel> {
      const authToken = tokenFile === undefined ? undefined : await readToken(description, tokenFile)
      options.logger?.debug(`${description}: connecting`)
      return connectSocket(description, {path}, {authToken})
    },
  }
}
