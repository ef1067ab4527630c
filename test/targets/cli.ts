/**
 * Runs the built bpftools CLI asynchronously (tests talk to the guest while
 * it runs) and helpers shared by the guest suites.
 */
import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {packageRoot} from '../../src/remote/bpfd-binary.js'
import {qemuUnavailable, type Guest} from './guest.js'
import {guestImage, TargetUnavailable, type GuestArch} from './images.js'

export type CliResult = {code: number | null; signal?: NodeJS.Signals | null; stdout: string; stderr: string; ms: number}

export type CliOptions = {timeoutMs?: number; env?: NodeJS.ProcessEnv; signal?: AbortSignal}

export function bpftools(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const root = packageRoot()
  const started = Date.now()
  const timeoutMs = options.timeoutMs ?? 60_000
  return new Promise((resolve, reject) => {
    const child = spawn(join(root, 'bin', 'bpftools'), args, {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      // Aborting kills the CLI outright, as a crash would; the result says SIGKILL.
      signal: options.signal,
      killSignal: 'SIGKILL',
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`bpftools ${args.join(' ')}: no exit within ${timeoutMs / 1000} s\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, timeoutMs)
    child.on('error', (error) => {
      // An abort is reported here, and then as the close with SIGKILL.
      if (error.name === 'AbortError') return
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr, ms: Date.now() - started})
    })
  })
}

/** NDJSON lines of a tool's --json output. */
export function ndjson(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}

/**
 * Why the guest tests for `arch` cannot run here, or undefined once its image
 * is ready. BPFTOOLS_TARGETS=skip skips them on purpose; =require turns an
 * unavailable QEMU or package into a failure instead of a skip.
 */
export async function guestSkipReason(arch: GuestArch): Promise<string | undefined> {
  const mode = process.env.BPFTOOLS_TARGETS ?? ''
  if (mode === 'skip') return 'BPFTOOLS_TARGETS=skip'
  let reason = qemuUnavailable(arch)
  if (!reason) {
    try {
      await guestImage(arch, {log: (line) => process.stderr.write(`guest ${arch}: ${line}\n`)})
    } catch (error) {
      if (!(error instanceof TargetUnavailable)) throw error
      reason = error.message
    }
  }
  if (reason && mode === 'require') throw new Error(`BPFTOOLS_TARGETS=require, but the ${arch} guest cannot run: ${reason}`)
  return reason && `${arch} guest unavailable: ${reason}`
}

/** What a failed assertion about a CLI run against `guest` should show. */
export function explain(guest: Guest, r: CliResult): string {
  return `exit ${r.code} after ${r.ms} ms\nstderr: ${r.stderr}\nstdout (head): ${r.stdout.slice(0, 3000)}\nguest console:\n${guest.consoleTail(15)}`
}

/** Runs `bpftools ARGS` while `cat FILE` loops in the guest. */
export async function withCatLoop(guest: Guest, file: string, args: string[]): Promise<CliResult> {
  await guest.check(`echo x > ${file}`)
  const loop = await guest.spawn(`while :; do cat ${file}; sleep 0.1; done`)
  try {
    return await bpftools(args)
  } finally {
    await guest.sh(`kill ${loop}`)
  }
}
