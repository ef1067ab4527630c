import assert from 'node:assert/strict';
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, it} from 'node:test';

import {CompileError, archFromMachine, compileBpf, defaultCacheDir} from '../../src/compile/index.js';
import {findClang} from '../../src/compile/toolchain.js';
import {parseObject} from '../../src/object/index.js';
import {fixturePath, haveTool} from '../fixtures/fixtures.js';

const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), `bpftools-${prefix}-`));
const skipClang = findClang(undefined) ? false : 'clang is not installed';

/** A directory of clang and gcc wrappers that log every start to `log`. */
function loggingToolchain(): {dir: string; log: string; lines: () => string[]} {
  const dir = tmp('tools');
  const log = join(dir, 'log');
  writeFileSync(log, '');
  const clang = findClang(undefined)!;
  for (const [name, real] of [['clang', clang], ['gcc', '/usr/bin/gcc']] as const) {
    const p = join(dir, name);
    writeFileSync(p, `#!/bin/sh\necho "${name} $*" >> '${log}'\nexec '${real}' "$@"\n`);
    chmodSync(p, 0o755);
  }
  return {dir, log, lines: () => readFileSync(log, 'utf8').split('\n').filter(Boolean)};
}

describe('compileBpf', () => {
  it('maps uname -m to the BPF target arch', () => {
    assert.equal(archFromMachine('x86_64'), 'x86');
    assert.equal(archFromMachine('aarch64'), 'arm64');
    assert.equal(archFromMachine('armv7l'), 'arm');
    assert.equal(archFromMachine('riscv64'), 'riscv');
    assert.equal(archFromMachine('s390x'), 's390');
    assert.equal(archFromMachine('ppc64le'), 'powerpc');
    assert.throws(() => archFromMachine('mips'), (e: unknown) => e instanceof CompileError && e.kind === 'unsupported-arch' && /mips/.test(e.message));
  });

  it('finds the cache directory from the environment', () => {
    assert.equal(defaultCacheDir({BPFTOOLS_CACHE_DIR: '/x/y'}), '/x/y');
    assert.equal(defaultCacheDir({XDG_CACHE_HOME: '/c'}), '/c/bpftools');
    assert.equal(defaultCacheDir({HOME: '/home/u'}), '/home/u/.cache/bpftools');
  });

  it('compiles, then serves the same object from the cache without starting any process', {skip: skipClang}, async () => {
    const cacheDir = tmp('cache');
    const tools = loggingToolchain();
    const env = {PATH: `${tools.dir}:/usr/bin:/bin`, HOME: tmpdir()};
    const first = await compileBpf({source: fixturePath('maps.bpf.c'), arch: 'x86', cacheDir, env});
    assert.equal(first.cacheHit, false);
    assert.equal(first.object.readUInt16LE(18), 247, 'an EM_BPF object');
    assert.ok(existsSync(first.path));
    assert.ok(parseObject(first.object).maps.length > 5);
    const started = tools.lines();
    assert.ok(started.some((l) => l.startsWith('clang ') && l.includes('-target bpf')), started.join('\n'));
    assert.ok(started.some((l) => l === 'clang --version'));
    assert.ok(started.some((l) => l.includes('-D__TARGET_ARCH_x86')));

    const second = await compileBpf({source: fixturePath('maps.bpf.c'), arch: 'x86', cacheDir, env});
    assert.equal(second.cacheHit, true);
    assert.equal(second.key, first.key);
    assert.ok(second.object.equals(first.object));
    assert.deepEqual(tools.lines(), started, 'a cache hit starts no process');

    // No clang (nor anything else) on PATH: the cached object is still served.
    const bare = await compileBpf({source: fixturePath('maps.bpf.c'), arch: 'x86', cacheDir, env: {PATH: '', HOME: tmpdir()}});
    assert.equal(bare.cacheHit, true);
    assert.ok(bare.object.equals(first.object));

    const other = await compileBpf({source: fixturePath('maps.bpf.c'), arch: 'arm64', cacheDir, env});
    assert.equal(other.cacheHit, false, 'another arch is another object');
    assert.notEqual(other.key, first.key);
  });

  it('recompiles when an included local header changes', {skip: skipClang}, async () => {
    const cacheDir = tmp('cache');
    const src = tmp('src');
    mkdirSync(join(src, 'inc'));
    mkdirSync(join(src, 'shared'));
    writeFileSync(join(src, 'prog.bpf.c'), [
      '#include <linux/bpf.h>',
      '#include <bpf/bpf_helpers.h>',
      '#include "inc/a.h"',
      '#include <tool.h>',
      'SEC("tp/syscalls/sys_enter_openat") int p(void *ctx) { return VALUE_A + VALUE_B + TOOL; }',
      'char LICENSE[] SEC("license") = "GPL";',
    ].join('\n'));
    writeFileSync(join(src, 'inc', 'a.h'), '#include "b.h"\n#define VALUE_A 1\n');
    writeFileSync(join(src, 'inc', 'b.h'), '#define VALUE_B 2\n');
    writeFileSync(join(src, 'shared', 'tool.h'), '#define TOOL 3\n');
    const opts = {source: join(src, 'prog.bpf.c'), arch: 'x86' as const, cacheDir, includeDirs: [join(src, 'shared')]};
    const a = await compileBpf(opts);
    assert.equal((await compileBpf(opts)).cacheHit, true);
    writeFileSync(join(src, 'inc', 'b.h'), '#define VALUE_B 20\n');
    const b = await compileBpf(opts);
    assert.equal(b.cacheHit, false, 'a header two levels down changed');
    assert.notEqual(b.key, a.key);
    writeFileSync(join(src, 'shared', 'tool.h'), '#define TOOL 30\n');
    assert.equal((await compileBpf(opts)).cacheHit, false, 'a header from an include dir changed');
    assert.equal((await compileBpf({...opts, defines: {EXTRA: 1}})).cacheHit, false, 'defines are part of the key');
    assert.equal((await compileBpf({...opts, defines: {EXTRA: 1}})).cacheHit, true);
  });

  it('reports compiler errors with file and line', {skip: skipClang}, async () => {
    const cacheDir = tmp('cache');
    await assert.rejects(compileBpf({source: fixturePath('bad.bpf.c'), arch: 'x86', cacheDir}), (e: unknown) => {
      assert.ok(e instanceof CompileError);
      assert.equal(e.kind, 'diagnostics');
      assert.match(e.message, /bad\.bpf\.c:7:\d+: error: use of undeclared identifier 'undefined_identifier'/);
      assert.match(e.message, /^clang could not compile .*bad\.bpf\.c \(.*bad\.bpf\.c:7: use of undeclared identifier/);
      const d = e.diagnostics.find((x) => x.severity === 'error')!;
      assert.equal(d.line, 7);
      assert.match(d.file, /bad\.bpf\.c$/);
      assert.ok(e.command && e.command.includes('-target'));
      return true;
    });
    await assert.rejects(compileBpf({source: {code: 'int x = ;\n', name: 'inline.bpf.c'}, arch: 'x86', cacheDir}),
      (e: unknown) => e instanceof CompileError && /inline\.bpf\.c:1:9: error/.test(e.message) && !e.message.includes('<stdin>'));
    await assert.rejects(compileBpf({source: join(cacheDir, 'nope.bpf.c'), arch: 'x86', cacheDir}),
      (e: unknown) => e instanceof CompileError && e.kind === 'source-missing');
  });

  it('names the Debian package when clang or the libbpf headers are missing', {skip: skipClang}, async () => {
    await assert.rejects(compileBpf({source: fixturePath('maps.bpf.c'), arch: 'x86', cacheDir: tmp('cache'), env: {PATH: ''}}), (e: unknown) => {
      assert.ok(e instanceof CompileError);
      assert.equal(e.kind, 'clang-missing');
      assert.equal(e.package, 'clang');
      assert.match(e.message, /install the Debian package 'clang'/);
      return true;
    });
    const code = '#include <bpf/bpf_helpers.h>\nchar LICENSE[] SEC("license") = "GPL";\n';
    await assert.rejects(compileBpf({source: {code}, arch: 'x86', cacheDir: tmp('cache'), extraFlags: ['-nostdinc']}), (e: unknown) => {
      assert.ok(e instanceof CompileError);
      assert.equal(e.kind, 'headers-missing');
      assert.equal(e.package, 'libbpf-dev');
      assert.equal(e.missingHeader, 'bpf/bpf_helpers.h');
      assert.match(e.message, /install the Debian package 'libbpf-dev'/);
      return true;
    });
  });

  it('compiles inline code with quote includes relative to its dir', {skip: skipClang || (haveTool('gcc') ? false : 'gcc missing')}, async () => {
    const dir = tmp('inline');
    writeFileSync(join(dir, 'val.h'), '#define V 5\n');
    const code = '#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n#include "val.h"\nSEC("xdp") int x(void *c) { return V; }\nchar L[] SEC("license") = "GPL";\n';
    const r = await compileBpf({source: {code, dir}, arch: 'x86', cacheDir: tmp('cache')});
    assert.equal(parseObject(r.object).programs[0]!.name, 'x');
  });
});

describe('compiling for another architecture', () => {
  it("reads a kprobe's arguments through the target architecture's pt_regs", {skip: skipClang}, async () => {
    // bpf_tracing.h needs arm64's struct user_pt_regs: the host's x86 headers do not have it.
    const code = [
      '#include <linux/bpf.h>',
      '#include <linux/ptrace.h>',
      '#include <bpf/bpf_helpers.h>',
      '#include <bpf/bpf_tracing.h>',
      'long seen;',
      'SEC("kprobe/do_sys_openat2")',
      'int BPF_KPROBE(probe, int dfd) { seen = dfd; return 0; }',
      'char LICENSE[] SEC("license") = "GPL";',
    ].join('\n');
    const cacheDir = tmp('cross');
    const x86 = await compileBpf({source: {code, name: 'kp.bpf.c'}, arch: 'x86', cacheDir});
    const arm64 = await compileBpf({source: {code, name: 'kp.bpf.c'}, arch: 'arm64', cacheDir});
    // The first argument is at a different offset in each architecture's pt_regs.
    const firstLoad = (obj: Buffer) => parseObject(obj).programs[0]!.insns.subarray(0, 8).toString('hex');
    assert.notEqual(firstLoad(x86.object), firstLoad(arm64.object));
  });
});
