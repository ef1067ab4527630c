// The target kernel's BTF, read through bpfd once and kept on the host: a
// vmlinux BTF is several MiB, which is seconds over adb. The kernel's BTF
// only changes with the kernel, so release and size name the cached copy.
import {mkdir, readFile, rename, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {defaultCacheDir} from '../compile/index.js'
import {Btf} from '../object/index.js'
import type {Client} from '../remote/client.js'
import type {Logger} from '../remote/transport.js'
import {LoadError} from './errors.js'

const VMLINUX = '/sys/kernel/btf/vmlinux'
const parsed = new WeakMap<Client, Promise<Btf>>()

type Options = {cacheDir?: string; logger?: Logger}

export function kernelBtf(client: Client, options: Options = {}): Promise<Btf> {
  let btf = parsed.get(client)
  if (!btf) {
    btf = load(client, options)
    parsed.set(client, btf)
  }
  return btf
}

async function load(client: Client, options: Options): Promise<Btf> {
  const h = client.hello
  if (!h.btf) throw new LoadError(`${client.transport}: the target kernel has no BTF (${VMLINUX}); tools that read kernel structures need CONFIG_DEBUG_INFO_BTF`)
  const dir = join(options.cacheDir ?? defaultCacheDir(), 'btf')
  const file = join(dir, `${safe(h.machine)}-${safe(h.release)}-${h.btfSize}.btf`)
  let data = await readFile(file).catch(() => undefined)
  if (!data || data.length !== h.btfSize) {
    const done = options.logger?.progress?.(`reading the target's kernel BTF (${(h.btfSize / 1048576).toFixed(1)} MiB)`)
    data = await client.readWholeFile(VMLINUX, {size: h.btfSize}).finally(done)
    options.logger?.info(`read the target's kernel BTF (${data.length} bytes); cached for next time`)
    await mkdir(dir, {recursive: true})
    const tmp = `${file}.${process.pid}.tmp`
    await writeFile(tmp, data)
    await rename(tmp, file)
  }
  return Btf.parse(data)
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_')
