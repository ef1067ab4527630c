/**
 * The C workload programs the tool tests and benchmarks run, compiled with
 * gcc from test/tools/helpers into a scratch directory.
 */
import {execFile} from 'node:child_process'
import {chmodSync, copyFileSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

/** The repository root (this module runs from dist/test/tools/helpers). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..')

/** Where the C sources and scripts live (tsc does not copy them to dist/). */
export const HELPERS_SRC = join(REPO, 'test', 'tools', 'helpers')

export const BPFTOOLS = join(REPO, 'bin', 'bpftools')

const run = promisify(execFile)

/** A scratch directory every user can enter, so a workload may run as nobody. */
export class Scratch {
  readonly dir: string

  constructor(prefix = 'bpftools-snoop-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix))
    chmodSync(this.dir, 0o755)
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts)
  }

  /**
   * Compiles test/tools/helpers/<source>.c into this directory as `name`
   * (the name becomes the process's comm).
   */
  async compile(source: string, name = source, extra: string[] = []): Promise<string> {
    const out = this.path(name)
    try {
      await run('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-pthread', '-o', out, join(HELPERS_SRC, `${source}.c`), ...extra])
    } catch (e) {
      const err = e as Error & {stderr?: string}
      throw new Error(`gcc ${source}.c failed: ${err.stderr ?? err.message}`)
    }
    return out
  }

  /** A copy of a program under another name (another comm). */
  copy(program: string, name: string): string {
    const out = this.path(name)
    copyFileSync(program, out)
    chmodSync(out, 0o755)
    return out
  }

  remove(): void {
    rmSync(this.dir, {recursive: true, force: true})
  }
}

/** Why the tool tests cannot run here, or undefined when they can. */
export function toolsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'tracing needs root'
  return undefined
}

/** The uid/gid tests use for an unprivileged workload. */
export const NOBODY = 65534
