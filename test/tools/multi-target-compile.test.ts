// Targets of one architecture share one compile: clang runs once for the
// same source and flags however many callers want the object at once.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {compileBpf, findClang} from '../../src/compile/index.js'
import {BPFTOOLS, toolsUnavailable} from './helpers/programs.js'
import {Bpfd} from './helpers/tool-process.js'

const SOURCE = String.raw`
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("tracepoint/syscalls/sys_enter_getppid")
int count(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`

describe('one compile for several targets of one architecture', {skip: findClang(undefined) ? false : 'no clang'}, () => {
  const dirs: string[] = []
  const scratch = () => {
    const d = mkdtempSync(join(tmpdir(), 'bpftools-compile-once-'))
    dirs.push(d)
    return d
  }
  after(() => dirs.forEach((d) => rmSync(d, {recursive: true, force: true})))

  it('concurrent compiles of the same source and architecture start clang once', async () => {
    const cacheDir = scratch()
    const source = {code: `${SOURCE}\n// ${Date.now()}\n`, name: 'once.bpf.c'}
    const results = await Promise.all([1, 2, 3].map(() => compileBpf({source, arch: 'x86', cacheDir})))
    assert.deepEqual(results.map((r) => r.cacheHit).sort(), [false, true, true])
    assert.ok(results.every((r) => r.object.equals(results[0]!.object)))
    assert.equal(readdirSync(join(cacheDir, 'objects')).length, 1)
    // Another architecture is another object, compiled on its own.
    const [x86, arm] = await Promise.all([compileBpf({source, arch: 'x86', cacheDir}), compileBpf({source, arch: 'arm64', cacheDir})])
    assert.equal(x86.cacheHit, true)
    assert.equal(arm.cacheHit, false)
  })

  it('two x86_64 targets: one compiles, the other is served the same object', {skip: toolsUnavailable()}, async () => {
    const bpfd = await Bpfd.start()
    try {
      const r = spawnSync(BPFTOOLS, ['opensnoop', '--verbose', '-d', '1', '-p', '1', '-r', 'local', '-r', bpfd.remote], {
        encoding: 'utf8',
        env: {...process.env, BPFTOOLS_CACHE_DIR: scratch()},
        timeout: 60_000,
      })
      assert.equal(r.status, 0, r.stderr)
      const lines = r.stderr.split('\n').filter((l) => /: opensnoop\.bpf\.c for x86: /.test(l))
      assert.equal(lines.length, 2, r.stderr)
      assert.deepEqual(lines.map((l) => l.replace(/^bpftools: (local|tcp:\S+): /, '')).sort(), ['opensnoop.bpf.c for x86: compile cache hit', 'opensnoop.bpf.c for x86: compiled'])
    } finally {
      await bpfd.stop()
    }
  })
})
