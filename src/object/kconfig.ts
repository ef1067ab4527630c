// `__kconfig` externs: values the loader supplies from what it knows about
// the target kernel (its release string, optionally its config).

import {ObjectError} from './errors.js';
import type {KconfigExtern, ObjectSpec} from './types.js';

/** KERNEL_VERSION(a, b, c) for a release such as `6.1.0-50-cloud-arm64` or `6.18.44-fc-v595`. */
export function kernelVersionCode(release: string): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release.trim());
  if (!m) throw new ObjectError(`cannot read a kernel version from release string ${JSON.stringify(release)}`);
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  return (a << 16) + (b << 8) + Math.min(c, 255);
}

/**
 * Parses kernel config text (the contents of /proc/config.gz or
 * /boot/config-*) into `{CONFIG_FOO: 'y', CONFIG_BAR: 'n', CONFIG_HZ: '250'}`.
 */
export function parseKconfigText(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const unset = /^# (CONFIG_\w+) is not set$/.exec(line);
    if (unset) {
      out[unset[1]!] = 'n';
      continue;
    }
    const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export interface KconfigTarget {
  /** `uname -r` of the target. */
  release: string;
  /** `uname -m` of the target, used to decide LINUX_HAS_SYSCALL_WRAPPER when not given. */
  machine?: string;
  /** CONFIG_* values (see parseKconfigText); values `y`/`n`/`m`, numbers, or quoted strings. */
  config?: Readonly<Record<string, string | number | boolean>>;
  /** Whether syscalls go through pt_regs wrappers (`__x64_sys_*`); libbpf probes this. */
  hasSyscallWrapper?: boolean;
}

function syscallWrapperDefault(machine: string | undefined, version: number): boolean {
  const v = (a: number, b: number) => (a << 16) + (b << 8);
  switch (machine) {
    case 'x86_64': return version >= v(4, 17);
    case 'aarch64': return version >= v(4, 19);
    case 's390x': return version >= v(5, 12);
    case 'riscv64': return version >= v(6, 6);
    case 'ppc64le': case 'ppc64': return version >= v(6, 1);
    case 'armv7l': case 'armv6l': case 'armv8l': return false;
    default: return version >= v(4, 17);
  }
}

function writeInt(buf: Buffer, ext: KconfigExtern, value: bigint): void {
  const bits = BigInt(ext.size * 8);
  const min = ext.type === 'uint' ? 0n : -(1n << (bits - 1n));
  const max = ext.type === 'uint' ? (1n << bits) - 1n : (1n << (bits - 1n)) - 1n;
  if (value < min || value > max) {
    throw new ObjectError(`kconfig value ${value} does not fit the extern's ${ext.size}-byte ${ext.type === 'uint' ? 'unsigned' : 'signed'} type`, {symbol: ext.name});
  }
  const u = BigInt.asUintN(Number(bits), value);
  for (let i = 0; i < ext.size; i++) buf[ext.offset + i] = Number((u >> BigInt(8 * i)) & 0xffn);
}

function encodeValue(buf: Buffer, ext: KconfigExtern, raw: string | number | boolean): void {
  const fail = (why: string): never => {
    throw new ObjectError(`kconfig value ${JSON.stringify(raw)} ${why}`, {symbol: ext.name});
  };
  const s = typeof raw === 'boolean' ? (raw ? 'y' : 'n') : String(raw);
  switch (ext.type) {
    case 'bool':
      if (s === 'y') buf[ext.offset] = 1;
      else if (s === 'n') buf[ext.offset] = 0;
      else fail('is not y or n (the extern is a bool)');
      return;
    case 'tristate':
      if (s === 'y') writeInt(buf, {...ext, type: 'int'}, 1n);
      else if (s === 'n') writeInt(buf, {...ext, type: 'int'}, 0n);
      else if (s === 'm') writeInt(buf, {...ext, type: 'int'}, 2n);
      else fail('is not y, n or m (the extern is a tristate)');
      return;
    case 'char':
      if (s.length !== 1) fail('is not a single character');
      buf[ext.offset] = s.charCodeAt(0) & 0xff;
      return;
    case 'string': {
      const m = /^"(.*)"$/s.exec(s);
      const bytes = Buffer.from(m ? m[1]!.replace(/\\(.)/g, '$1') : s, 'utf8');
      if (bytes.length + 1 > ext.size) fail(`is longer than the extern's ${ext.size - 1} characters`);
      buf.fill(0, ext.offset, ext.offset + ext.size);
      bytes.copy(buf, ext.offset);
      return;
    }
    case 'int': case 'uint': {
      if (typeof raw === 'boolean' || s === 'y' || s === 'n' || s === 'm') {
        writeInt(buf, ext, s === 'y' ? 1n : s === 'm' ? 2n : 0n);
        return;
      }
      if (!/^-?(0x[0-9a-fA-F]+|\d+)$/.test(s)) fail('is not a number');
      const neg = s.startsWith('-');
      const v = BigInt(neg ? s.slice(1) : s);
      writeInt(buf, ext, neg ? -v : v);
      return;
    }
  }
}

/**
 * Fills the `.kconfig` map's initial data for a target kernel and returns it.
 * Knows LINUX_KERNEL_VERSION, LINUX_HAS_SYSCALL_WRAPPER and
 * LINUX_HAS_BPF_COOKIE; CONFIG_* come from `target.config`. A missing value is
 * zero for a `__weak` extern and an ObjectError otherwise.
 */
export function resolveKconfig(spec: ObjectSpec, target: KconfigTarget): Buffer {
  const map = spec.maps.find((m) => m.kind === 'kconfig');
  if (!map || spec.kconfig.length === 0) return Buffer.alloc(0);
  const version = kernelVersionCode(target.release);
  const data = Buffer.alloc(map.valueSize);
  for (const ext of spec.kconfig) {
    let value: string | number | boolean | undefined;
    switch (ext.name) {
      case 'LINUX_KERNEL_VERSION': value = version; break;
      case 'LINUX_HAS_SYSCALL_WRAPPER': value = target.hasSyscallWrapper ?? syscallWrapperDefault(target.machine, version); break;
      case 'LINUX_HAS_BPF_COOKIE': value = version >= (5 << 16) + (15 << 8); break;
      default: value = target.config?.[ext.name];
    }
    if (value === undefined) {
      if (ext.weak) continue;
      throw new ObjectError(ext.name.startsWith('CONFIG_')
        ? `the target's kernel config does not set ${ext.name} (declare the extern __weak to make it optional)`
        : `unknown kconfig extern (bpftools knows LINUX_KERNEL_VERSION, LINUX_HAS_SYSCALL_WRAPPER, LINUX_HAS_BPF_COOKIE and CONFIG_*)`,
      {symbol: ext.name});
    }
    if (typeof value === 'number' && ext.type === 'bool') value = value !== 0;
    encodeValue(data, ext, value);
  }
  map.initialData = data;
  return data;
}
