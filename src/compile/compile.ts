// compileBpf: BPF C → object bytes through clang -target bpf, cached by
// content hash so a repeated build costs a few file reads and no process.

import {createHash} from 'node:crypto';
import {mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs';
import {homedir} from 'node:os';
import {basename, dirname, join, resolve} from 'node:path';

import {isBpfArch, type BpfArch} from './arch.js';
import {CompileError, type Diagnostic} from './errors.js';
import {scanIncludes} from './includes.js';
import {archIncludeDir, clangVersion, findClang, runTool} from './toolchain.js';

/** Inline source code instead of a file. */
export interface InlineSource {
  code: string | Buffer;
  /** Name used in diagnostics (default `<inline>.bpf.c`). */
  name?: string;
  /** Directory `#include "..."` is resolved against (default: the working directory). */
  dir?: string;
}

export interface CompileOptions {
  /** Path of a .bpf.c file, or inline code. */
  source: string | InlineSource;
  arch: BpfArch;
  includeDirs?: readonly string[];
  /** `-DNAME=value`; `true` gives `-DNAME`. */
  defines?: Readonly<Record<string, string | number | boolean>>;
  /** More clang flags (`-mcpu=v3`, `-Wall`...), part of the cache key. */
  extraFlags?: readonly string[];
  /** clang to use: a name looked up on PATH or a path (default $BPFTOOLS_CLANG, else clang, clang-19...clang-14). */
  clang?: string;
  /** Cache directory (default $BPFTOOLS_CACHE_DIR, $XDG_CACHE_HOME/bpftools, ~/.cache/bpftools). */
  cacheDir?: string;
  /** Environment for PATH and the cache variables (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface CompileResult {
  object: Buffer;
  /** True when the object came from the cache and no process was started. */
  cacheHit: boolean;
  /** Where the cached object lives. */
  path: string;
  /** Cache key (sha256 hex). */
  key: string;
  /** clang's warnings, trimmed ('' on a cache hit or when there were none). */
  warnings: string;
}

const CACHE_FORMAT = 'bpftools-compile-1';
const MAX_STDERR_LINES = 40;
const MAX_STDERR_CHARS = 6000;

/** The cache directory compileBpf uses for this environment. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BPFTOOLS_CACHE_DIR) return resolve(env.BPFTOOLS_CACHE_DIR);
  if (env.XDG_CACHE_HOME) return join(resolve(env.XDG_CACHE_HOME), 'bpftools');
  return join(env.HOME || homedir(), '.cache', 'bpftools');
}

const sha256 = (...parts: (string | Buffer)[]): string => {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(typeof p === 'string' ? Buffer.from(p, 'utf8') : p);
    h.update('\0');
  }
  return h.digest('hex');
};

function trimStderr(stderr: string): string {
  let lines = stderr.replace(/\s+$/, '').split('\n');
  let cut = false;
  if (lines.length > MAX_STDERR_LINES) {
    lines = lines.slice(0, MAX_STDERR_LINES);
    cut = true;
  }
  let text = lines.join('\n');
  if (text.length > MAX_STDERR_CHARS) {
    text = text.slice(0, MAX_STDERR_CHARS);
    cut = true;
  }
  return cut ? `${text}\n[... more diagnostics cut]` : text;
}

/** Parses `file:line:col: severity: message` lines of clang's stderr. */
export function parseDiagnostics(stderr: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^(.+?):(\d+):(\d+): (fatal error|error|warning|note): (.*)$/.exec(line);
    if (m) out.push({file: m[1]!, line: Number(m[2]), col: Number(m[3]), severity: m[4] as Diagnostic['severity'], message: m[5]!});
  }
  return out;
}

/** Debian package that ships a system header bpftools' programs use. */
export function packageForHeader(header: string): string | undefined {
  if (header.startsWith('bpf/')) return 'libbpf-dev';
  if (header.startsWith('asm/') || header.startsWith('linux/') || header.startsWith('asm-generic/')) return 'linux-libc-dev';
  if (header.startsWith('bits/') || header.startsWith('gnu/') || header.startsWith('sys/')) return 'libc6-dev';
  return undefined;
}

interface IndexEntry { objectKey: string; clangVersion: string }

function readIndex(path: string): IndexEntry | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as IndexEntry;
    return typeof v.objectKey === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

function atomicWrite(path: string, data: Buffer | string): void {
  mkdirSync(dirname(path), {recursive: true});
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Compiles under way, by the object's path: a second caller waits for the first one's clang. */
const inFlight = new Map<string, Promise<CompileResult>>();

/** Compiles BPF C for `arch`, from the cache when nothing that matters changed. */
export async function compileBpf(options: CompileOptions): Promise<CompileResult> {
  const env = options.env ?? process.env;
  if (!isBpfArch(options.arch)) {
    throw new CompileError('unsupported-arch', `unknown BPF target architecture '${String(options.arch)}'`);
  }
  const cacheDir = options.cacheDir ? resolve(options.cacheDir) : defaultCacheDir(env);

  // The source.
  let code: Buffer;
  let name: string;
  let sourceDir: string;
  let sourcePath: string | undefined;
  if (typeof options.source === 'string') {
    sourcePath = resolve(options.source);
    name = options.source;
    sourceDir = dirname(sourcePath);
    try {
      code = readFileSync(sourcePath);
    } catch (e) {
      throw new CompileError('source-missing', `cannot read BPF source ${options.source}: ${(e as Error).message}`, {source: options.source, cause: e});
    }
  } else {
    code = Buffer.isBuffer(options.source.code) ? options.source.code : Buffer.from(options.source.code, 'utf8');
    name = options.source.name ?? '<inline>.bpf.c';
    sourceDir = resolve(options.source.dir ?? '.');
  }

  // The flags (everything but input and output).
  const multiarch = archIncludeDir(options.arch);
  const includeDirs = (options.includeDirs ?? []).map((d) => resolve(d));
  const flags = [
    '-target', 'bpf', '-O2', '-g', `-D__TARGET_ARCH_${options.arch}`,
    `-I${multiarch}`,
    ...includeDirs.map((d) => `-I${d}`),
    ...Object.entries(options.defines ?? {}).flatMap(([k, v]) => (v === false ? [] : v === true ? [`-D${k}`] : [`-D${k}=${v}`])),
    ...(options.extraFlags ?? []),
  ];
  if (!sourcePath) flags.push(`-iquote${sourceDir}`);

  // The key: source, local headers, flags, then clang's version.
  const scan = scanIncludes(code, sourceDir, includeDirs, [multiarch, '/usr/local/include', '/usr/include']);
  const sourceKey = sha256(CACHE_FORMAT, code, ...scan.entries, ...flags);
  const indexPath = join(cacheDir, 'index', `${sourceKey}.json`);

  const clang = findClang(options.clang, env);
  if (!clang) {
    // Without clang a previous build of the very same source and flags is still good.
    const known = readIndex(indexPath);
    if (known) {
      const path = join(cacheDir, 'objects', `${known.objectKey}.o`);
      try {
        return {object: readFileSync(path), cacheHit: true, path, key: known.objectKey, warnings: ''};
      } catch {
        // fall through to the error
      }
    }
    const wanted = options.clang ?? env.BPFTOOLS_CLANG;
    throw new CompileError('clang-missing', wanted
      ? `clang '${wanted}' was not found: install the Debian package 'clang' (apt-get install clang) or fix BPFTOOLS_CLANG`
      : `clang is not installed (no clang on PATH): install the Debian package 'clang' (apt-get install clang)`,
    {source: name, package: 'clang'});
  }
  let version: string;
  try {
    version = await clangVersion(clang, cacheDir);
  } catch (e) {
    throw new CompileError('failed', `cannot run ${clang} --version: ${(e as Error).message}`, {source: name, package: 'clang', cause: e});
  }
  const key = sha256(sourceKey, version);
  const objectPath = join(cacheDir, 'objects', `${key}.o`);
  try {
    const object = readFileSync(objectPath);
    return {object, cacheHit: true, path: objectPath, key, warnings: ''};
  } catch {
    // a miss
  }

  // Compile, once for every caller that wants the same object meanwhile (several targets of one architecture).
  const running = inFlight.get(objectPath);
  if (running) return {...(await running), cacheHit: true, warnings: ''};
  const compiling = (async (): Promise<CompileResult> => {
    mkdirSync(join(cacheDir, 'objects'), {recursive: true});
    const tmp = `${objectPath}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const args = [...flags, ...(sourcePath ? ['-c', sourcePath] : ['-x', 'c', '-c', '-']), '-o', tmp];
    let result: {stdout: string; stderr: string; code: number};
    try {
      result = await runTool(clang, args, sourcePath ? undefined : code.toString('utf8'));
    } catch (e) {
      rmSync(tmp, {force: true});
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') {
        throw new CompileError('clang-missing', `clang could not be started (${clang}): install the Debian package 'clang'`, {source: name, package: 'clang', cause: e});
      }
      throw new CompileError('failed', `running ${clang} failed: ${err.message}`, {source: name, cause: e});
    }
    const stderr = sourcePath ? result.stderr : result.stderr.replaceAll('<stdin>', name);
    const command = [clang, ...args.slice(0, -1), objectPath];
    if (result.code !== 0) {
      rmSync(tmp, {force: true});
      const trimmed = trimStderr(stderr);
      const diagnostics = parseDiagnostics(stderr);
      const missing = /fatal error: '([^']+)' file not found/.exec(stderr)?.[1];
      const pkg = missing ? packageForHeader(missing) : undefined;
      if (missing && pkg) {
        throw new CompileError('headers-missing',
          `cannot compile ${basename(name)}: header <${missing}> is not installed: install the Debian package '${pkg}' (apt-get install ${pkg})\n${trimmed}`,
          {source: name, stderr: trimmed, diagnostics, exitCode: result.code, package: pkg, missingHeader: missing, command});
      }
      const first = diagnostics.find((d) => d.severity === 'error' || d.severity === 'fatal error');
      throw new CompileError('diagnostics',
        `clang could not compile ${name}${first ? ` (${first.file}:${first.line}: ${first.message})` : ''}:\n${trimmed}`,
        {source: name, stderr: trimmed, diagnostics, exitCode: result.code, command, ...(missing ? {missingHeader: missing} : {})});
    }
    let object: Buffer;
    try {
      object = readFileSync(tmp);
      renameSync(tmp, objectPath);
      atomicWrite(indexPath, JSON.stringify({objectKey: key, clangVersion: version} satisfies IndexEntry));
    } catch (e) {
      rmSync(tmp, {force: true});
      throw new CompileError('failed', `cannot store the compiled object in ${cacheDir}: ${(e as Error).message}`, {source: name, cause: e});
    }
    return {object, cacheHit: false, path: objectPath, key, warnings: trimStderr(stderr)};
  })();
  inFlight.set(objectPath, compiling);
  try {
    return await compiling;
  } finally {
    inFlight.delete(objectPath);
  }
}
