// What the loader tests share: the fixtures in test/fixtures/loader compiled
// for this machine (through the test compile cache), loaded on the local bpfd.
import {archFromMachine, compileBpf} from '../../src/compile/index.js'
import {loadCollection, type Collection} from '../../src/loader/collection.js'
import type {EventStream} from '../../src/loader/streams.js'
import {parseObject, setGlobals, type GlobalValue, type ObjectSpec} from '../../src/object/index.js'
import type {Client} from '../../src/remote/client.js'
import {fixturePath, haveTool, TEST_CACHE_DIR} from '../fixtures/fixtures.js'
import {bpfdUnavailable, MACHINE} from '../remote/bpfd-env.js'

export const ARCH = archFromMachine(MACHINE)

/** Why the loader tests cannot run here, or undefined when they can. */
export function loaderUnavailable(): string | undefined {
  return bpfdUnavailable() ?? (haveTool('clang') ? undefined : 'clang is not installed')
}

export function loaderFixturePath(name: string): string {
  return fixturePath(`loader/${name}`)
}

export async function fixtureSpec(name: string, defines?: Record<string, string>): Promise<ObjectSpec> {
  const compiled = await compileBpf({source: loaderFixturePath(name), arch: ARCH, cacheDir: TEST_CACHE_DIR, defines})
  return parseObject(compiled.object)
}

/** Compiles, sets globals and loads a fixture. */
export async function loadFixture(client: Client, name: string, globals: Record<string, GlobalValue> = {}, defines?: Record<string, string>): Promise<Collection> {
  const spec = await fixtureSpec(name, defines)
  setGlobals(spec, globals)
  return loadCollection(client, spec)
}

/** Records of a stream until `n` have come or `timeoutMs` passed. */
export async function takeRecords(stream: EventStream, n: number, timeoutMs = 5000): Promise<Buffer[]> {
  const out: Buffer[] = []
  const timer = setTimeout(() => void stream.close(), timeoutMs)
  try {
    for await (const batch of stream) {
      out.push(...batch.records)
      if (out.length >= n) break
    }
  } finally {
    clearTimeout(timer)
  }
  return out
}

/** Calls getppid(2) `n` times in this process (process.ppid is not cached). */
export function getppid(n: number): number {
  let ppid = 0
  for (let i = 0; i < n; i++) ppid = process.ppid
  return ppid
}
