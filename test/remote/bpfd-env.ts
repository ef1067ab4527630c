/**
 * Where the real bpfd and the repository are, for the tests that run it.
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {existsSync} from 'node:fs'
import {createServer, connect} from 'node:net'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Client, type ClientOptions} from '../../src/remote/client.js'
import {parseRemote} from '../../src/remote/transports/parse.js'

/** The repository root (tests run from dist/test/remote). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

export const MACHINE = execFileSync('uname', ['-m'], {encoding: 'utf8'}).trim()

export const BPFD = join(REPO, 'daemon', 'out', `bpfd-${MACHINE}`)

/** Why the real-bpfd tests cannot run here, or undefined when they can. */
export function bpfdUnavailable(): string | undefined {
  if (!existsSync(BPFD)) return `${BPFD} is not built (make -C daemon)`
  if (process.getuid?.() !== 0) return 'bpfd needs root'
  return undefined
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** Resolves once something accepts connections at the address. */
export async function waitForListener(target: {port: number; host: string} | {path: string}, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const socket = connect(target as never)
      socket.once('connect', () => {
        socket.destroy()
        done(true)
      })
      socket.once('error', () => done(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listens at ${JSON.stringify(target)}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Starts `bpfd ARGS` as a listening server. */
export function startListener(args: string[]): ChildProcess {
  const child = spawn(BPFD, args, {stdio: ['ignore', 'ignore', 'pipe']})
  child.stderr?.resume()
  return child
}

export function stop(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done()
    child.once('exit', () => done())
    child.kill('SIGTERM')
  })
}

const opened = new Set<Client>()

/**
 * Connects and remembers the client, so a failing test cannot leave a bpfd
 * holding the test process open: call destroyLeftovers() in an after hook.
 */
export async function connectTo(remote: string, options?: ClientOptions): Promise<Client> {
  const client = await Client.connect(parseRemote(remote), options)
  opened.add(client)
  return client
}

export function destroyLeftovers(): void {
  for (const client of opened) client.destroy()
  opened.clear()
}
