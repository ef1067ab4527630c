/**
 * Turns a `--remote` string into a transport (pure: nothing is opened).
 *
 *   local | shell:CMD | ssh:[USER@]HOST | adb[:SERIAL]
 *   tcp:HOST:PORT[?token=FILE] | unix:PATH[?token=FILE]
 */
import {RemoteSpecError} from '../errors.js'
import type {Transport} from '../transport.js'
import {adbTransport} from './adb.js'
import {localTransport} from './local.js'
import {shellTransport} from './shell.js'
import {sshTransport} from './ssh.js'
import {tcpTransport} from './tcp.js'
import {unixTransport} from './unix.js'

/** Splits `?token=FILE` off a tcp/unix address. */
function splitQuery(spec: string, rest: string): {address: string; token?: string} {
  const q = rest.indexOf('?')
  if (q < 0) return {address: rest}
  const params = new URLSearchParams(rest.slice(q + 1))
  let token: string | undefined
  for (const [key, value] of params) {
    if (key !== 'token') throw new RemoteSpecError(spec, `unknown parameter '${key}' (only token=FILE is known)`)
    if (value === '') throw new RemoteSpecError(spec, 'token= needs a file name')
    token = value
  }
  return {address: rest.slice(0, q), token}
}

/** A host or serial that ssh/adb would read as an option is refused. */
function checkWord(spec: string, what: string, value: string): void {
  if (value.startsWith('-') || /\s/.test(value)) throw new RemoteSpecError(spec, `${what} '${value}' is not valid`)
}

export function parseRemote(spec: string): Transport {
  const text = spec.trim()
  if (text === '' || text === 'local') return localTransport()
  // The only device, as adb itself picks it without -s.
  if (text === 'adb') return adbTransport(undefined)
  const colon = text.indexOf(':')
  const scheme = colon < 0 ? text : text.slice(0, colon)
  const rest = colon < 0 ? '' : text.slice(colon + 1)
  switch (colon < 0 ? '' : scheme) {
    case 'shell':
      if (rest.trim() === '') throw new RemoteSpecError(spec, 'shell: needs a command')
      return shellTransport(rest)
    case 'ssh':
      if (rest === '') throw new RemoteSpecError(spec, 'ssh: needs a host')
      checkWord(spec, 'host', rest)
      return sshTransport(rest)
    case 'adb':
      if (rest !== '') checkWord(spec, 'serial', rest)
      return adbTransport(rest === '' ? undefined : rest)
    case 'tcp': {
      const {address, token} = splitQuery(spec, rest)
      const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(address)
      if (!m) throw new RemoteSpecError(spec, 'expected tcp:HOST:PORT')
      const port = Number(m[3])
      if (port < 1 || port > 65535) throw new RemoteSpecError(spec, `port ${m[3]} is out of range`)
      return tcpTransport(m[1] ?? m[2], port, token)
    }
    case 'unix': {
      const {address, token} = splitQuery(spec, rest)
      if (address === '') throw new RemoteSpecError(spec, 'unix: needs a socket path')
      return unixTransport(address, token)
    }
    default:
      throw new RemoteSpecError(spec, colon < 0 ? 'not a known target' : `unknown transport '${scheme}'`)
  }
}
