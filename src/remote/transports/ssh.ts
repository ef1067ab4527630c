/**
 * `ssh:[USER@]HOST`: uploads bpfd to the host's /tmp when it is missing or
 * differs, then runs it with ssh carrying its stdio.
 */
import {BPFD_ARCHES, readBpfd, toBpfdArch} from '../bpfd-binary.js'
import {TransportError} from '../errors.js'
import {type Channel, type OpenOptions, silentLogger, type Transport} from '../transport.js'
import {spawnChannel} from './child-channel.js'
import {outputLines, parseSha256sum} from './probe-output.js'
import {exitDescription, runCommand} from './run-command.js'

/** Never prompt: a prompt would hang invisibly behind the protocol stream. */
const SSH_OPTIONS = ['-o', 'BatchMode=yes', '-T']
const REMOTE_DIR = '/tmp'

function sshExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `ssh was killed by ${signal}`
  // 255 is ssh's own failure; anything else is the remote bpfd's status.
  return code === 255 ? 'ssh exited with code 255' : `bpfd exited with code ${code}`
}

export function sshTransport(destination: string): Transport {
  const description = `ssh:${destination}`
  const ssh = (command: string, input?: Buffer) =>
    runCommand('ssh', [...SSH_OPTIONS, destination, command], {transport: description, input})

  return {
    description,
    async open(options: OpenOptions = {}): Promise<Channel> {
      const logger = options.logger ?? silentLogger
      const candidates = BPFD_ARCHES.map((arch) => `bpfd-${arch}`)
      // One connection learns the architecture and what is already uploaded.
      const probe = await ssh(`uname -m; cd ${REMOTE_DIR} && sha256sum ${candidates.join(' ')} 2>/dev/null; true`)
      if (probe.code !== 0) {
        throw new TransportError(description, `${description}: ${exitDescription('ssh', probe)}`, {stderrTail: probe.stderr})
      }
      const lines = outputLines(probe.stdout)
      const machine = lines[0] ?? ''
      const arch = toBpfdArch(options.arch ?? machine)
      if (!arch) {
        throw new TransportError(
          description,
          `${description}: no bpfd build for architecture '${options.arch ?? machine}' (pass --arch x86_64 or aarch64 to override)`,
        )
      }
      const remotePath = `${REMOTE_DIR}/bpfd-${arch}`
      const local = await readBpfd(arch, description)
      if (parseSha256sum(lines.slice(1)).get(`bpfd-${arch}`) !== local.sha256) {
        logger.info(`${description}: uploading bpfd (${arch}, ${Math.ceil(local.bytes.length / 1024)} KiB) to ${remotePath}`)
        // Write beside and rename, so a running bpfd is never overwritten in place.
        const upload = await ssh(
          `cat > ${remotePath}.$$ && chmod 755 ${remotePath}.$$ && mv -f ${remotePath}.$$ ${remotePath}`,
          local.bytes,
        )
        if (upload.code !== 0) {
          throw new TransportError(description, `${description}: uploading bpfd failed: ${exitDescription('ssh', upload)}`, {
            stderrTail: upload.stderr,
          })
        }
      }
      logger.debug(`${description}: starting ${remotePath}`)
      return spawnChannel('ssh', [...SSH_OPTIONS, destination, remotePath], {
        transport: description,
        name: 'ssh',
        describeExit: sshExit,
      })
    },
  }
}
