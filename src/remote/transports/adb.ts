/**
 * `adb:[SERIAL]`: pushes bpfd to /data/local/tmp when it is missing or
 * differs, then runs it through `adb exec-out` (a clean binary stream), as
 * root directly or through su.
 */
import {readBpfd, toBpfdArch} from '../bpfd-binary.js'
import {PermissionError, TransportError} from '../errors.js'
import {type Channel, type OpenOptions, silentLogger, type Transport} from '../transport.js'
import {spawnChannel} from './child-channel.js'
import {outputLines, parseSha256sum} from './probe-output.js'
import {exitDescription, runCommand, type RunResult} from './run-command.js'

const REMOTE_DIR = '/data/local/tmp'
const REMOTE_PATH = `${REMOTE_DIR}/bpfd`

/** Magisk-style `su -c CMD`, then AOSP userdebug `su 0 CMD`. */
const SU_PROBE =
  `if [ "$(su -c 'id -u' </dev/null 2>/dev/null)" = 0 ]; then echo su-c; ` +
  `elif [ "$(su 0 id -u </dev/null 2>/dev/null)" = 0 ]; then echo su-0; else echo none; fi`

export function adbTransport(serial?: string): Transport {
  const description = serial ? `adb:${serial}` : 'adb'
  const selector = serial ? ['-s', serial] : []
  const adb = (...args: string[]) => runCommand('adb', [...selector, ...args], {transport: description})

  const fail = (what: string, result: RunResult) =>
    new TransportError(description, `${description}: ${what}${exitDescription('adb', result)}`, {
      stderrTail: result.stderr,
    })

  return {
    description,
    async open(options: OpenOptions = {}): Promise<Channel> {
      const logger = options.logger ?? silentLogger
      const probe = await adb('shell', `uname -m; id -u; cd ${REMOTE_DIR} && sha256sum bpfd 2>/dev/null; true`)
      if (probe.code !== 0) throw fail('', probe)
      const lines = outputLines(probe.stdout)
      const machine = lines[0] ?? ''
      const uid = Number(lines[1])
      if (machine === '' || !/^\d+$/.test(lines[1] ?? '')) {
        throw new TransportError(description, `${description}: unexpected output from the device probe: ${JSON.stringify(probe.stdout.slice(0, 200))}`)
      }
      const arch = toBpfdArch(options.arch ?? machine)
      if (!arch) {
        throw new TransportError(
          description,
          `${description}: no bpfd build for architecture '${options.arch ?? machine}' (pass --arch x86_64 or aarch64 to override)`,
        )
      }
      const local = await readBpfd(arch, description)
      if (parseSha256sum(lines.slice(2)).get('bpfd') !== local.sha256) {
        logger.info(`${description}: pushing bpfd (${arch}, ${Math.ceil(local.bytes.length / 1024)} KiB) to ${REMOTE_PATH}`)
        const push = await adb('push', local.path, `${REMOTE_PATH}.new`)
        if (push.code !== 0) throw fail('pushing bpfd failed: ', push)
        // Rename into place so a running bpfd is never overwritten; old adb
        // loses the exit status, so success is the echoed word.
        const install = await adb('shell', `chmod 755 ${REMOTE_PATH}.new && mv -f ${REMOTE_PATH}.new ${REMOTE_PATH} && echo installed`)
        if (install.code !== 0 || !outputLines(install.stdout).includes('installed')) {
          throw new TransportError(description, `${description}: installing bpfd at ${REMOTE_PATH} failed`, {
            stderrTail: install.stderr || install.stdout,
          })
        }
      }

      let command = [REMOTE_PATH]
      if (uid !== 0) {
        const su = outputLines((await adb('shell', SU_PROBE)).stdout)
        if (su.includes('su-c')) command = ['su', '-c', REMOTE_PATH]
        else if (su.includes('su-0')) command = ['su', '0', REMOTE_PATH]
        else {
          throw new PermissionError(
            description,
            `bpfd needs root: adb shell runs as uid ${uid} and su is not available (use a rooted device, or 'adb root' on a userdebug build)`,
          )
        }
        logger.info(`${description}: adb shell runs as uid ${uid}; starting bpfd through su`)
      }
      logger.debug(`${description}: starting ${command.join(' ')}`)
      return spawnChannel('adb', [...selector, 'exec-out', ...command], {transport: description, name: 'adb'})
    },
  }
}
