// The terminal a dashboard draws on: refused when stdout is not one, taken
// over through blessed (loaded only here, so the text tools never load it),
// and given back however the process ends: normally, on an exception, or on
// a signal.
import type {Widgets} from 'blessed'

/** Exit code of a dashboard asked for where it cannot be drawn: a usage error. */
export const DASHBOARD_USAGE_EXIT = 2

/** Why a dashboard cannot be drawn on this process's stdout, or undefined when it can. */
export function dashboardRefusal(out: {isTTY?: boolean} = process.stdout): string | undefined {
  if (!out.isTTY) return '--dashboard needs a terminal, and stdout is not one; leave out --dashboard to print text (or --json) into a pipe or file'
  return undefined
}

export type Terminal = {
  screen: Widgets.Screen
  /** Whether the terminal takes UTF-8 (block characters) or only ASCII. */
  unicode: boolean
  /** A blessed box (blessed itself is loaded only by openTerminal). */
  box(o: Widgets.BoxOptions): Widgets.BoxElement
  /** Gives the terminal back as it was; safe to call more than once. */
  restore(): void
}

export async function openTerminal(title: string): Promise<Terminal> {
  // tmux's terminfo draws line-drawing characters as letters (lqqk) unless told to use UTF-8 for them.
  if (process.env.TMUX || /^(tmux|screen)/.test(process.env.TERM ?? '')) process.env.NCURSES_NO_UTF8_ACS ??= '1'
  const {default: blessed} = await import('blessed')
  const screen = blessed.screen({smartCSR: true, title, warnings: false, dockBorders: true, autoPadding: true})
  let restored = false
  const restore = () => {
    if (restored) return
    restored = true
    process.off('uncaughtException', crashed)
    process.off('unhandledRejection', crashed)
    process.off('exit', restore)
    screen.destroy()
  }
  // A crash must not leave the terminal in raw mode on the alternate screen.
  const crashed = (e: unknown) => {
    restore()
    process.stderr.write(`bpftools: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exit(1)
  }
  process.on('uncaughtException', crashed)
  process.on('unhandledRejection', crashed)
  process.on('exit', restore)
  return {screen, unicode: (screen.program as unknown as {tput: {unicode?: boolean}}).tput.unicode === true, box: (o) => blessed.box(o), restore}
}

/** Text for a blessed box with tags on: braces shown as themselves. */
export function escapeTags(text: string): string {
  return text.replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'))
}
