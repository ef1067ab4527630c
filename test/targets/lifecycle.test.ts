/**
 * The harness never leaves a guest behind: QEMU ends with the test process
 * however that process ends.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, rmSync} from 'node:fs'
import {describe, it} from 'node:test'
import {guestSkipReason} from './cli.js'

const guestModule = new URL('./guest.js', import.meta.url).href

/** Starts a child that boots a guest; resolves with the child and QEMU's pid and run directory once QEMU runs. */
function childWithGuest() {
  const script = `
    const {Guest} = await import(${JSON.stringify(guestModule)})
    await Guest.start({arch: 'x86_64', log: (line) => console.log(line)})
    console.log('ready')
    setInterval(() => {}, 1000)
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {stdio: ['ignore', 'pipe', 'inherit']})
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return new Promise<{child: typeof child; exited: Promise<void>; qemu: number; runDir: string}>((resolve, reject) => {
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s
      const m = /qemu pid (\d+), console (\S+)\/console\.log/.exec(out)
      if (m) resolve({child, exited, qemu: Number(m[1]), runDir: m[2]})
    })
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before QEMU started: ${out}`)))
  })
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (alive(pid)) {
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 50))
  }
  return true
}

const skip = await guestSkipReason('x86_64')

describe('guest lifecycle', {skip}, () => {
  it('SIGINT to the test process stops QEMU and removes the sockets', async () => {
    const {child, exited, qemu, runDir} = await childWithGuest()
    assert.ok(alive(qemu))
    child.kill('SIGINT')
    assert.ok(await waitGone(qemu, 5000), `QEMU ${qemu} outlived the interrupted test process`)
    await exited
    assert.equal(existsSync(runDir), false)
  })

  it('SIGKILL of the test process still ends QEMU (parent-death signal)', async () => {
    const {child, exited, qemu, runDir} = await childWithGuest()
    child.kill('SIGKILL')
    await exited
    assert.ok(await waitGone(qemu, 5000), `QEMU ${qemu} outlived the killed test process`)
    // A killed process cleans nothing up: its sockets and console are left to us.
    rmSync(runDir, {recursive: true, force: true})
  })
})
