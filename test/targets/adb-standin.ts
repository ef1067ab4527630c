/**
 * The stand-in for `adb` (test/targets/bin/adb runs main()): the subset of adb
 * that src/remote/transports/adb.ts uses, against test guests serving
 * guest-adbd.sh instead of Android devices.
 *
 *   adb [-s SERIAL] devices | push LOCAL REMOTE | shell CMD... | exec-out CMD...
 *
 * ADB_STANDIN_DEVICES=SERIAL=127.0.0.1:PORT[,...] names the devices (the
 * guest's forwarded adbd port); ADB_STANDIN_LOG=FILE appends each
 * invocation's arguments as a JSON line, for tests to see what was run.
 * Messages and exit statuses follow adb's where it has them.
 */
import {appendFileSync, readFileSync} from 'node:fs'
import {connect, type Socket} from 'node:net'

const TRAILER = /\n__ADB_EXIT__ (\d+)\n$/

function die(message: string): never {
  process.stderr.write(`adb: ${message}\n`)
  process.exit(1)
}

/** SERIAL=HOST:PORT pairs of ADB_STANDIN_DEVICES. */
export function parseDevices(text: string): Map<string, {host: string; port: number}> {
  const devices = new Map<string, {host: string; port: number}>()
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=\s]+)=([^:\s]+):(\d+)$/.exec(item)
    if (!m) die(`ADB_STANDIN_DEVICES: '${item}' is not SERIAL=HOST:PORT`)
    devices.set(m[1], {host: m[2], port: Number(m[3])})
  }
  return devices
}

/** Opens a request to the device's adbd and resolves once it said OKAY, with what followed. */
function request(serial: string, address: {host: string; port: number}, line: string): Promise<{socket: Socket; rest: Buffer}> {
  return new Promise((resolve) => {
    const socket = connect(address.port, address.host)
    let got = Buffer.alloc(0)
    const offline = () => die(`device '${serial}' offline`)
    socket.once('error', offline)
    socket.once('close', offline)
    socket.on('data', function onData(chunk: Buffer) {
      got = Buffer.concat([got, chunk])
      const nl = got.indexOf(10)
      if (nl < 0) return
      const status = got.subarray(0, nl).toString()
      if (status !== 'OKAY') die(`device '${serial}': ${status}`)
      socket.off('data', onData)
      socket.off('error', offline)
      socket.off('close', offline)
      socket.pause()
      resolve({socket, rest: got.subarray(nl + 1)})
    })
    socket.write(line + '\n')
  })
}

/** Collects a shell/push reply up to the device's end of stream; resolves with output and status. */
function collect(socket: Socket, first: Buffer): Promise<{output: Buffer; status: number | undefined}> {
  return new Promise((resolve) => {
    const chunks = [first]
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', () => {})
    socket.once('close', () => {
      const all = Buffer.concat(chunks)
      const m = TRAILER.exec(all.toString('latin1'))
      resolve(m ? {output: all.subarray(0, m.index), status: Number(m[1])} : {output: all, status: undefined})
    })
    socket.resume()
  })
}

/** Runs one adb command line; the exit status. (No work at import: the test runner loads every module under test/.) */
export async function main(argv: string[]): Promise<number> {
  if (process.env.ADB_STANDIN_LOG) appendFileSync(process.env.ADB_STANDIN_LOG, JSON.stringify(argv) + '\n')
  let serial = process.env.ANDROID_SERIAL || undefined
  const args = [...argv]
  while (args[0] === '-s') {
    if (args.length < 2) die('-s requires an argument')
    serial = args[1]
    args.splice(0, 2)
  }
  const [command, ...rest] = args
  const devices = parseDevices(process.env.ADB_STANDIN_DEVICES ?? '')
  if (command === 'devices') {
    process.stdout.write('List of devices attached\n' + [...devices.keys()].map((s) => `${s}\tdevice\n`).join('') + '\n')
    return 0
  }
  if (!command) die('usage: adb [-s SERIAL] devices | push LOCAL REMOTE | shell CMD... | exec-out CMD...')

  if (serial === undefined) {
    if (devices.size === 0) die('no devices/emulators found')
    if (devices.size > 1) die('more than one device/emulator')
    serial = [...devices.keys()][0]
  }
  const address = devices.get(serial) ?? die(`device '${serial}' not found`)
  const line = rest.join(' ')
  if (line.includes('\n')) die('this stand-in takes commands of one line')

  switch (command) {
    case 'shell': {
      const {socket, rest: first} = await request(serial, address, `shell ${line}`)
      socket.end()
      const {output, status} = await collect(socket, first)
      process.stdout.write(output)
      if (status === undefined) die(`connection to device '${serial}' lost`)
      return status
    }
    case 'exec-out': {
      const {socket, rest: first} = await request(serial, address, `exec ${line}`)
      process.stdout.write(first)
      process.stdin.pipe(socket)
      socket.pipe(process.stdout)
      socket.on('error', () => {})
      await new Promise((resolve) => socket.once('close', resolve))
      return 0
    }
    case 'push': {
      if (rest.length !== 2) die('push: this stand-in takes one LOCAL and one REMOTE file')
      const [local, remote] = rest
      let data: Buffer
      try {
        data = readFileSync(local)
      } catch (error) {
        die(`cannot stat '${local}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
      }
      const started = Date.now()
      const {socket, rest: first} = await request(serial, address, `push ${remote}`)
      socket.end(data)
      const {output, status} = await collect(socket, first)
      if (status !== 0) die(`failed to copy '${local}' to '${remote}': ${output.toString().trim() || 'connection lost'}`)
      const secs = (Date.now() - started) / 1000
      process.stdout.write(`${local}: 1 file pushed, 0 skipped. (${data.length} bytes in ${secs.toFixed(3)}s)\n`)
      return 0
    }
    default:
      die(`unknown command ${command} (this stand-in knows devices, push, shell and exec-out)`)
  }
}
