/**
 * The adb transport end to end: `--remote adb:SERIAL` against the arm64
 * guest, with the stand-in adb (test/targets/bin/adb) first on PATH and the
 * guest serving guest-adbd.sh as the device. Its shell runs as uid 2000, and
 * its su is AOSP's kind (`su 0 CMD`, no -c).
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, dirname, join} from 'node:path'
import {after, before, beforeEach, describe, it} from 'node:test'
import {bpfdPath, packageRoot} from '../../src/remote/bpfd-binary.js'
import {staticBinary} from './build-fixture.js'
import {bpftools, explain, guestSkipReason, ndjson, type CliResult} from './cli.js'
import {Guest} from './guest.js'

const SERIAL = 'bpftools-guest-1'
const REMOTE = `adb:${SERIAL}`
const BPFD = '/data/local/tmp/bpfd'

const skip = await guestSkipReason('aarch64')
describe(`${REMOTE}: the arm64 guest as an adb device`, {skip}, () => {
  let guest: Guest
  let dir: string
  let log: string
  let env: NodeJS.ProcessEnv
  let noSu: string | undefined

  /** The stand-in's invocations since the last beforeEach, each as its argument list. */
  const adbCalls = (): string[][] =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as string[])
  const pushes = () => adbCalls().filter((a) => a.includes('push'))
  const adb = (...args: string[]) => spawnSync('adb', ['-s', SERIAL, ...args], {env, encoding: 'utf8'})
  const deviceSha = async () => (await guest.check(`sha256sum ${BPFD}`)).split(/\s/)[0]
  const localSha = () => createHash('sha256').update(readFileSync(bpfdPath('aarch64'))).digest('hex')

  before(async () => {
    guest = await Guest.start({arch: 'aarch64', adb: true, log: (line) => process.stderr.write(`guest ${line}\n`)})
    dir = mkdtempSync(join(tmpdir(), 'bpftools-adb-'))
    log = join(dir, 'adb.log')
    env = {
      ...process.env,
      PATH: `${join(packageRoot(), 'test', 'targets', 'bin')}${delimiter}${process.env.PATH ?? ''}`,
      ADB_STANDIN_DEVICES: `${SERIAL}=${guest.adbAddress}`,
      ADB_STANDIN_LOG: log,
    }
    const su = staticBinary('aarch64', 'android_su.c', ['-O2', '-s'])
    if (typeof su === 'string') {
      noSu = su
      return
    }
    try {
      await guest.push(su.path, '/system/xbin/su', 0o4755)
    } finally {
      rmSync(dirname(su.path), {recursive: true, force: true})
    }
  }, {timeout: 180_000})

  after(async () => {
    await guest?.stop()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  beforeEach(() => writeFileSync(log, ''))

  it('the device: adb shell is uid 2000, su -c fails, su 0 is root', (t) => {
    if (noSu) return t.skip(noSu)
    assert.deepEqual(adb('devices').stdout.split('\n').filter(Boolean), ['List of devices attached', `${SERIAL}\tdevice`])
    const id = adb('shell', 'id -u')
    assert.equal(id.status, 0, id.stderr)
    assert.equal(id.stdout.trim(), '2000')
    const magisk = adb('shell', "su -c 'id -u'")
    assert.notEqual(magisk.status, 0)
    assert.match(magisk.stdout, /su: unknown option '-c'/)
    const aosp = adb('shell', 'su 0 id -u')
    assert.equal(aosp.status, 0, aosp.stdout)
    assert.equal(aosp.stdout.trim(), '0')
  })

  it('first run pushes bpfd (the device has none) and starts it through su 0', async (t) => {
    if (noSu) return t.skip(noSu)
    assert.equal((await guest.sh(`test -e ${BPFD}`)).status, 1, 'the device starts without bpfd')
    const r = await bpftools(['target', '--remote', REMOTE, '--json', '--verbose'], {env})
    assert.equal(r.code, 0, explain(guest, r))
    const info = JSON.parse(r.stdout) as {target: string; machine: string; uid: number; release: string}
    assert.equal(info.target, REMOTE)
    assert.equal(info.machine, 'aarch64')
    assert.equal(info.release, guest.image.manifest.kernelRelease)
    // adb shell is uid 2000: root came from su.
    assert.equal(info.uid, 0)
    assert.deepEqual(pushes(), [['-s', SERIAL, 'push', bpfdPath('aarch64'), `${BPFD}.new`]])
    assert.deepEqual(adbCalls().at(-1), ['-s', SERIAL, 'exec-out', 'su', '0', BPFD])
    assert.match(r.stderr, /pushing bpfd \(aarch64, \d+ KiB\) to \/data\/local\/tmp\/bpfd/)
    assert.match(r.stderr, /adb shell runs as uid 2000; starting bpfd through su/)
    assert.equal(await deviceSha(), localSha())
    // Pushed as the shell user, as adbd does.
    assert.equal((await guest.check(`stat -c '%u %a' ${BPFD}`)).trim(), '2000 755')
  })

  it('second run finds the same sha256 on the device, does not push, and traces opens there', async (t) => {
    if (noSu) return t.skip(noSu)
    const file = '/tmp/adb-opens'
    await guest.check(`echo x > ${file}`)
    const loop = await guest.spawn(`while :; do cat ${file}; sleep 0.2; done`)
    let r: CliResult
    try {
      r = await bpftools(['opensnoop', '--remote', REMOTE, '--json', '-d', '2'], {env})
    } finally {
      await guest.sh(`kill ${loop}`)
    }
    assert.equal(r.code, 0, explain(guest, r))
    assert.deepEqual(pushes(), [])
    const hits = ndjson(r.stdout).filter((e) => e.path === file)
    assert.ok(hits.length >= 3, `expected the loop's opens of ${file}; got ${hits.length}\n${explain(guest, r)}`)
    for (const e of hits) assert.equal(e.comm, 'cat')
    // The session ended with the CLI: no bpfd is left running on the device.
    const gone = async () => (await guest.sh('pidof bpfd')).status !== 0
    for (let i = 0; i < 50 && !(await gone()); i++) await new Promise((resolve) => setTimeout(resolve, 100))
    assert.ok(await gone(), `bpfd still runs: ${(await guest.sh('ps')).output}`)
  })

  it('a bpfd on the device that differs from the bundled one is replaced', async (t) => {
    if (noSu) return t.skip(noSu)
    await guest.check(`echo stale >> ${BPFD}`)
    const r = await bpftools(['target', '--remote', REMOTE, '--json'], {env})
    assert.equal(r.code, 0, explain(guest, r))
    assert.equal(pushes().length, 1, JSON.stringify(adbCalls()))
    assert.equal(await deviceSha(), localSha())
  })

  it('without su on the device: exit 4, saying bpfd needs root', async (t) => {
    if (noSu) return t.skip(noSu)
    await guest.check('mv /system/xbin/su /system/xbin/su.off')
    let r: CliResult
    try {
      r = await bpftools(['target', '--remote', REMOTE], {env})
    } finally {
      await guest.check('mv /system/xbin/su.off /system/xbin/su')
    }
    assert.equal(r.code, 4, explain(guest, r))
    assert.match(r.stderr, /adb:bpftools-guest-1: bpfd needs root: adb shell runs as uid 2000 and su is not available/)
    assert.ok(!adbCalls().some((a) => a.includes('exec-out')), 'bpfd was started anyway')
  })

  it('an absent device: exit 3 with adb\'s own message', async () => {
    const r = await bpftools(['target', '--remote', 'adb:absent-device'], {env})
    assert.equal(r.code, 3, explain(guest, r))
    assert.match(r.stderr, /adb:absent-device: .*adb: device 'absent-device' not found/s)
    assert.equal(r.stdout, '')
    assert.deepEqual(adbCalls().map((a) => a.slice(0, 3)), [['-s', 'absent-device', 'shell']])
  })
})
