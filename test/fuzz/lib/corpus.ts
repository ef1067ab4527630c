// The objects the object fuzzer mutates: every bpf-programs/*.bpf.c and the
// object-parser fixtures, compiled for x86 through the shared test cache.

import {readdirSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {compileBpf} from '../../../src/compile/index.js'
import {TEST_CACHE_DIR} from '../../fixtures/fixtures.js'

/** The repository root (this file runs from dist/test/fuzz/lib). */
export const REPO = fileURLToPath(new URL('../../../../', import.meta.url))

const FIXTURES = ['core.bpf.c', 'maps.bpf.c', 'globals.bpf.c', 'programs.bpf.c']

export interface CorpusLoad {
  objects: {name: string; bytes: Buffer}[]
  /** Sources that did not compile, with clang's reason. */
  failed: string[]
}

export async function loadObjectCorpus(): Promise<CorpusLoad> {
  const programs = readdirSync(join(REPO, 'bpf-programs'))
    .filter((f) => f.endsWith('.bpf.c'))
    .sort()
    .map((f) => join('bpf-programs', f))
  const sources = [...programs, ...FIXTURES.map((f) => join('test', 'fixtures', f))]
  const objects: {name: string; bytes: Buffer}[] = []
  const failed: string[] = []
  for (const name of sources) {
    try {
      const r = await compileBpf({source: join(REPO, name), arch: 'x86', cacheDir: TEST_CACHE_DIR})
      objects.push({name, bytes: r.object})
    } catch (e) {
      failed.push(`${name}: ${(e as Error).message.split('\n')[0]}`)
    }
  }
  return {objects, failed}
}
