/**
 * A Channel over a child process's stdin/stdout (bpfd itself, or ssh/adb/sh
 * running it). Keeps the tail of its stderr for error messages.
 */
import {spawn} from 'node:child_process'
import {TransportError} from '../errors.js'
import type {Channel, EndReason} from '../transport.js'
import {StderrTail} from './stderr-tail.js'

export interface ChildChannelOptions {
  /** How the user named the target, for error messages. */
  readonly transport: string
  /** What the child is called in messages: `bpfd`, `ssh`, `adb`. */
  readonly name: string
  readonly env?: NodeJS.ProcessEnv
  /** Words for the child's exit, when the default (`NAME exited with code N`) would mislead. */
  readonly describeExit?: (code: number | null, signal: NodeJS.Signals | null) => string
  /** How long to wait for the child to exit once its stdout ended. */
  readonly exitWaitMs?: number
}

/** Spawns `command args` and resolves once it is running. */
export function spawnChannel(command: string, args: readonly string[], options: ChildChannelOptions): Promise<Channel> {
  const {transport, name} = options
  const exitWaitMs = options.exitWaitMs ?? 1000
  // Own process group: a Ctrl-C at the terminal reaches only the host, which
  // then stops the tool and closes the session in order; the child ends when
  // its stdin does, even if the host is killed.
  const child = spawn(command, args, {stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env, detached: true})
  const stderr = new StderrTail()
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
  const stderrEnded = new Promise<void>((resolve) => {
    child.stderr.once('close', resolve)
    child.stderr.once('error', () => resolve())
  })

  const exited = new Promise<EndReason>((resolve) => {
    child.once('exit', (code, signal) => {
      const reason =
        options.describeExit?.(code, signal) ??
        (signal ? `${name} was killed by ${signal}` : `${name} exited with code ${code}`)
      resolve({reason})
    })
  })
  let hasExited = false
  void exited.then(() => {
    hasExited = true
  })

  const endReason = async (): Promise<EndReason> => {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<EndReason>((resolve) => {
      timer = setTimeout(() => resolve({reason: `${name} closed its output`}), exitWaitMs)
    })
    const result = await Promise.race([exited, timeout])
    clearTimeout(timer)
    // The last words usually arrive with the exit; give the pipe a moment to drain.
    await Promise.race([stderrEnded, new Promise((r) => setTimeout(r, 100))])
    return {...result, stderrTail: stderr.text() || undefined}
  }

  const destroy = (): void => {
    child.stdin.destroy()
    child.stdout.destroy()
    if (hasExited) return
    // TERM first so bpfd can remove tracefs probes; KILL if it does not go.
    child.kill('SIGTERM')
    setTimeout(() => {
      if (!hasExited) child.kill('SIGKILL')
    }, 1000).unref()
  }

  return new Promise<Channel>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      const what = error.code === 'ENOENT' ? `${command} not found` : error.message
      reject(new TransportError(transport, `${transport}: cannot run ${command}: ${what}`, {cause: error}))
    })
    child.once('spawn', () => {
      // Errors after start (a failed kill) must not crash the host.
      child.on('error', () => {})
      resolve({readable: child.stdout, writable: child.stdin, endReason, destroy})
    })
  })
}
