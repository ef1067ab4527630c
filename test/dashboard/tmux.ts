/**
 * A dashboard driven the way a user drives it: in a tmux pane of a fixed
 * size, read with capture-pane and typed into with send-keys. The command
 * runs under a shell that prints EXITED:<code> after it, so the exit code
 * and the screen left behind can both be read from the pane.
 */
import {execFileSync} from 'node:child_process'
import {readFileSync, rmSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

/** The repository root (this module runs from dist/test/dashboard). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
export const BPFTOOLS = resolve(REPO, 'bin', 'bpftools')

/** Why the dashboard tests cannot run here, or undefined when they can. */
export function dashboardTestsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'tracing needs root'
  try {
    execFileSync('tmux', ['-V'], {stdio: 'ignore'})
  } catch {
    return 'no tmux'
  }
  return undefined
}

/** A tmux server of this test process's own, apart from any the user has. */
const SOCKET = `bpftools-test-${process.pid}`

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, ...args], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export class TmuxPane {
  private constructor(readonly name: string) {}

  /** Starts `command` (shell words, already quoted) in a detached 160x50 session. */
  static start(label: string, command: string): TmuxPane {
    const name = `bpftools-${label}-${process.pid}`
    try {
      tmux('kill-session', '-t', name)
    } catch {}
    // A UTF-8 locale, as on a user's terminal, whatever the test runs under: the panes are drawn with line and block characters.
    const script = `cd ${REPO} && LANG=C.UTF-8 NCURSES_NO_UTF8_ACS=1 ${command}; echo EXITED:$?; sleep 60`
    tmux('new-session', '-d', '-x', '160', '-y', '50', '-s', name, script)
    return new TmuxPane(name)
  }

  /** The pane's text; with `colors`, with its SGR escape sequences. */
  capture(colors = false): string {
    try {
      return tmux('capture-pane', '-p', ...(colors ? ['-e'] : []), '-t', this.name)
    } catch {
      return ''
    }
  }

  keys(...keys: string[]): void {
    tmux('send-keys', '-t', this.name, ...keys)
  }

  resize(width: number, height: number): void {
    tmux('resize-window', '-t', this.name, '-x', String(width), '-y', String(height))
  }

  /** Typed as text, not as key names. */
  type(text: string): void {
    tmux('send-keys', '-t', this.name, '-l', text)
  }

  /** Polls the pane until `done` holds; fails with the pane's content. */
  async waitFor(done: (screen: string) => boolean, what: string, timeoutMs = 20000): Promise<string> {
    const until = performance.now() + timeoutMs
    let screen = ''
    for (;;) {
      screen = this.capture()
      if (done(screen)) return screen
      const exited = /EXITED:\d+/.exec(screen)
      if (exited || performance.now() > until) {
        throw new Error(`${this.name}: ${exited ? `the command ended (${exited[0]}) before ${what}` : `no ${what} after ${timeoutMs} ms`}; the pane:\n${screen}`)
      }
      await sleep(150)
    }
  }

  /** Waits for the command to end; its exit code and the pane then. */
  async exit(timeoutMs = 15000): Promise<{code: number; screen: string}> {
    const until = performance.now() + timeoutMs
    for (;;) {
      const screen = this.capture()
      const m = /EXITED:(\d+)/.exec(screen)
      if (m) return {code: Number(m[1]), screen}
      if (performance.now() > until) throw new Error(`${this.name}: still running ${timeoutMs} ms after being told to quit; the pane:\n${screen}`)
      await sleep(150)
    }
  }

  /** Pids of the processes under the pane's shell, children before their parents' siblings. */
  processes(): number[] {
    const root = Number(tmux('display-message', '-p', '-t', this.name, '#{pane_pid}').trim())
    const out: number[] = []
    const walk = (pid: number) => {
      let children: string[] = []
      try {
        children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
      } catch {}
      for (const c of children) {
        out.push(Number(c))
        walk(Number(c))
      }
    }
    walk(root)
    return out
  }

  kill(): void {
    try {
      tmux('kill-session', '-t', this.name)
    } catch {}
  }

  /** Ends this test process's tmux server, whatever panes are left, and removes its socket. */
  static shutdown(): void {
    try {
      tmux('kill-server')
    } catch {}
    rmSync(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`, SOCKET), {force: true})
  }
}

/** Whether a pane shows dashboard drawing: box borders or the key line. */
export function showsDashboard(screen: string): boolean {
  return /[┌┐└┘│─]|lqqq|q quit {2}p (pause|resume)/.test(screen)
}

/** The lines of a pane that are drawn, blank lines at the end dropped. */
export function drawnLines(screen: string): string[] {
  return screen.replace(/\s+$/, '').split('\n')
}
