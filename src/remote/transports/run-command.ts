/**
 * Runs a helper command (ssh, adb) to completion for the probing and upload
 * steps before bpfd starts.
 */
import {spawn} from 'node:child_process'
import {TransportError} from '../errors.js'
import {StderrTail} from './stderr-tail.js'

export interface RunResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  /** How the user named the target, for error messages. */
  readonly transport: string
  /** Written to the command's stdin, which is then closed. */
  readonly input?: Buffer | string
  readonly timeoutMs?: number
  readonly env?: NodeJS.ProcessEnv
}

export function runCommand(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const {transport} = options
  const timeoutMs = options.timeoutMs ?? 60_000
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env})
    const stdout: Buffer[] = []
    const stderr = new StderrTail(8192)
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    // The command may exit without reading all its input; that is its exit status's business.
    child.stdin.on('error', () => {})
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new TransportError(transport, `${transport}: '${command} ${args.join(' ')}' did not finish within ${timeoutMs / 1000} s`))
    }, timeoutMs)
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      const what = error.code === 'ENOENT' ? `${command} not found on PATH` : error.message
      reject(new TransportError(transport, `${transport}: cannot run ${command}: ${what}`, {cause: error}))
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: stderr.text()})
    })
    child.stdin.end(options.input ?? '')
  })
}

/** `ssh exited with code 255`, or the signal that killed it. */
export function exitDescription(name: string, result: RunResult): string {
  return result.signal ? `${name} was killed by ${result.signal}` : `${name} exited with code ${result.code}`
}
