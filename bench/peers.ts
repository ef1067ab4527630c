/**
 * The peer tools every bench compares with, as Debian installs them:
 * libbpf-tools (C, libbpf, CO-RE), bpftrace (with scripts doing each tool's
 * job on tracepoints, as this kernel has no kprobes) and bcc's Python tools
 * (bpfcc-tools), which compile their BPF at start and so need the running
 * kernel's headers. A peer that cannot run says why, in the table.
 */
import {existsSync} from 'node:fs'
import {release} from 'node:os'
import {ExitedEarly, interrupt, spawnUntilLine} from './measure.js'
import type {NotRun, PeerFigure} from './row.js'

export type ToolName = 'opensnoop' | 'execsnoop' | 'biolatency' | 'stackcount'

export const LIBBPF_TOOLS = 'libbpf-tools'
export const BPFTRACE = 'bpftrace'
export const BPFCC = 'bpfcc-tools'

/**
 * The first line each tool prints once its probes are attached: bcc's
 * header, which ours, libbpf-tools and bcc's Python tools all print after
 * attaching, and which the bpftrace scripts below print from BEGIN (bpftrace
 * runs BEGIN only after attaching every other probe).
 */
export const READY_LINE: Record<ToolName, RegExp> = {
  opensnoop: /^PID\s+COMM\s+FD\s+ERR\s+PATH/,
  execsnoop: /^PCOMM\s+PID\s+PPID\s+RET\s+ARGS/,
  biolatency: /^Tracing block device I\/O/,
  stackcount: /^Tracing \d+ functions? for /,
}

/** A peer's command, or why it cannot run here. */
export type PeerCommand = {name: string; argv: string[]; env?: NodeJS.ProcessEnv} | NotRun

export function isRunnable(p: PeerCommand): p is {name: string; argv: string[]; env?: NodeJS.ProcessEnv} {
  return 'argv' in p
}

/** A figure for a peer that may not have run. */
export function peerFigure(p: PeerCommand, value: (p: {name: string}) => number): PeerFigure {
  return isRunnable(p) ? {name: p.name, value: value(p)} : p
}

/**
 * A libbpf-tools tool. Its stdout is block-buffered into a pipe or file, so
 * it runs under `stdbuf -oL` wherever a line's arrival is timed.
 */
export function libbpfTool(tool: ToolName, args: string[], o: {lineBuffered?: boolean} = {}): PeerCommand {
  const name = `${LIBBPF_TOOLS} ${tool}`
  const path = `/usr/sbin/${tool}`
  if (tool === 'stackcount') return {name, notRun: 'libbpf-tools has no stackcount'}
  if (!existsSync(path)) return {name, notRun: `${path} is missing (Debian package libbpf-tools)`}
  return {name, argv: [...(o.lineBuffered ? ['stdbuf', '-oL'] : []), path, ...args]}
}

/** bpftrace running `script`. */
export function bpftrace(tool: ToolName, script: string): PeerCommand {
  const name = `${BPFTRACE} ${tool}-like`
  if (!existsSync('/usr/bin/bpftrace')) return {name, notRun: '/usr/bin/bpftrace is missing (Debian package bpftrace)'}
  return {name, argv: ['bpftrace', '-e', script]}
}

/**
 * bpftrace scripts doing each tool's job. Each prints the tool's bcc header
 * from BEGIN, and its lines in the columns the benches parse.
 */
export const BPFTRACE_SCRIPTS = {
  /** opensnoop.bt's two probes (entry saves the path, exit prints it with the fd), for one pid or all. */
  opensnoop: (pid?: number) => {
    const filter = pid === undefined ? '' : `/pid == ${pid}/ `
    return [
      'BEGIN { printf("PID    COMM               FD ERR PATH\\n"); }',
      `tracepoint:syscalls:sys_enter_openat ${filter}{ @path[tid] = args->filename; }`,
      'tracepoint:syscalls:sys_exit_openat /@path[tid]/ {',
      '  $fd = args->ret >= 0 ? args->ret : -1; $err = args->ret >= 0 ? 0 : -args->ret;',
      '  printf("%-6d %-16s %3d %3d %s\\n", pid, comm, $fd, $err, str(@path[tid])); delete(@path[tid]); }',
      'END { clear(@path); }',
    ].join('\n')
  },
  /** Every exec with its parent and result, in execsnoop -x's columns (comm is the new one after a successful exec). */
  execsnoop: () =>
    [
      'BEGIN { printf("PCOMM            PID     PPID    RET ARGS\\n"); }',
      'tracepoint:syscalls:sys_enter_execve { @path[tid] = str(args->filename); }',
      'tracepoint:syscalls:sys_exit_execve {',
      '  printf("%-16s %-7d %-7d %3d %s\\n", comm, pid, curtask->real_parent->tgid, args->ret, @path[tid]); delete(@path[tid]); }',
      'END { clear(@path); }',
    ].join('\n'),
  /** biolatency on the block tracepoints (biolatency.bt uses kprobes), requests keyed by device and sector. */
  biolatency: () =>
    [
      'BEGIN { printf("Tracing block device I/O... Hit Ctrl-C to end.\\n"); }',
      'tracepoint:block:block_rq_issue { @start[args->dev, args->sector] = nsecs; }',
      'tracepoint:block:block_rq_complete /@start[args->dev, args->sector]/ {',
      '  @usecs = hist((nsecs - @start[args->dev, args->sector]) / 1000); delete(@start[args->dev, args->sector]); }',
      'END { clear(@start); }',
    ].join('\n'),
  /** Kernel stacks counted at one tracepoint. */
  stackcount: (tracepoint: string, pid?: number) => {
    const filter = pid === undefined ? '' : `/pid == ${pid}/ `
    return [`BEGIN { printf("Tracing 1 functions for \\"${tracepoint}\\"... Hit Ctrl-C to end.\\n"); }`, `tracepoint:${tracepoint} ${filter}{ @[kstack] = count(); }`].join('\n')
  },
}

let bpfccProbe: Promise<Omit<NotRun, 'name'> | undefined> | undefined

/**
 * Why bcc's Python tools cannot run here, or undefined when they can: one
 * tool is started and either prints its header or exits saying why. All of
 * them compile their BPF the same way, so one answer stands for all.
 */
export function bpfccUnavailable(): Promise<Omit<NotRun, 'name'> | undefined> {
  bpfccProbe ??= (async () => {
    const path = '/usr/sbin/opensnoop-bpfcc'
    if (!existsSync(path)) return {notRun: 'not installed', detail: `bpfcc-tools: ${path} is missing (Debian package bpfcc-tools).`}
    try {
      const w = await spawnUntilLine([path, '--duration', '2'], READY_LINE.opensnoop, {env: bpfccEnv(), timeoutMs: 120_000})
      await interrupt(w)
      return undefined
    } catch (e) {
      if (!(e instanceof ExitedEarly)) return {notRun: 'did not start', detail: `bpfcc-tools: ${(e as Error).message}`}
      // bcc says why on stdout (libbcc) or stderr (the chdir), then Python's traceback ends with its exception.
      const lines = `${e.stdout}\n${e.stderr}`.split('\n').map((l) => l.trim())
      const headers = lines.find((l) => /kernel headers/i.test(l))
      if (headers) {
        const missing = [`/lib/modules/${release()}/build`, '/sys/kernel/kheaders.tar.xz'].filter((f) => !existsSync(f))
        return {
          notRun: 'no kernel headers',
          detail: `bpfcc-tools: bcc compiles each tool's BPF C at start and says "${headers.split('. ')[0]}."${missing.length ? ` Missing here: ${missing.join(', ')}.` : ''}`,
        }
      }
      const build = lines.find((l) => /\/build\): No such file/.test(l))
      if (build) return {notRun: 'no kernel headers', detail: `bpfcc-tools: bcc compiles each tool's BPF C at start: ${build}.`}
      return {notRun: 'fails to start', detail: `bpfcc-tools: opensnoop-bpfcc exited (${e.code}): ${lines.filter(Boolean).pop() ?? 'saying nothing'}`}
    }
  })()
  return bpfccProbe
}

function bpfccEnv(): NodeJS.ProcessEnv {
  // Python block-buffers stdout into a pipe or file.
  return {...process.env, PYTHONUNBUFFERED: '1'}
}

/** One of bcc's Python tools, when they run here. */
export async function bpfccTool(tool: ToolName, args: string[]): Promise<PeerCommand> {
  const name = `${BPFCC} ${tool}`
  const why = await bpfccUnavailable()
  if (why) return {name, ...why}
  return {name, argv: [`/usr/sbin/${tool}-bpfcc`, ...args], env: bpfccEnv()}
}
