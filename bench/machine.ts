/**
 * What a set of figures was measured on: the machine, its kernel, the tool
 * versions, and how busy other processes kept the machine meanwhile.
 */
import {existsSync, readFileSync} from 'node:fs'
import {cpus, loadavg, release, totalmem} from 'node:os'
import {join} from 'node:path'
import {REPO} from '../test/tools/helpers/programs.js'
import {commandOutput, machineBusyTicks, ownTicks, TICKS_PER_SEC} from './measure.js'

export type Machine = {
  date: string
  kernel: string
  os: string
  cpu: string
  cores: number
  memGiB: number
  versions: {name: string; version: string}[]
}

async function debVersion(pkg: string): Promise<string> {
  const v = await commandOutput(['dpkg-query', '-W', '-f', '${Status} ${Version}', pkg])
  const m = v ? /^install ok installed (\S+)$/.exec(v) : null
  return m ? m[1]! : 'not installed'
}

export async function describeMachine(): Promise<Machine> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown'
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : ''
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {version: string}
  const rev = await commandOutput(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD'])
  const bpftrace = await commandOutput(['bpftrace', '--version'])
  const clang = (await commandOutput(['clang', '--version']))?.split('\n')[0]
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    kernel: release(),
    os: /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(osRelease)?.[1] ?? 'unknown',
    cpu: model.trim(),
    cores: cpus().length,
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    versions: [
      {name: 'bpftools', version: `${pkg.version}${rev ? ` (${rev})` : ''}`},
      {name: 'node', version: process.version},
      {name: 'clang', version: clang ?? 'not found'},
      {name: 'libbpf-tools', version: await debVersion('libbpf-tools')},
      {name: 'bpftrace', version: bpftrace ?? 'not installed'},
      {name: 'bpfcc-tools', version: await debVersion('bpfcc-tools')},
    ],
  }
}

/** How much CPU processes other than the benchmark's used while it ran. */
export type Load = {
  loadBefore: number
  /** Others' share of the machine's CPU over the run, 0..1. */
  othersShare: number
}

export function watchLoad(): () => Load {
  const loadBefore = loadavg()[0]!
  const busy0 = machineBusyTicks()
  const own0 = ownTicks()
  const t0 = performance.now()
  return () => {
    const seconds = (performance.now() - t0) / 1000
    const others = machineBusyTicks() - busy0 - (ownTicks() - own0)
    const capacity = seconds * TICKS_PER_SEC * cpus().length
    return {loadBefore, othersShare: capacity > 0 ? Math.max(0, others / capacity) : 0}
  }
}

/** Above this share of the CPU used by others, the figures are flagged as from a loaded machine. */
export const LOADED_SHARE = 0.1
