/**
 * The adb: and ssh: transports, through stand-in adb and ssh executables
 * (see standins.ts) that run the device/host side on this machine.
 */
import assert from 'node:assert/strict'
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {after, describe, it} from 'node:test'
import {PermissionError, TransportError} from '../../src/remote/errors.js'
import type {Logger} from '../../src/remote/transport.js'
import {BPFD, bpfdUnavailable, connectTo, destroyLeftovers, MACHINE} from './bpfd-env.js'
import {makeStandIns, withEnv} from './standins.js'

after(destroyLeftovers)

const skip = bpfdUnavailable()

function recordingLogger(): Logger & {lines: string[]} {
  const lines: string[] = []
  return {lines, info: (m) => lines.push(m), debug: () => {}}
}

/** Connects, checks bpfd answers as bpfd, closes; returns what the transport logged. */
async function roundTrip(remote: string): Promise<string[]> {
  const logger = recordingLogger()
  const client = await connectTo(remote, {logger})
  try {
    assert.equal(client.hello.machine, MACHINE)
    const status = (await client.readWholeFile('/proc/self/status')).toString()
    // Installed as /data/local/tmp/bpfd on a device, /tmp/bpfd-ARCH on an ssh host.
    assert.match(status, new RegExp(`^Name:\\s+bpfd(-${MACHINE})?$`, 'm'))
  } finally {
    await client.close()
  }
  return logger.lines
}

describe('adb: through a stand-in adb', {skip}, () => {
  const s = makeStandIns()
  const env = {
    PATH: `${s.bin}:${process.env.PATH}`,
    STANDIN_LOG: s.log,
    FAKE_ADB_SERIAL: 'EMU5554',
    FAKE_DEVICE_TMP: s.deviceTmp,
    FAKE_ADB_UID: undefined,
    FAKE_ADB_SU: undefined,
  }
  const installed = join(s.deviceTmp, 'bpfd')
  after(() => rmSync(dirname(s.bin), {recursive: true, force: true}))

  it('pushes bpfd once, then reuses it while its hash matches', async () => {
    await withEnv(env, async () => {
      assert.deepEqual(await roundTrip('adb:EMU5554'), [
        `adb:EMU5554: pushing bpfd (${MACHINE}, ${Math.ceil(readFileSync(BPFD).length / 1024)} KiB) to /data/local/tmp/bpfd`,
      ])
      assert.ok(readFileSync(installed).equals(readFileSync(BPFD)))
      assert.deepEqual(await roundTrip('adb:EMU5554'), [])
      writeFileSync(installed, 'stale')
      assert.equal((await roundTrip('adb:EMU5554')).length, 1)
      assert.ok(readFileSync(installed).equals(readFileSync(BPFD)))
    })
    const log = readFileSync(s.log, 'utf8')
    assert.match(log, /^adb -s EMU5554 exec-out \/data\/local\/tmp\/bpfd$/m)
    assert.match(log, /^adb -s EMU5554 push .*bpfd-x86_64 \/data\/local\/tmp\/bpfd.new$/m)
  })

  it('talks to the only device when no serial is given', async () => {
    await withEnv(env, async () => {
      await roundTrip('adb:')
    })
    assert.match(readFileSync(s.log, 'utf8'), /^adb exec-out \/data\/local\/tmp\/bpfd$/m)
  })

  it('starts bpfd through su when adb shell is not root, and says so', async () => {
    await withEnv({...env, FAKE_ADB_UID: '2000', FAKE_ADB_SU: '1'}, async () => {
      assert.deepEqual(await roundTrip('adb:EMU5554'), ['adb:EMU5554: adb shell runs as uid 2000; starting bpfd through su'])
    })
    assert.match(readFileSync(s.log, 'utf8'), /^adb -s EMU5554 exec-out su -c \/data\/local\/tmp\/bpfd$/m)
  })

  it('refuses clearly when there is neither root nor su', async () => {
    await withEnv({...env, FAKE_ADB_UID: '2000'}, async () => {
      await assert.rejects(connectTo('adb:EMU5554'), (error: unknown) => {
        assert.ok(error instanceof PermissionError, String(error))
        assert.match(error.message, /^adb:EMU5554: bpfd needs root: adb shell runs as uid 2000 and su is not available/)
        return true
      })
    })
  })

  it('reports a missing device with adb’s own words', async () => {
    await withEnv(env, async () => {
      await assert.rejects(connectTo('adb:NOPE'), (error: unknown) => {
        assert.ok(error instanceof TransportError, String(error))
        assert.equal(error.message, "adb:NOPE: adb exited with code 1: adb: device 'NOPE' not found")
        return true
      })
    })
  })

  it('reports a missing adb executable', async () => {
    await withEnv({...env, PATH: '/nonexistent'}, async () => {
      await assert.rejects(connectTo('adb:EMU5554'), /^TransportError: adb:EMU5554: cannot run adb: adb not found on PATH$/)
    })
  })
})

describe('ssh: through a stand-in ssh', {skip}, () => {
  const s = makeStandIns()
  const env = {
    PATH: `${s.bin}:${process.env.PATH}`,
    STANDIN_LOG: s.log,
    FAKE_SSH_HOST: 'pi@raspberry',
    FAKE_HOST_TMP: s.hostTmp,
  }
  const installed = join(s.hostTmp, `bpfd-${MACHINE}`)
  after(() => rmSync(dirname(s.bin), {recursive: true, force: true}))

  it('uploads bpfd once, then reuses it while its hash matches', async () => {
    await withEnv(env, async () => {
      assert.deepEqual(await roundTrip('ssh:pi@raspberry'), [
        `ssh:pi@raspberry: uploading bpfd (${MACHINE}, ${Math.ceil(readFileSync(BPFD).length / 1024)} KiB) to /tmp/bpfd-${MACHINE}`,
      ])
      assert.ok(readFileSync(installed).equals(readFileSync(BPFD)))
      assert.deepEqual(await roundTrip('ssh:pi@raspberry'), [])
      writeFileSync(installed, 'stale')
      assert.equal((await roundTrip('ssh:pi@raspberry')).length, 1)
    })
    const log = readFileSync(s.log, 'utf8').trim().split('\n')
    // Probe, upload, run; probe, run; probe, upload, run.
    assert.equal(log.length, 8)
    assert.ok(log.every((line) => line.startsWith('ssh -o BatchMode=yes -T pi@raspberry ')))
    assert.equal(log[2], `ssh -o BatchMode=yes -T pi@raspberry /tmp/bpfd-${MACHINE}`)
  })

  it('reports ssh’s failure with its stderr', async () => {
    await withEnv(env, async () => {
      await assert.rejects(connectTo('ssh:nowhere'), (error: unknown) => {
        assert.ok(error instanceof TransportError, String(error))
        assert.equal(
          error.message,
          'ssh:nowhere: ssh exited with code 255: ssh: Could not resolve hostname nowhere: Name or service not known',
        )
        return true
      })
    })
  })
})
