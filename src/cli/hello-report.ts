/**
 * What `bpftools target` shows about a target, as rows and as JSON (pure).
 */
import type {Hello} from '../remote/hello.js'

function size(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${bytes} bytes`
}

const yesNo = (value: boolean): string => (value ? 'yes' : 'no')

export function helloRows(transport: string, hello: Hello): [string, string][] {
  const f = hello.features
  return [
    ['target', transport],
    ['machine', hello.machine],
    ['kernel', hello.release],
    ['bpfd version', hello.bpfdVersion],
    ['protocol', String(hello.proto)],
    ['page size', String(hello.pageSize)],
    ['CPUs', `${hello.ncpus} possible (${hello.cpusPossibleText}), ${hello.cpusOnline.length} online (${hello.cpusOnlineText})`],
    ['uid', hello.uid === 0 ? '0 (root)' : String(hello.uid)],
    ['BTF', hello.btf ? `yes (${size(hello.btfSize)})` : 'no'],
    ['tracefs', hello.tracefs ?? '(unavailable)'],
    ['boot id', hello.bootId],
    ['ring buffer', yesNo(f.ringbuf)],
    ['batch map ops', yesNo(f.batch)],
    ['BPF links', yesNo(f.link)],
    ['kprobes', f.kprobe],
    ['uprobes', f.uprobe],
  ]
}

/** Two aligned columns under a FIELD VALUE header. */
export function formatTable(rows: readonly (readonly [string, string])[]): string {
  const all = [['FIELD', 'VALUE'] as const, ...rows]
  const width = Math.max(...all.map(([field]) => field.length))
  return all.map(([field, value]) => `${field.padEnd(width)}  ${value}`.trimEnd()).join('\n')
}

export function helloJson(transport: string, hello: Hello): Record<string, unknown> {
  return {target: transport, ...hello}
}
