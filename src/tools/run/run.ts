// `bpftools run FILE`: any BPF program on a target. Compiles C (or takes an
// object), sets globals, loads, attaches what its section names say,
// streams its ring/perf buffers and bpf_printk output until Ctrl-C or the
// duration, then prints every map.
import {readFile} from 'node:fs/promises'
import {compileBpf} from '../../compile/index.js'
import {attachAll} from '../../loader/attach.js'
import {loadCollection, type Collection} from '../../loader/collection.js'
import {LoadError} from '../../loader/errors.js'
import {openEvents, openTracePipe, type EventStream} from '../../loader/streams.js'
import {MapType, ObjectError, parseObject, type ObjectSpec} from '../../object/index.js'
import type {Client} from '../../remote/client.js'
import type {Logger} from '../../remote/transport.js'
import {targetArch} from '../bpf-tool.js'
import {pumpEvents, type PumpResult} from '../event-pump.js'
import {hex} from './btf-value.js'
import {formatMapContents, mapContentsJson, readMaps} from './map-contents.js'
import {applySetFlags, parseAttachFlags, RunOptionError, type RunOptions} from './options.js'

export type RunContext = {
  json: boolean
  /** `uname -m` to compile for instead of the target's (--arch). */
  machine?: string
  logger: Logger
  signal?: AbortSignal
  write(text: string): void | Promise<void>
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46])

/** The object FILE names: itself when it is ELF, else compiled as BPF C for the target. */
async function objectOf(client: Client, o: RunOptions, ctx: RunContext): Promise<Buffer> {
  let bytes: Buffer
  try {
    bytes = await readFile(o.file)
  } catch (e) {
    throw new RunOptionError(`cannot read ${o.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  if (bytes.subarray(0, 4).equals(ELF_MAGIC)) return bytes
  const arch = targetArch(client, ctx.machine)
  const compiled = await compileBpf({source: o.file, arch, includeDirs: o.includeDirs})
  ctx.logger.debug(`${o.file} for ${arch}: ${compiled.cacheHit ? 'compile cache hit' : 'compiled'}`)
  if (compiled.warnings) ctx.logger.info(`clang warnings:\n${compiled.warnings}`)
  return compiled.object
}

function parse(file: string, bytes: Buffer): ObjectSpec {
  try {
    return parseObject(bytes)
  } catch (e) {
    // Whatever the parser trips over in a file it cannot read is a fact about the file.
    throw new ObjectError(`${file}: ${(e as Error).message}`)
  }
}

const TRACE_PRINTK = 6
const TRACE_VPRINTK = 177

/** Whether any program calls bpf_trace_printk (what bpf_printk becomes). */
export function usesPrintk(spec: ObjectSpec): boolean {
  return spec.programs.some((p) => {
    for (let off = 0; off + 8 <= p.insns.length; off += 8) {
      // BPF_JMP|BPF_CALL with src_reg 0 calls a helper by number.
      if (p.insns[off] === 0x85 && p.insns[off + 1]! >> 4 === 0) {
        const helper = p.insns.readInt32LE(off + 4)
        if (helper === TRACE_PRINTK || helper === TRACE_VPRINTK) return true
      }
    }
    return false
  })
}

/** Resolves after `durationSec`, or on abort; never when neither is given. */
function until(durationSec: number | undefined, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = durationSec === undefined ? undefined : setTimeout(resolve, durationSec * 1000)
    signal?.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve()
    }, {once: true})
  })
}

export async function runObject(client: Client, o: RunOptions, ctx: RunContext): Promise<PumpResult> {
  const log = ctx.logger
  const targets = parseAttachFlags(o.attach)
  const spec = parse(o.file, await objectOf(client, o, ctx))
  applySetFlags(spec, o.set)
  if (!spec.programs.length) log.info(`${o.file} has no programs; only its maps are created`)
  const c = await loadCollection(client, spec, {logger: log})
  try {
    const {attached, skipped} = await attachAll(c, {targets, keepGoing: true})
    for (const s of skipped) log.info(`not attached: ${s.reason}`)
    for (const a of attached) log.info(`attached ${a.program} to ${a.target}`)
    // Running with nothing attached would wait for events that cannot come.
    if (!attached.length && spec.programs.length) throw new LoadError('no program could be attached, so nothing would run')
    const streams = await openStreams(c, spec)
    log.info(`running${o.durationSec === undefined ? '' : ` for ${o.durationSec} s`}; Ctrl-C to stop`)
    const result = await pumpAll(streams, o, ctx)
    const contents = await readMaps(c)
    for (const m of contents) await ctx.write(ctx.json ? `${JSON.stringify(mapContentsJson(m))}\n` : `${formatMapContents(m)}`)
    return result
  } finally {
    await c.release()
  }
}

type NamedStream = {name: string; stream: EventStream; trace: boolean}

/** A stream for every ring buffer and perf event array, and the trace pipe when a program prints (pipelined). */
async function openStreams(c: Collection, spec: ObjectSpec): Promise<NamedStream[]> {
  const names = spec.maps.filter((m) => m.type === MapType.RINGBUF || m.type === MapType.PERF_EVENT_ARRAY).map((m) => m.name)
  const opening: Promise<NamedStream>[] = names.map(async (name) => ({name, stream: await openEvents(c, name), trace: false}))
  if (usesPrintk(spec)) opening.push(openTracePipe(c).then((stream) => ({name: 'trace_pipe', stream, trace: true})))
  return Promise.all(opening)
}

async function pumpAll(streams: NamedStream[], o: RunOptions, ctx: RunContext): Promise<PumpResult> {
  if (!streams.length) {
    await until(o.durationSec, ctx.signal)
    return {records: 0, lost: 0}
  }
  const results = await Promise.all(streams.map(({name, stream, trace}) => pumpEvents(stream, {
    durationSec: o.durationSec,
    signal: ctx.signal,
    write: ctx.write,
    render: (records) => records.map((r) => `${trace ? traceLine(r, ctx.json) : recordLine(name, r, ctx.json)}\n`).join(''),
  })))
  return results.reduce((a, r) => ({records: a.records + r.records, lost: a.lost + r.lost}), {records: 0, lost: 0})
}

/** `[map] 0a 0b ...`, or `{"map":"events","data":"<base64>"}`. */
export function recordLine(map: string, record: Buffer, json: boolean): string {
  return json ? JSON.stringify({map, data: record.toString('base64')}) : `[${map}] ${hex(record)}`
}

/** `[trace_pipe] comm-pid [cpu] ...: message`, or `{"trace_pipe":"..."}`. */
export function traceLine(record: Buffer, json: boolean): string {
  const line = record.toString('utf8').trim()
  return json ? JSON.stringify({trace_pipe: line}) : `[trace_pipe] ${line}`
}
