// Finding clang without running it, and remembering what running it once
// said (clang --version) keyed by the binary's
// path, size and mtime, so a cache hit starts no process at all.

import {execFile} from 'node:child_process';
import {accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync} from 'node:fs';
import {delimiter, join} from 'node:path';
import type {BpfArch} from './arch.js';
import {CompileError} from './errors.js';

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

/** Debian's multiarch triple and architecture name for each BPF target architecture. */
const TRIPLES: Readonly<Record<BpfArch, {triple: string; debian: string}>> = {
  x86: {triple: 'x86_64-linux-gnu', debian: 'amd64'},
  arm64: {triple: 'aarch64-linux-gnu', debian: 'arm64'},
  arm: {triple: 'arm-linux-gnueabihf', debian: 'armhf'},
  riscv: {triple: 'riscv64-linux-gnu', debian: 'riscv64'},
  s390: {triple: 's390x-linux-gnu', debian: 's390x'},
  powerpc: {triple: 'powerpc64le-linux-gnu', debian: 'ppc64el'},
};

/**
 * The directory holding the target architecture's `asm/*.h` (bpf_tracing.h
 * reads `struct user_pt_regs` from arm64's): the native multiarch directory
 * when the target is this machine's kind, else Debian's cross headers.
 */
export function archIncludeDir(arch: BpfArch): string {
  const {triple, debian} = TRIPLES[arch];
  for (const dir of [join('/usr/include', triple), join('/usr', triple, 'include')]) {
    if (existsSync(join(dir, 'asm'))) return dir;
  }
  throw new CompileError('headers-missing',
    `no kernel headers for ${arch} targets: install the Debian package 'linux-libc-dev-${debian}-cross' (or linux-libc-dev on a ${debian} machine)`,
    {package: `linux-libc-dev-${debian}-cross`});
}
