/**
 * A Channel over a connected socket (tcp or unix), with the optional token
 * the user pointed at.
 */
import {readFile} from 'node:fs/promises'
import {connect, type NetConnectOpts, type Socket} from 'node:net'
import {TransportError} from '../errors.js'
import type {Channel} from '../transport.js'

/** Reads a token file; the token is its first line. */
export async function readToken(transport: string, file: string): Promise<string> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new TransportError(transport, `${transport}: cannot read token file ${file}: ${(error as Error).message}`, {cause: error})
  }
  const token = text.split('\n')[0].trim()
  if (token === '') throw new TransportError(transport, `${transport}: token file ${file} is empty`)
  return token
}

export function connectSocket(
  transport: string,
  target: NetConnectOpts,
  options: {authToken?: string; timeoutMs?: number} = {},
): Promise<Channel> {
  const timeoutMs = options.timeoutMs ?? 10_000
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(target)
    let lastError: Error | undefined
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new TransportError(transport, `${transport}: connection not established within ${timeoutMs / 1000} s`))
    }, timeoutMs)
    socket.once('error', (error) => {
      clearTimeout(timer)
      reject(new TransportError(transport, `${transport}: cannot connect: ${error.message}`, {cause: error}))
    })
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeAllListeners('error')
      socket.on('error', (error) => {
        lastError = error
      })
      if ('setNoDelay' in socket) socket.setNoDelay(true)
      resolve({
        readable: socket,
        writable: socket,
        authToken: options.authToken,
        endReason: async () => ({reason: lastError ? `connection error: ${lastError.message}` : 'bpfd closed the connection'}),
        destroy: () => socket.destroy(),
      })
    })
  })
}
