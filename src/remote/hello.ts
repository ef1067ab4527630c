/**
 * What bpfd tells the host about the target in its `hello` reply, parsed.
 * The host assumes nothing about the target that is not in here.
 */
import type {Fields} from './codec.js'

/** The protocol version this host speaks. */
export const PROTOCOL_VERSION = 1

/** How kprobes/uprobes can be created on the target. */
export type ProbeMethod = 'pmu' | 'tracefs' | 'none'

export interface Features {
  /** BPF_MAP_TYPE_RINGBUF can be created. */
  readonly ringbuf: boolean
  /** BPF_MAP_LOOKUP_BATCH works on a hash map. */
  readonly batch: boolean
  readonly kprobe: ProbeMethod
  readonly uprobe: ProbeMethod
  /** BPF_LINK_CREATE is known to the kernel. */
  readonly link: boolean
}

export interface Hello {
  readonly proto: number
  /** bpfd's own version. */
  readonly bpfdVersion: string
  /** Kernel release (`uname -r`). */
  readonly release: string
  /** `uname -m`: x86_64, aarch64, ... */
  readonly machine: string
  readonly pageSize: number
  /** Possible CPUs, as ids (`cpus_possible` expanded). */
  readonly cpusPossible: readonly number[]
  readonly cpusOnline: readonly number[]
  /** The CPU lists as the kernel wrote them (`0-3,6`). */
  readonly cpusPossibleText: string
  readonly cpusOnlineText: string
  /** Number of possible CPUs: what per-CPU map values are sized by. */
  readonly ncpus: number
  /** bpfd's user id on the target. */
  readonly uid: number
  /** The kernel has /sys/kernel/btf/vmlinux. */
  readonly btf: boolean
  readonly btfSize: number
  /** Where tracefs is mounted; undefined when unavailable. */
  readonly tracefs: string | undefined
  readonly bootId: string
  readonly features: Features
}

/** Far above any kernel's NR_CPUS; a bound so a broken peer cannot make the host loop or allocate without end. */
const MAX_CPU_ID = 65535

/** Expands the kernel's CPU list syntax (`0-3,6`) into ids; returns a reason on bad syntax. */
export function parseCpuList(text: string): number[] | string {
  const cpus: number[] = []
  if (text.trim() === '') return cpus
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part)
    if (!m) return `'${part}' is not a CPU or CPU range`
    const first = Number(m[1])
    const last = m[2] === undefined ? first : Number(m[2])
    if (last < first || last > MAX_CPU_ID) return `'${part}' is not a valid range (CPU ids go up to ${MAX_CPU_ID})`
    if (cpus.length + last - first + 1 > MAX_CPU_ID + 1) return `'${text}' names more CPUs than a kernel can have`
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu)
  }
  return cpus
}

function cpuList(fields: Fields, key: string): {text: string; cpus: number[]} {
  const text = fields.str(key)
  const cpus = parseCpuList(text)
  if (typeof cpus === 'string') throw fields.fail(key, `is not a CPU list: ${cpus}`)
  return {text, cpus}
}

const PROBE_METHODS: readonly ProbeMethod[] = ['pmu', 'tracefs', 'none']

/** Parses a successful hello reply. */
export function parseHello(fields: Fields): Hello {
  const possible = cpuList(fields, 'cpus_possible')
  const online = cpuList(fields, 'cpus_online')
  const tracefs = fields.str('tracefs')
  return {
    proto: fields.int('proto'),
    bpfdVersion: fields.str('bpfd'),
    release: fields.str('release'),
    machine: fields.str('machine'),
    pageSize: fields.int('page_size'),
    cpusPossible: possible.cpus,
    cpusOnline: online.cpus,
    cpusPossibleText: possible.text,
    cpusOnlineText: online.text,
    ncpus: fields.int('ncpus'),
    uid: fields.int('uid'),
    btf: fields.bool('btf'),
    btfSize: fields.int('btf_size'),
    tracefs: tracefs === '' ? undefined : tracefs,
    bootId: fields.str('boot_id'),
    features: {
      ringbuf: fields.bool('ringbuf'),
      batch: fields.bool('batch'),
      kprobe: fields.oneOf('kprobe', PROBE_METHODS),
      uprobe: fields.oneOf('uprobe', PROBE_METHODS),
      link: fields.bool('link'),
    },
  }
}
