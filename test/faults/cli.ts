/**
 * Running bpftools as a user does, for the fault tests: to completion, or
 * until it is ready, then stopped as Ctrl-C does.
 */
import {spawn, spawnSync, type SpawnSyncReturns} from 'node:child_process'
import {BPFTOOLS} from '../tools/helpers/programs.js'

export type Run = {code: number | null; stdout: string; stderr: string}

/**
 * Runs bpftools until it is ready (its header on stdout, or a line matching
 * `ready` on either stream), calls `during`, then stops it as Ctrl-C does.
 */
export function traced(args: string[], during: () => void, o: {ready?: RegExp; env?: NodeJS.ProcessEnv} = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(BPFTOOLS, args, {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, ...o.env}})
    let stdout = ''
    let stderr = ''
    let started = false
    const check = () => {
      if (started || !(o.ready ? o.ready.test(stdout) || o.ready.test(stderr) : stdout.includes('\n'))) return
      started = true
      try {
        during()
      } catch (e) {
        reject(e)
      }
      // Give the last events a moment to arrive before stopping.
      setTimeout(() => child.kill('SIGINT'), 500)
    }
    child.stdout.on('data', (d: Buffer) => {
      stdout += d
      check()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d
      check()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr})
    })
  })
}

export function cli(args: string[], env?: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  return spawnSync(BPFTOOLS, args, {encoding: 'utf8', timeout: 60_000, env: {...process.env, ...env}})
}
