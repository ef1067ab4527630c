/**
 * Workloads for the dashboard tests: processes under names of their own
 * (their comm), so their rows can be told from everything else the machine
 * does while the dashboard runs.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), 'bpftools-dash-'))

  constructor() {
    chmodSync(this.dir, 0o755)
  }

  /** A copy of `program` named `name`: running it gives a process whose comm is `name`. */
  copy(program: string, name: string): string {
    const out = join(this.dir, name)
    copyFileSync(program, out)
    chmodSync(out, 0o755)
    return out
  }

  remove(): void {
    rmSync(this.dir, {recursive: true, force: true})
  }
}

/** A short name unique to this test run, usable as a comm (15 characters at most). */
export function uniqueName(prefix: string): string {
  return `${prefix}${process.pid % 100000}`.slice(0, 15)
}

/** Runs until stopped. */
export class Background {
  private readonly child: ChildProcess

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, {stdio: 'ignore'})
  }

  get pid(): number {
    return this.child.pid!
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
  }
}

/** The disk (a whole device in /sys/block) that holds `dir`, or undefined for tmpfs, overlay, a partition... */
export function diskOf(dir: string): string | undefined {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' '))
  const m = mounts.filter((f) => f[4] && (dir + '/').startsWith(f[4] === '/' ? '/' : f[4] + '/')).sort((a, b) => b[4]!.length - a[4]!.length)[0]
  const source = m?.[m.indexOf('-') + 2]
  if (!source?.startsWith('/dev/')) return undefined
  const name = source.slice(5)
  try {
    readFileSync(`/sys/block/${name}/dev`)
    return name
  } catch {
    return undefined
  }
}
