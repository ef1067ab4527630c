// attach_btf_id for BTF-attached programs (fentry/fexit/tp_btf/lsm/iter).

import type {Btf} from './btf.js';
import {ObjectError} from './errors.js';
import type {ProgramSpec} from './types.js';

/**
 * The target kernel BTF id a tracing program must be loaded with, or
 * undefined for programs that need none. Throws ObjectError naming the
 * missing function or tracepoint.
 */
export function findAttachBtfId(prog: Pick<ProgramSpec, 'name' | 'attach'>, kernelBtf: Btf): number | undefined {
  const a = prog.attach;
  if (a.kind !== 'tracing') return undefined;
  const t = kernelBtf.find(a.btfName, a.btfKind);
  if (!t) {
    const what = a.how === 'tp_btf' ? `BTF tracepoint '${a.target}' (typedef ${a.btfName})` : `kernel function '${a.btfName}'`;
    throw new ObjectError(`${what} is not in the target kernel's BTF`, {symbol: prog.name});
  }
  return t.id;
}
