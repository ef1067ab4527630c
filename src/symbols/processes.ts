// What the tools need to know about the target's processes and users, read
// from the target's /proc and /etc/passwd through bpfd (never the host's own),
// cached per pid for the life of a session.

/** The part of the client this module reads through. */
export interface TargetFiles {
  readWholeFile(path: string): Promise<Buffer>
  readlink(path: string): Promise<string>
}

export type ProcessStatus = {name: string; ppid: number; uid: number}

const AT_FDCWD = -100

export class Processes {
  private readonly statuses = new Map<number, Promise<ProcessStatus | undefined>>()
  private readonly cwds = new Map<number, Promise<string | undefined>>()
  private users?: Promise<Map<number, string>>

  constructor(private readonly files: TargetFiles) {}

  status(pid: number): Promise<ProcessStatus | undefined> {
    let s = this.statuses.get(pid)
    if (!s) {
      s = this.files.readWholeFile(`/proc/${pid}/status`).then((b) => parseStatus(b.toString('utf8')), () => undefined)
      this.statuses.set(pid, s)
    }
    return s
  }

  cwd(pid: number): Promise<string | undefined> {
    let c = this.cwds.get(pid)
    if (!c) {
      c = this.files.readlink(`/proc/${pid}/cwd`).catch(() => undefined)
      this.cwds.set(pid, c)
    }
    return c
  }

  /** The absolute path an open of `path` relative to `dfd` named, when it can still be known. */
  async absolutePath(pid: number, dfd: number, path: string): Promise<string> {
    if (path.startsWith('/')) return path
    const dir = dfd === AT_FDCWD ? await this.cwd(pid) : await this.files.readlink(`/proc/${pid}/fd/${dfd}`).catch(() => undefined)
    if (!dir) return path
    return joinPath(dir, path)
  }

  /** uid → user name from the target's /etc/passwd; the number when unknown. */
  async userName(uid: number): Promise<string> {
    this.users ??= this.files.readWholeFile('/etc/passwd').then((b) => parsePasswd(b.toString('utf8')), () => new Map())
    return (await this.users).get(uid) ?? String(uid)
  }

  /** Forget a pid whose number may be reused. */
  forget(pid: number): void {
    this.statuses.delete(pid)
    this.cwds.delete(pid)
  }
}

export function parseStatus(text: string): ProcessStatus | undefined {
  const field = (name: string) => /^(\S+):\s*(.*)$/m.exec(text.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')?.[2]
  const name = field('Name')
  const ppid = field('PPid')
  const uid = field('Uid')
  if (name === undefined || ppid === undefined || uid === undefined) return undefined
  return {name, ppid: Number(ppid), uid: Number(uid.split(/\s+/)[0])}
}

export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>()
  for (const line of text.split('\n')) {
    const [name, , uid] = line.split(':')
    if (name && uid !== undefined && /^\d+$/.test(uid) && !users.has(Number(uid))) users.set(Number(uid), name)
  }
  return users
}

function joinPath(dir: string, rel: string): string {
  const parts = dir.split('/').filter(Boolean)
  for (const p of rel.split('/')) {
    if (p === '' || p === '.') continue
    if (p === '..') parts.pop()
    else parts.push(p)
  }
  return '/' + parts.join('/')
}
