// A target that dies mid-trace: the host must end within 2 s, non-zero, with
// a message naming the target — over a socket and over a child's stdio.
import assert from 'node:assert/strict'
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {once} from 'node:events'
import {basename, join} from 'node:path'
import {test} from 'node:test'
import {BPFD, REPO, bpfdUnavailable, freePort, startListener, waitForListener} from '../remote/bpfd-env.js'

const CLI = join(REPO, 'bin', 'bpftools')

/** Starts opensnoop, waits for its header, kills the bpfd `victim()` names, and times the host's exit. */
async function killDuringTrace(remote: string, victim: (hostPid: number) => number) {
  const host = spawn(CLI, ['opensnoop', '--remote', remote], {stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  host.stderr.on('data', (d: Buffer) => (stderr += d))
  await new Promise<void>((resolve, reject) => {
    host.stdout.on('data', (d: Buffer) => {
      stdout += d
      if (stdout.includes('PATH\n')) resolve()
    })
    host.once('exit', () => reject(new Error(`opensnoop ended before its header: ${stderr}`)))
  })
  host.stdout.resume()
  try {
    process.kill(victim(host.pid!), 'SIGKILL')
  } catch (e) {
    // Never leave the tracer running behind a failed test.
    host.kill('SIGKILL')
    throw e
  }
  const t0 = Date.now()
  const timer = setTimeout(() => host.kill('SIGKILL'), 5000)
  const [code] = (await once(host, 'exit')) as [number | null]
  clearTimeout(timer)
  return {code, ms: Date.now() - t0, stderr}
}

test('bpfd killed behind tcp: the host exits within 2 s naming the target', {skip: bpfdUnavailable()}, async () => {
  const port = await freePort()
  const bpfd = startListener(['--listen', `127.0.0.1:${port}`])
  try {
    await waitForListener({host: '127.0.0.1', port})
    const r = await killDuringTrace(`tcp:127.0.0.1:${port}`, () => bpfd.pid!)
    assert.equal(r.code, 3, r.stderr)
    assert.ok(r.ms < 2000, `took ${r.ms} ms`)
    assert.match(r.stderr, new RegExp(`tcp:127\\.0\\.0\\.1:${port}.*closed`))
  } finally {
    bpfd.kill('SIGKILL')
  }
})

test('bpfd killed behind a shell relay: the host exits within 2 s naming the target', {skip: bpfdUnavailable()}, async () => {
  const remote = `shell:${BPFD}`
  const r = await killDuringTrace(remote, (hostPid) => {
    // The relay's bpfd is a descendant of the host process.
    const pids = execFileSync('pgrep', ['-x', basename(BPFD).slice(0, 15)], {encoding: 'utf8'}).trim().split('\n').map(Number)
    const mine = pids.find((pid) => isDescendant(pid, hostPid))
    assert.ok(mine, 'no bpfd below the host')
    return mine
  })
  assert.equal(r.code, 3, r.stderr)
  assert.ok(r.ms < 2000, `took ${r.ms} ms`)
  assert.match(r.stderr, /shell:.*(killed|closed|exited)/)
})

function isDescendant(pid: number, ancestor: number): boolean {
  for (let p = pid; p > 1; ) {
    if (p === ancestor) return true
    // A process that ended meanwhile (another bpfd on the machine, say) has no parent to follow.
    const r = spawnSync('ps', ['-o', 'ppid=', '-p', String(p)], {encoding: 'utf8'})
    p = Number(r.stdout.trim() || 1)
  }
  return false
}
