// Which of biolatency.bpf.c's two variants a target gets: BTF tracepoints
// (tp_btf, struct request read with CO-RE) where the kernel has BTF and
// tp_btf, the classic tracepoints with tracefs record offsets otherwise.
import {kernelVersionCode} from '../../object/index.js'
import {ASSUME_NO_BTF} from '../bpf-tool.js'

export type BiolatencyVariant = {
  btf: boolean
  /** What times the requests, for --verbose. */
  description: string
}

/** tp_btf programs came with 5.5. */
const TP_BTF_SINCE = kernelVersionCode('5.5')

/** `assumeNoBtf`: the BPFTOOLS_ASSUME_NO_BTF override, to run the tracepoint variant on a target that has BTF. */
export function chooseVariant(target: {btf: boolean; release: string}, assumeNoBtf: boolean): BiolatencyVariant {
  const why = assumeNoBtf ? `${ASSUME_NO_BTF}=1` : !target.btf ? 'the target has no kernel BTF' : tooOld(target.release)
  if (why === undefined) return {btf: true, description: 'BTF tracepoints (tp_btf), requests keyed by struct request, disk and flags read from it'}
  return tracepointVariant(why)
}

/** The classic tracepoints, used because of `why`. */
export function tracepointVariant(why: string): BiolatencyVariant {
  return {btf: false, description: `tracepoints (${why}), requests keyed by dev and sector at the record offsets tracefs gives`}
}

function tooOld(release: string): string | undefined {
  let version: number
  try {
    version = kernelVersionCode(release)
  } catch {
    // No version to know tp_btf by, nor to resolve LINUX_KERNEL_VERSION with.
    return `kernel release '${release}' has no version number`
  }
  return version < TP_BTF_SINCE ? `kernel ${release} predates tp_btf (5.5)` : undefined
}
