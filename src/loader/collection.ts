// Turns an ObjectSpec into live maps and programs on the target through a
// Client, in a handful of pipelined round trips: BTF, then every map, then
// global data, then every program. Attaching and streams live in their own
// modules; release() frees everything.
import {
  btfFeaturesForKernel, coreFailureAt, describeInsn, encodeFuncInfo, encodeLineInfo, enumName, findAttachBtfId,
  FUNC_INFO_RECORD_SIZE, LINE_INFO_RECORD_SIZE, MapType, relocateCore, relocateProgram, resolveKconfig,
  sanitizeBtf, type Btf, type MapSpec, type ObjectSpec, type ProgramSpec,
} from '../object/index.js'
import type {Client} from '../remote/client.js'
import {BpfdError, PermissionError} from '../remote/errors.js'
import type {Logger} from '../remote/transport.js'
import {LoadError, VerifierError, verifierComplaint} from './errors.js'
import {kernelBtf} from './kernel-btf.js'
import {LiveMap} from './live-map.js'

export type LiveProgram = {spec: ProgramSpec; handle: number}

export type LoadOptions = {
  /** Programs not to load (e.g. for a syscall the target does not have). */
  skip?: (program: ProgramSpec) => boolean
  logger?: Logger
  /** The target kernel's BTF for CO-RE; fetched through the client when needed and not given. */
  kernelBtf?: Btf
}

const GLOBAL_DATA = new Set(['rodata', 'data', 'bss', 'kconfig'])

export class Collection {
  private closed = false

  constructor(
    readonly client: Client,
    readonly spec: ObjectSpec,
    readonly maps: ReadonlyMap<string, LiveMap>,
    readonly programs: ReadonlyMap<string, LiveProgram>,
    private readonly extraHandles: number[],
  ) {}

  map(name: string): LiveMap {
    const m = this.maps.get(name)
    if (!m) throw new LoadError(`the object has no map '${name}' (it has ${[...this.maps.keys()].join(', ')})`)
    return m
  }

  /** Reads a global variable's current bytes from its .data/.bss map on the target. */
  async readGlobal(name: string): Promise<Buffer> {
    for (const m of this.maps.values()) {
      const v = m.spec.variables?.find((x) => x.name === name)
      if (v && m.spec.kind !== 'rodata') {
        const value = await m.lookup(Buffer.alloc(4))
        if (!value) break
        return value.subarray(v.offset, v.offset + v.size)
      }
    }
    throw new LoadError(`the object has no writable global '${name}'`)
  }

  /** Remembers a handle (a link, a stream) to free with the collection. */
  own(handle: number): void {
    this.extraHandles.push(handle)
  }

  /** Closes one handle the collection owns now, so release() does not close it again. */
  async closeOwned(handle: number): Promise<void> {
    const i = this.extraHandles.indexOf(handle)
    if (i < 0) return
    this.extraHandles.splice(i, 1)
    await this.client.closeHandle(handle).catch(() => undefined)
  }

  /** Frees every map, program and attachment on the target (pipelined). */
  async release(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const handles = [...this.extraHandles.reverse(), ...[...this.programs.values()].map((p) => p.handle), ...[...this.maps.values()].map((m) => m.handle)]
    await Promise.allSettled(handles.map((h) => this.client.closeHandle(h)))
  }
}

/** Kernel object names: 15 characters of [A-Za-z0-9_.]. */
function objectName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15)
}

export async function loadCollection(client: Client, spec: ObjectSpec, options: LoadOptions = {}): Promise<Collection> {
  const hello = client.hello
  const log = options.logger
  const programs = spec.programs.filter((p) => !options.skip?.(p))
  const needsCore = programs.some((p) => p.coreRelocations.length > 0 || p.attach.kind === 'tracing')
  const targetBtf = needsCore
    ? (options.kernelBtf ? Promise.resolve(options.kernelBtf) : kernelBtf(client, {logger: log}))
    : undefined
  targetBtf?.catch(() => undefined) // reported where it is awaited

  // Round trip 1: the program's BTF, sanitised for the target's kernel.
  let btfHandle: number | undefined
  if (spec.btf) {
    const raw = sanitizeBtf(spec.btf, btfFeaturesForKernel(hello.release)).encode()
    try {
      btfHandle = await client.btfLoad(raw)
    } catch (e) {
      if (!(e instanceof BpfdError)) throw e
      if (e.errname === 'EPERM') throw privilegeError(client, 'loading BTF')
      // As libbpf does: go on without BTF, losing only source lines in verifier logs.
      log?.info(`the target kernel refused the program's BTF (${e.errname}); loading without it`)
      log?.debug(e.log ?? '')
    }
  }

  // Round trip 2: every map.
  const mapSpecs = spec.maps.map((m) => sized(m, hello.ncpus))
  const handles = await Promise.all(mapSpecs.map((m) => createMap(client, m, btfHandle)))
  const maps = new Map<string, LiveMap>()
  mapSpecs.forEach((m, i) => maps.set(m.name, new LiveMap(client, m, handles[i]!)))
  const release = () => Promise.allSettled(handles.map((h) => client.closeHandle(h)))

  try {
    // Round trip 3: global data, and .kconfig as the target's kernel defines it.
    const kconfig = spec.kconfig.length ? resolveKconfig(spec, {release: hello.release, machine: hello.machine}) : undefined
    await Promise.all(
      mapSpecs.map(async (m, i) => {
        if (!GLOBAL_DATA.has(m.kind)) return
        const data = m.kind === 'kconfig' ? kconfig : m.initialData
        if (!data || (m.kind === 'bss' && data.every((b) => b === 0))) return
        const update = client.mapUpdate(handles[i]!, Buffer.alloc(4), data)
        // Frozen read-only data lets the verifier treat const volatile options as constants.
        // bpfd answers in order, so the freeze (same round trip) follows the update.
        const freeze = m.kind === 'rodata' || m.kind === 'kconfig' ? client.request('map_freeze', {h: handles[i]!}).catch(() => undefined) : undefined
        await Promise.all([update, freeze])
      }),
    )

    // Round trip 4: every program.
    const kbtf = targetBtf ? await targetBtf : undefined
    const byName: Record<string, number> = Object.fromEntries(mapSpecs.map((m, i) => [m.name, handles[i]!]))
    const loaded = await Promise.allSettled(programs.map((p) => loadProgram(client, spec, p, byName, btfHandle, kbtf)))
    const failed = loaded.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    const live = new Map<string, LiveProgram>()
    loaded.forEach((r, i) => {
      if (r.status === 'fulfilled') live.set(programs[i]!.name, {spec: programs[i]!, handle: r.value})
    })
    if (failed) {
      await Promise.allSettled([...live.values()].map((p) => client.closeHandle(p.handle)))
      throw failed.reason
    }
    const extra = btfHandle === undefined ? [] : [btfHandle]
    log?.debug(`loaded ${live.size} programs and ${maps.size} maps`)
    return new Collection(client, spec, maps, live, extra)
  } catch (e) {
    await release()
    if (btfHandle !== undefined) await client.closeHandle(btfHandle).catch(() => undefined)
    throw e
  }
}

/** Sizes what the object left to the loader: perf event arrays get one slot per possible CPU. */
function sized(m: MapSpec, ncpus: number): MapSpec {
  if (m.type === MapType.PERF_EVENT_ARRAY && m.maxEntries === 0) return {...m, maxEntries: ncpus}
  return m
}

/** EPERM from bpf(2): say whether bpfd lacks root or the kernel refuses even root. */
function privilegeError(client: Client, what: string): PermissionError {
  const uid = client.hello.uid
  return new PermissionError(
    client.transport,
    uid === 0
      ? `${what} was refused (EPERM) although bpfd runs as root: the kernel's lockdown or a security module forbids it`
      : `${what} was refused (EPERM): bpfd runs as uid ${uid} on the target, and BPF needs root (or CAP_BPF with CAP_PERFMON)`,
  )
}

async function createMap(client: Client, m: MapSpec, btf: number | undefined): Promise<number> {
  const base = {type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, name: objectName(m.name)}
  const withBtf = btf !== undefined && m.btfValueTypeId !== undefined
  try {
    return await client.mapCreate(withBtf ? {...base, btf: {handle: btf, keyTypeId: m.btfKeyTypeId ?? 0, valueTypeId: m.btfValueTypeId!}} : base)
  } catch (e) {
    if (withBtf && e instanceof BpfdError && e.errname === 'EINVAL') return client.mapCreate(base)
    if (e instanceof BpfdError && e.errname === 'EPERM') throw privilegeError(client, `creating map '${m.name}'`)
    if (e instanceof BpfdError) {
      const type = enumName(MapType, m.type)
      throw new LoadError(`cannot create map '${m.name}' (${type}, key ${m.keySize} B, value ${m.valueSize} B, ${m.maxEntries} entries) on the target: ${e.detail} (${e.errname})`)
    }
    throw e
  }
}

async function loadProgram(
  client: Client,
  spec: ObjectSpec,
  p: ProgramSpec,
  maps: Record<string, number>,
  btf: number | undefined,
  kernel: Btf | undefined,
): Promise<number> {
  if (p.progType === 0) throw new LoadError(`program '${p.name}' is in section '${p.section}', which names no program type bpftools knows`)
  const core = p.coreRelocations.length ? relocateCore(p, spec.btf, kernel) : undefined
  const insns = relocateProgram({name: p.name, insns: core ? core.insns : p.insns, mapRelocations: p.mapRelocations}, maps)
  const attachBtfId = p.attach.kind === 'tracing' && kernel ? findAttachBtfId(p, kernel) : undefined
  try {
    const r = await client.progLoad({
      type: p.progType,
      insns,
      license: p.license,
      name: objectName(p.name),
      attachType: p.expectedAttachType,
      attachBtfId,
      kernVersion: spec.kernVersion,
      flags: p.flags,
      btf:
        btf === undefined || !p.funcInfo.length
          ? undefined
          : {
              handle: btf,
              funcInfo: encodeFuncInfo(p.funcInfo),
              funcInfoRecSize: FUNC_INFO_RECORD_SIZE,
              lineInfo: encodeLineInfo(p.lineInfo),
              lineInfoRecSize: LINE_INFO_RECORD_SIZE,
            },
    })
    return r.handle
  } catch (e) {
    if (!(e instanceof BpfdError)) throw e
    const log = e.log ?? ''
    // A poisoned CO-RE instruction shows up as a call to an unknown helper at its index.
    let coreFailure: string | undefined
    if (core?.poisoned.length) {
      const at = [...log.matchAll(/^(\d+): \(85\)/gm)].map((m) => Number(m[1]))
      const hit = at.map((i) => coreFailureAt(core, i)).find(Boolean) ?? core.poisoned[0]
      coreFailure = hit?.reason ? `CO-RE relocation of ${hit.access} failed: ${hit.reason}` : undefined
    }
    if (e.errname === 'EACCES' || e.errname === 'EINVAL' || e.errname === 'E2BIG' || log) {
      const insn = verifierComplaint(log).insn
      const source = insn !== undefined && spec.btf ? describeInsn(p, spec.btf, insn) : undefined
      throw new VerifierError(p.name, e.errname, log || e.detail, coreFailure, source)
    }
    // Not the verifier (EPERM under lockdown, ENOMEM ...): same error, naming the program.
    throw new BpfdError(e.op, e.errname, e.errno, `program '${p.name}' (section ${p.section}): ${e.detail}`, e.log, e.line)
  }
}

