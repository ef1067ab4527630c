// Target architectures for `-D__TARGET_ARCH_<arch>` (what bpf_tracing.h keys
// PT_REGS_* on), and how a target's `uname -m` maps to them.

import {CompileError} from './errors.js';

export const BPF_ARCHES = ['x86', 'arm64', 'arm', 'riscv', 's390', 'powerpc'] as const;
export type BpfArch = (typeof BPF_ARCHES)[number];

const MACHINES: Readonly<Record<string, BpfArch>> = {
  x86_64: 'x86',
  amd64: 'x86',
  aarch64: 'arm64',
  arm64: 'arm64',
  armv6l: 'arm',
  armv7l: 'arm',
  armv8l: 'arm',
  riscv64: 'riscv',
  s390x: 's390',
  ppc64le: 'powerpc',
  ppc64: 'powerpc',
};

/** `uname -m` of a target (x86_64, aarch64, armv7l, riscv64, s390x, ppc64le) → BPF arch name. */
export function archFromMachine(machine: string): BpfArch {
  const arch = MACHINES[machine.trim()];
  if (!arch) {
    throw new CompileError('unsupported-arch',
      `no BPF target architecture for machine '${machine}' (known: ${Object.keys(MACHINES).join(', ')})`);
  }
  return arch;
}

export function isBpfArch(s: string): s is BpfArch {
  return (BPF_ARCHES as readonly string[]).includes(s);
}
