// The frame every dashboard shares: a title bar, a body the tool's panes go
// in, a status line with the keys, the filter and messages; the key
// handling; pausing; redrawing at a bounded rate; and running the tool's
// model until q, Ctrl-C or a signal, with the terminal given back after.
import type {Widgets} from 'blessed'
import type {Logger} from '../remote/transport.js'
import {glyphsFor, type Glyphs} from './glyphs.js'
import {keyAction, type KeyEvent, type MoveKey} from './keys.js'
import {Pane, type Position} from './pane.js'
import {escapeTags, openTerminal, type Terminal} from './terminal.js'

/** What a tool's dashboard provides to the frame. */
export interface Board {
  /**
   * Draws the panes. `refresh` is false while paused: draw the data last
   * drawn (with the current selection and filter), not newer data.
   */
  draw(refresh: boolean): void
  /** An arrow, Enter or paging key; true when what is shown changed. */
  move?(key: MoveKey): boolean
  /** Keys beyond the shared ones, for the status line (`↑↓ select`). */
  help?: string
}

export type DashboardOptions = {
  /** The command line, shown in the title bar. */
  title: string
  /** Show the loader's debug messages too (--verbose). */
  verbose?: boolean
  /** Whether / filters this dashboard. */
  filter?: boolean
}

/** Redraws at most this often, however fast events come. */
const FRAME_MS = 200

export class Dashboard {
  readonly glyphs: Glyphs
  readonly body: Widgets.BoxElement
  private readonly titleBar: Widgets.BoxElement
  private readonly statusBar: Widgets.BoxElement
  private readonly abort = new AbortController()
  private board: Board | undefined
  private pausedFlag = false
  private state: 'starting' | 'live' | 'ended' = 'starting'
  private filterText = ''
  private editing = false
  private message = ''
  private readonly messages: string[] = []
  private lastDraw = 0
  private timer: NodeJS.Timeout | undefined
  private readonly ticker: NodeJS.Timeout
  private closed = false
  private readonly onSignal = () => {
    // A second signal while the model winds down: stop now.
    if (this.abort.signal.aborted) {
      this.close()
      process.exit(130)
    }
    this.abort.abort()
  }

  private constructor(private readonly term: Terminal, private readonly o: DashboardOptions) {
    this.glyphs = glyphsFor(term.unicode)
    this.titleBar = makeBox(term, {top: 0, left: 0, width: '100%', height: 1, tags: true, style: {inverse: true}})
    this.body = makeBox(term, {top: 1, left: 0, width: '100%', height: '100%-2'})
    this.statusBar = makeBox(term, {bottom: 0, left: 0, width: '100%', height: 1, tags: true})
    term.screen.on('keypress', (ch: string | undefined, key: KeyEvent) => this.key(ch, key))
    term.screen.on('resize', () => this.draw(false))
    process.on('SIGINT', this.onSignal)
    process.on('SIGTERM', this.onSignal)
    // Rates and elapsed times move on even when no event comes.
    this.ticker = setInterval(() => this.changed(), 1000)
  }

  static async open(o: DashboardOptions): Promise<Dashboard> {
    const term = await openTerminal(`bpftools ${o.title}`)
    const d = new Dashboard(term, o)
    d.draw(true)
    return d
  }

  /** Aborted on q, Ctrl-C, SIGINT or SIGTERM: the model stops, as Ctrl-C stops the text tools. */
  get signal(): AbortSignal {
    return this.abort.signal
  }

  get paused(): boolean {
    return this.pausedFlag
  }

  /** The filter typed after /, lower case; '' for none. */
  get filter(): string {
    return this.filterText.toLowerCase()
  }

  /** A bordered pane in the body. */
  pane(label: string, at: Position): Pane {
    const p = new Pane(
      makeBox(this.term, {parent: this.body, ...at, border: {type: 'line'}, tags: true, style: {border: {fg: 'cyan'}, label: {bold: true}}}),
    )
    p.setLabel(label)
    return p
  }

  show(board: Board): void {
    this.board = board
    this.draw(true)
  }

  /** The model's messages go to the status line, and to stderr once the terminal is back. */
  get logger(): Logger {
    return {
      info: (m) => this.note(m, true),
      debug: (m) => {
        if (this.o.verbose) this.note(m, true)
      },
      progress: (label) => {
        this.note(`${label}...`, false)
        return () => this.note('', false)
      },
    }
  }

  /** The model is attached and tracing. */
  ready(): void {
    this.state = 'live'
    this.changed()
  }

  /** The model has new data: redraw soon, unless paused. */
  changed(): void {
    if (this.closed || this.pausedFlag || this.timer) return
    const wait = Math.max(0, this.lastDraw + FRAME_MS - performance.now())
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.draw(true)
    }, wait)
  }

  /**
   * Runs the model until it ends or is stopped. A model that ends by itself
   * (its duration or count) leaves its last view up until q. The terminal is
   * given back however this ends.
   */
  async run<R>(model: (signal: AbortSignal) => Promise<R>): Promise<R> {
    try {
      const result = await model(this.abort.signal)
      if (!this.abort.signal.aborted) {
        this.state = 'ended'
        this.draw(true)
        await new Promise<void>((resolve) => this.abort.signal.addEventListener('abort', () => resolve(), {once: true}))
      }
      return result
    } finally {
      this.close()
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.timer)
    clearInterval(this.ticker)
    process.off('SIGINT', this.onSignal)
    process.off('SIGTERM', this.onSignal)
    this.term.restore()
    for (const m of this.messages) process.stderr.write(`bpftools: ${m}\n`)
  }

  private note(message: string, keep: boolean): void {
    this.message = message
    if (keep && message) this.messages.push(message)
    if (!this.closed) this.drawBars()
    if (!this.closed) this.term.screen.render()
  }

  private key(ch: string | undefined, key: KeyEvent): void {
    if (this.closed) return
    const a = keyAction(ch, key, {editing: this.editing, text: this.filterText})
    switch (a.do) {
      case 'quit':
        this.abort.abort()
        return
      case 'pause':
        this.pausedFlag = !this.pausedFlag
        this.draw(!this.pausedFlag)
        return
      case 'filter-start':
        if (!this.o.filter) return
        this.editing = true
        this.draw(false)
        return
      case 'filter-set':
        this.filterText = a.text
        this.editing = !a.done
        this.draw(false)
        return
      case 'move':
        if (this.board?.move?.(a.key)) this.draw(false)
        return
      case 'none':
        return
    }
  }

  /** Draws everything; `refresh` takes new data from the model (never while paused). */
  private draw(refresh: boolean): void {
    if (this.closed) return
    this.lastDraw = performance.now()
    this.board?.draw(refresh && !this.pausedFlag)
    this.drawBars()
    this.term.screen.render()
  }

  private drawBars(): void {
    const width = Number(this.term.screen.width)
    const state = this.pausedFlag ? 'PAUSED' : this.state === 'live' ? 'live' : this.state === 'ended' ? 'ended: q to quit' : 'starting'
    const title = ` bpftools ${this.o.title}`
    const right = `${state} `
    const pad = Math.max(1, width - title.length - right.length)
    this.titleBar.setContent(escapeTags((title.slice(0, Math.max(0, width - right.length - 1)) + ' '.repeat(pad) + right).slice(0, width)))
    if (this.editing) {
      this.statusBar.setContent(`{bold}/{/bold}${escapeTags(this.filterText)}_  {gray-fg}Enter keeps, Esc clears{/gray-fg}`)
      return
    }
    const keys = ['q quit', `p ${this.pausedFlag ? 'resume' : 'pause'}`, ...(this.o.filter ? ['/ filter'] : []), ...(this.board?.help ? [this.board.help] : [])].join('  ')
    const filter = this.filterText ? `  {yellow-fg}filter: ${escapeTags(this.filterText)}{/yellow-fg} (Esc clears)` : ''
    const msg = this.message ? `  {gray-fg}${escapeTags(this.message)}{/gray-fg}` : ''
    this.statusBar.setContent(` ${escapeTags(keys)}${filter}${msg}`)
  }
}

/** Events lost on the way, as the text tools report them when they end. */
export function lostMessage(lost: number): string {
  return `${lost} events lost (the target produced them faster than they were read; a larger buffer may help)`
}

type BoxOptions = Widgets.BoxOptions & {parent?: Widgets.Node}

function makeBox(term: Terminal, o: BoxOptions): Widgets.BoxElement {
  return term.box({parent: term.screen, ...o})
}
