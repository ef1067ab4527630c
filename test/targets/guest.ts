/**
 * A throwaway QEMU guest (TCG) running the cached image of images.ts: bpfd on
 * a virtio-serial port carried over a unix-socket chardev (`--remote
 * unix:PATH`), and a test-only `ctl` port whose lines the guest's /init runs
 * with sh. Optionally a blank disk (`disk`) and a network card serving the
 * stand-in adbd (`adb`). Every guest is stopped by stop(), and also when this
 * process exits or is signalled; QEMU gets SIGKILL if this process dies
 * without cleaning up.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {accessSync, constants, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync} from 'node:fs'
import {mkdtemp, open} from 'node:fs/promises'
import {type AddressInfo, connect, createServer, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'
import {Client} from '../../src/remote/client.js'
import type {Hello} from '../../src/remote/hello.js'
import {parseRemote} from '../../src/remote/transports/parse.js'
import {guestImage, TargetUnavailable, targetsCacheDir, type GuestArch, type GuestImage} from './images.js'

export type GuestOptions = {
  arch: GuestArch
  memoryMb?: number
  cpus?: number
  /** From QEMU's start to bpfd's hello. */
  bootTimeoutMs?: number
  /** Attach a blank 64 MiB virtio disk (the guest sees /dev/vda); writes go to a throwaway overlay. */
  disk?: boolean
  /**
   * Give the guest a network card and serve the stand-in adbd on it (see
   * guest-adbd.sh): `adbAddress` is then its 127.0.0.1:PORT on this host.
   */
  adb?: boolean
  log?: (line: string) => void
}

type Machine = {qemu: string; debPackage: string; args: string[]; console: string; serialBus: string; bus: 'pci' | 'device'}

const MACHINES: Record<GuestArch, Machine> = {
  x86_64: {
    qemu: 'qemu-system-x86_64',
    debPackage: 'qemu-system-x86',
    args: ['-M', 'pc', '-cpu', 'max'],
    console: 'ttyS0',
    serialBus: 'virtio-serial-pci',
    bus: 'pci',
  },
  aarch64: {
    qemu: 'qemu-system-aarch64',
    debPackage: 'qemu-system-arm',
    // pauth-impdef: QEMU's cheap pointer-auth algorithm; the architected one makes TCG boot about 3x slower.
    args: ['-M', 'virt', '-cpu', 'max,pauth-impdef=on'],
    console: 'ttyAMA0',
    serialBus: 'virtio-serial-device',
    bus: 'device',
  },
}

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const path = join(dir, command)
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {
      // Not here.
    }
  }
  return undefined
}

/** Why QEMU for `arch` cannot run here, or undefined. */
export function qemuUnavailable(arch: GuestArch): string | undefined {
  const m = MACHINES[arch]
  return onPath(m.qemu) ? undefined : `${m.qemu} is not installed (Debian package ${m.debPackage})`
}

const running = new Set<Guest>()
let handlersInstalled = false

function installExitHandlers(): void {
  if (handlersInstalled) return
  handlersInstalled = true
  process.on('exit', () => {
    for (const guest of running) guest.killNow()
  })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = () => {
      for (const guest of running) guest.killNow()
      // Then die of the signal as we would have without this handler.
      process.off(signal, handler)
      process.kill(process.pid, signal)
    }
    process.on(signal, handler)
  }
}

/** The blank raw disk image of `disk: true`, created once (sparse) in the targets cache. */
async function blankDisk(): Promise<string> {
  const dir = targetsCacheDir()
  const path = join(dir, 'disk-64M.raw')
  if (existsSync(path)) return path
  mkdirSync(dir, {recursive: true})
  const staging = `${path}.${process.pid}`
  const handle = await open(staging, 'w')
  await handle.truncate(64 << 20)
  await handle.close()
  renameSync(staging, path)
  return path
}

/** A TCP port on 127.0.0.1 that nothing listens on at the moment. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port
      server.close(() => resolve(port))
    })
  })
}

/** The guest's port for the stand-in adbd (guest-init.sh). */
const ADBD_PORT = 5555

const DONE = /(?:^|\n)__CTL_DONE__ (\d+)\n/

export type ShResult = {status: number; output: string}

export class Guest {
  /** `--remote` for bpftools: a unix socket whose peer is a fresh bpfd per connection. */
  readonly remote: string
  /** Milliseconds from QEMU's start to bpfd's hello. */
  bootMs = 0
  /** What bpfd said when the guest came up. */
  hello?: Hello
  /** With `adb: true`: where the stand-in adbd of the guest listens on this host (127.0.0.1:PORT). */
  adbAddress?: string
  private ctl?: Socket
  private ctlBuffer = ''
  private ctlWaiter?: () => void
  private ctlQueue: Promise<unknown> = Promise.resolve()
  private exited = false
  private exitWaiters: (() => void)[] = []
  private qemuStderr = ''

  private constructor(
    readonly arch: GuestArch,
    readonly image: GuestImage,
    private readonly runDir: string,
    private readonly child: ChildProcess,
    readonly consoleLog: string,
  ) {
    this.remote = `unix:${join(runDir, 'bpfd.sock')}`
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      this.qemuStderr = (this.qemuStderr + chunk).slice(-4000)
    })
    child.once('exit', () => {
      this.exited = true
      for (const waiter of this.exitWaiters.splice(0)) waiter()
    })
  }

  /** Builds or finds the image, boots it and waits until bpfd answers. */
  static async start(options: GuestOptions): Promise<Guest> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await Guest.startOnce(options)
      } catch (error) {
        // Another process took the free port between freePort() and QEMU's bind.
        if (!options.adb || attempt >= 3 || !/host forwarding/.test(String((error as Error).message))) throw error
      }
    }
  }

  private static async startOnce(options: GuestOptions): Promise<Guest> {
    const log = options.log ?? (() => {})
    const machine = MACHINES[options.arch]
    const missing = qemuUnavailable(options.arch)
    if (missing) throw new TargetUnavailable(missing)
    const image = await guestImage(options.arch, {log})

    const runDir = await mkdtemp(join(tmpdir(), `bpftools-guest-${options.arch}-`))
    const consoleLog = join(runDir, 'console.log')
    const args = [
      ...machine.args,
      '-m', String(options.memoryMb ?? 512),
      '-smp', String(options.cpus ?? 1),
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-kernel', image.kernel,
      '-initrd', image.initrd,
      // bpftools.adb=1 (ignored by the kernel): /init waits for the network card and serves adbd.
      '-append', `console=${machine.console} panic=-1 quiet${options.adb ? ' bpftools.adb=1' : ''}`,
      '-chardev', `file,id=con,path=${consoleLog}`,
      '-serial', 'chardev:con',
      '-device', `${machine.serialBus},id=vser`,
      '-chardev', `socket,id=bpfd,path=${join(runDir, 'bpfd.sock')},server=on,wait=off`,
      '-device', 'virtserialport,bus=vser.0,chardev=bpfd,name=bpfd',
      '-chardev', `socket,id=ctl,path=${join(runDir, 'ctl.sock')},server=on,wait=off`,
      '-device', 'virtserialport,bus=vser.0,chardev=ctl,name=ctl',
    ]
    if (options.disk) {
      // snapshot=on: the guest's writes land in a temporary overlay, so guests can share the one image.
      args.push('-drive', `file=${await blankDisk()},if=none,id=disk0,format=raw,snapshot=on`, '-device', `virtio-blk-${machine.bus},drive=disk0`)
    }
    let adbPort: number | undefined
    if (options.adb) {
      adbPort = await freePort()
      // restrict=on: the guest reaches nothing outside; only the forwarded port reaches it.
      args.push(
        '-netdev', `user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:${adbPort}-:${ADBD_PORT}`,
        // romfile=: the PCI card's boot ROM is not needed with -kernel.
        '-device', `virtio-net-${machine.bus},netdev=net0${machine.bus === 'pci' ? ',romfile=' : ''}`,
      )
    }

    // setpriv's parent-death signal survives the exec into QEMU: no orphaned guest if this process is killed.
    const setpriv = onPath('setpriv')
    const [cmd, argv] = setpriv ? [setpriv, ['--pdeathsig', 'SIGKILL', '--', machine.qemu, ...args]] : [machine.qemu, args]
    const started = Date.now()
    const child = spawn(cmd, argv, {detached: true, stdio: ['ignore', 'ignore', 'pipe']})
    const guest = new Guest(options.arch, image, runDir, child, consoleLog)
    installExitHandlers()
    running.add(guest)
    log(`${options.arch}: qemu pid ${child.pid}, console ${consoleLog}`)
    try {
      await guest.waitForBpfd(options.bootTimeoutMs ?? 60_000)
      guest.bootMs = Date.now() - started
      await guest.connectCtl()
      // The first test's connection must not race the probe's bpfd on its way out.
      await guest.check('while pidof bpfd >/dev/null; do sleep 0.05; done')
      if (adbPort !== undefined) {
        await guest.check(`i=0; until netstat -ltn | grep -q ':${ADBD_PORT} '; do i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.05; done`)
        guest.adbAddress = `127.0.0.1:${adbPort}`
      }
    } catch (error) {
      await guest.stop()
      throw error
    }
    log(`${options.arch}: bpfd answered ${guest.bootMs} ms after qemu started (${guest.hello?.release})`)
    return guest
  }

  private qemuDied(): Error {
    return new Error(
      `qemu-system for ${this.arch} exited during boot: ${this.qemuStderr.trim() || '(no message)'}\n` +
        `console:\n${this.consoleTail()}`,
    )
  }

  /** The last lines of the serial console, for error messages. */
  consoleTail(lines = 30): string {
    try {
      return readFileSync(this.consoleLog, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
    } catch {
      return '(no console output)'
    }
  }

  private exitPromise(): Promise<void> {
    return this.exited ? Promise.resolve() : new Promise((resolve) => this.exitWaiters.push(resolve))
  }

  private async waitForBpfd(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    const died = this.exitPromise().then(() => {
      throw this.qemuDied()
    })
    died.catch(() => {})
    for (;;) {
      if (this.exited) throw this.qemuDied()
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`${this.arch} guest: bpfd did not answer within ${timeoutMs / 1000} s\nconsole:\n${this.consoleTail()}`)
      try {
        // QEMU holds the hello until the guest's bpfd opens its port, so one attempt covers the whole boot.
        const attempt = Client.connect(parseRemote(this.remote), {helloTimeoutMs: left})
        const client = await Promise.race([attempt, died])
        this.hello = client.hello
        // Not close(): after its `quit` it waits for an end of stream QEMU never sends.
        client.destroy()
        return
      } catch (error) {
        if (this.exited) throw this.qemuDied()
        // The socket appears a moment after QEMU starts.
        if (/ENOENT|ECONNREFUSED/.test(String((error as Error).message))) {
          await new Promise((resolve) => setTimeout(resolve, 20))
          continue
        }
        throw new Error(`${this.arch} guest: ${(error as Error).message}\nconsole:\n${this.consoleTail()}`)
      }
    }
  }

  private connectCtl(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect(join(this.runDir, 'ctl.sock'))
      socket.setEncoding('utf8')
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        socket.on('error', () => {})
        this.ctl = socket
        resolve()
      })
      socket.on('data', (chunk: string) => {
        this.ctlBuffer += chunk
        this.ctlWaiter?.()
      })
      socket.on('close', () => this.ctlWaiter?.())
    })
  }

  /**
   * Test-only: runs one line of shell in the guest (as root, cwd /, stdin
   * /dev/null) and returns its exit status and output. Lines run one at a
   * time; a command that must outlive its line has to redirect its output,
   * e.g. `spawn()`.
   */
  sh(command: string, timeoutMs = 20_000): Promise<ShResult> {
    if (command.includes('\n')) throw new Error('guest.sh: one line only')
    return this.queueCtl(command, timeoutMs)
  }

  /** Test-only: copies a host file into the guest (as root) and sets its mode. */
  async push(hostPath: string, guestPath: string, mode = 0o755): Promise<void> {
    if (/\s/.test(guestPath)) throw new Error(`guest.push: '${guestPath}' has white space`)
    const data = readFileSync(hostPath)
    const {status, output} = await this.queueCtl(`__CTL_PUT__ ${data.length} ${guestPath}`, 60_000, data)
    if (status !== 0) throw new Error(`${this.arch} guest: storing ${data.length} bytes in ${guestPath} failed: ${output}`)
    await this.check(`chmod ${mode.toString(8)} ${guestPath}`)
  }

  private queueCtl(command: string, timeoutMs: number, payload?: Buffer): Promise<ShResult> {
    const result = this.ctlQueue.then(() => this.runCtl(command, timeoutMs, payload))
    this.ctlQueue = result.catch(() => {})
    return result
  }

  private runCtl(command: string, timeoutMs: number, payload?: Buffer): Promise<ShResult> {
    const ctl = this.ctl
    if (!ctl || ctl.destroyed) return Promise.reject(new Error(`${this.arch} guest: the ctl port is not connected`))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.ctlWaiter = undefined
        reject(new Error(`${this.arch} guest: '${command}' did not finish within ${timeoutMs / 1000} s; output so far: ${this.ctlBuffer}`))
      }, timeoutMs)
      this.ctlWaiter = () => {
        const m = DONE.exec(this.ctlBuffer)
        if (!m) {
          if (ctl.destroyed || this.exited) {
            clearTimeout(timer)
            this.ctlWaiter = undefined
            reject(new Error(`${this.arch} guest: the ctl port closed while running '${command}'`))
          }
          return
        }
        clearTimeout(timer)
        this.ctlWaiter = undefined
        const output = this.ctlBuffer.slice(0, m.index)
        this.ctlBuffer = this.ctlBuffer.slice(m.index + m[0].length)
        resolve({status: Number(m[1]), output})
      }
      ctl.write(command + '\n')
      if (payload) ctl.write(payload)
    })
  }

  /** Like sh(), but fails unless the status is 0; returns the output. */
  async check(command: string, timeoutMs?: number): Promise<string> {
    const {status, output} = await this.sh(command, timeoutMs)
    if (status !== 0) throw new Error(`${this.arch} guest: '${command}' exited with ${status}: ${output}`)
    return output
  }

  /** Test-only: starts a background workload in the guest; returns its PID (the sh running `command`). */
  async spawn(command: string): Promise<number> {
    const out = await this.check(`sh -c '${command.replace(/'/g, `'\\''`)}' </dev/null >/dev/null 2>&1 & echo $!`)
    const pid = Number(out.trim())
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${this.arch} guest: spawn printed '${out}', not a PID`)
    return pid
  }

  /** Stops QEMU (SIGTERM, then SIGKILL) and removes the sockets; keeps the console log in the cache. */
  async stop(): Promise<void> {
    this.ctl?.destroy()
    if (!this.exited) {
      this.signal('SIGTERM')
      const killer = setTimeout(() => this.signal('SIGKILL'), 3000)
      await this.exitPromise()
      clearTimeout(killer)
    }
    running.delete(this)
    this.keepLog()
    rmSync(this.runDir, {recursive: true, force: true})
  }

  /** Synchronous stop for exit and signal handlers. */
  killNow(): void {
    this.signal('SIGKILL')
    this.keepLog()
    rmSync(this.runDir, {recursive: true, force: true})
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      // The whole process group, in case QEMU was started through a wrapper.
      if (this.child.pid !== undefined) process.kill(-this.child.pid, signal)
    } catch {
      // Already gone.
    }
  }

  private keepLog(): void {
    try {
      const logs = join(targetsCacheDir(), 'logs')
      mkdirSync(logs, {recursive: true})
      copyFileSync(this.consoleLog, join(logs, `${this.arch}-console.log`))
    } catch {
      // Nothing to keep.
    }
  }
}
