// Finding clang and gcc without running them, and remembering what running
// them once said (clang --version, gcc -dumpmachine) keyed by the binary's
// path, size and mtime, so a cache hit starts no process at all.

import {execFile} from 'node:child_process';
import {accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync} from 'node:fs';
import {delimiter, join} from 'node:path';

/** Absolute path of an executable: `name` itself if it has a slash, else the first match on PATH. */
export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = name.includes('/') ? [name] : (env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      const st = statSync(c);
      if (!st.isFile()) continue;
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Default clang names, newest Debian versions after the plain name. */
export const CLANG_NAMES = ['clang', 'clang-19', 'clang-18', 'clang-17', 'clang-16', 'clang-15', 'clang-14'];

export function findClang(requested: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const wanted = requested ?? env.BPFTOOLS_CLANG;
  if (wanted) return findExecutable(wanted, env);
  for (const n of CLANG_NAMES) {
    const p = findExecutable(n, env);
    if (p) return p;
  }
  return undefined;
}

interface ToolEntry { mtimeMs: number; size: number; output: string }
type ToolCache = Record<string, ToolEntry>;

const memo = new Map<string, ToolEntry>();

function toolCachePath(cacheDir: string): string {
  return join(cacheDir, 'toolchain.json');
}

function readToolCache(cacheDir: string): ToolCache {
  try {
    const parsed: unknown = JSON.parse(readFileSync(toolCachePath(cacheDir), 'utf8'));
    return parsed && typeof parsed === 'object' ? (parsed as ToolCache) : {};
  } catch {
    return {};
  }
}

function writeToolCache(cacheDir: string, cache: ToolCache): void {
  try {
    mkdirSync(cacheDir, {recursive: true});
    const tmp = `${toolCachePath(cacheDir)}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(cache, null, 1));
    renameSync(tmp, toolCachePath(cacheDir));
  } catch {
    // A read-only cache only costs a process next time.
  }
}

export function runTool(path: string, args: string[], input?: string): Promise<{stdout: string; stderr: string; code: number}> {
  return new Promise((resolve, reject) => {
    const child = execFile(path, args, {maxBuffer: 64 * 1024 * 1024, encoding: 'utf8'}, (err, stdout, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
        reject(err);
        return;
      }
      resolve({stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : 1) : 0});
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/**
 * What `path args...` prints, remembered in the cache directory for as long
 * as the binary's size and mtime stay the same.
 */
export async function cachedToolOutput(path: string, args: string[], cacheDir: string): Promise<string> {
  const st = statSync(path);
  const key = `${path}\0${args.join('\0')}`;
  const fresh = (e: ToolEntry | undefined): e is ToolEntry => !!e && e.mtimeMs === st.mtimeMs && e.size === st.size;
  const m = memo.get(key);
  if (fresh(m)) return m.output;
  const cache = readToolCache(cacheDir);
  const c = cache[key];
  if (fresh(c)) {
    memo.set(key, c);
    return c.output;
  }
  const r = await runTool(path, args);
  if (r.code !== 0) throw new Error(`${path} ${args.join(' ')} exited with ${r.code}: ${r.stderr.trim()}`);
  const entry = {mtimeMs: st.mtimeMs, size: st.size, output: r.stdout.trim()};
  memo.set(key, entry);
  writeToolCache(cacheDir, {...readToolCache(cacheDir), [key]: entry});
  return entry.output;
}

/** `clang --version`'s first line, e.g. `Debian clang version 14.0.6`. */
export async function clangVersion(clang: string, cacheDir: string): Promise<string> {
  const out = await cachedToolOutput(clang, ['--version'], cacheDir);
  return out.split('\n')[0]!.trim();
}

const GUESS_BY_NODE_ARCH: Readonly<Record<string, string>> = {
  x64: 'x86_64-linux-gnu',
  arm64: 'aarch64-linux-gnu',
  arm: 'arm-linux-gnueabihf',
  riscv64: 'riscv64-linux-gnu',
  s390x: 's390x-linux-gnu',
  ppc64: 'powerpc64le-linux-gnu',
};

/**
 * The multiarch include directory holding `asm/types.h`
 * (`/usr/include/$(gcc -dumpmachine)`), falling back to the host's usual
 * triple and then to x86_64-linux-gnu.
 */
export async function multiarchIncludeDir(env: NodeJS.ProcessEnv, cacheDir: string): Promise<string> {
  const gcc = findExecutable('gcc', env);
  if (gcc) {
    try {
      const triple = await cachedToolOutput(gcc, ['-dumpmachine'], cacheDir);
      if (triple && existsSync(join('/usr/include', triple))) return join('/usr/include', triple);
    } catch {
      // fall through to a guess
    }
  }
  const guess = GUESS_BY_NODE_ARCH[process.arch];
  if (guess && existsSync(join('/usr/include', guess))) return join('/usr/include', guess);
  return '/usr/include/x86_64-linux-gnu';
}
