// A map that exists on the target, with the operations tools use on it.
import type {MapSpec} from '../object/index.js'
import {MapType} from '../object/index.js'
import type {Client} from '../remote/client.js'

const PER_CPU = new Set<number>([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH, MapType.PERCPU_CGROUP_STORAGE])
const ARRAYS = new Set<number>([MapType.ARRAY, MapType.PERCPU_ARRAY])

export type MapEntry = {key: Buffer; value: Buffer}

export class LiveMap {
  constructor(
    private readonly client: Client,
    readonly spec: MapSpec,
    readonly handle: number,
  ) {}

  get name(): string {
    return this.spec.name
  }

  get perCpu(): boolean {
    return PER_CPU.has(this.spec.type)
  }

  /** Bytes of a value as the kernel returns it: per-CPU maps give one 8-byte-aligned slot per possible CPU. */
  get valueBytes(): number {
    return this.perCpu ? ((this.spec.valueSize + 7) & ~7) * this.client.hello.ncpus : this.spec.valueSize
  }

  lookup(key: Buffer): Promise<Buffer | undefined> {
    return this.client.mapLookup(this.handle, key)
  }

  update(key: Buffer, value: Buffer, flags = 0): Promise<void> {
    return this.client.mapUpdate(this.handle, key, value, flags)
  }

  delete(key: Buffer): Promise<boolean> {
    return this.client.mapDelete(this.handle, key)
  }

  /** Every entry, in one request. */
  async dump(): Promise<MapEntry[]> {
    const d = await this.client.mapDump(this.handle, {keySize: this.spec.keySize, valueSize: this.valueBytes})
    return d.keys.map((key, i) => ({key, value: d.values[i]!}))
  }

  /**
   * Every entry, removing what was read, in one request. Arrays cannot lose
   * entries, so they are read and then zeroed (pipelined).
   */
  async dumpAndClear(): Promise<MapEntry[]> {
    if (!ARRAYS.has(this.spec.type)) {
      const d = await this.client.mapDump(this.handle, {keySize: this.spec.keySize, valueSize: this.valueBytes, delete: true})
      return d.keys.map((key, i) => ({key, value: d.values[i]!}))
    }
    const entries = await this.dump()
    const zero = Buffer.alloc(this.valueBytes)
    await Promise.all(entries.filter((e) => e.value.some((b) => b !== 0)).map((e) => this.update(e.key, zero)))
    return entries
  }

  /** The per-CPU slots of a value read from a per-CPU map. */
  slots(value: Buffer): Buffer[] {
    const step = (this.spec.valueSize + 7) & ~7
    const out: Buffer[] = []
    for (let off = 0; off + this.spec.valueSize <= value.length; off += step) out.push(value.subarray(off, off + this.spec.valueSize))
    return out
  }
}
