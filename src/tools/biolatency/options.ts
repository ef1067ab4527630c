// biolatency's options, named as bcc's flags.

export type BiolatencyOptions = {
  /** Seconds between histograms; one at the end (Ctrl-C) without it. */
  intervalSec?: number
  /** Histograms to print before stopping. */
  count?: number
  timestamp: boolean // -T
  queued: boolean // -Q: time from insertion into the queue, not from issue
  milliseconds: boolean // -m
  perDisk: boolean // -D
  perFlag: boolean // -F
  extended: boolean // -e
  disk?: string // -d
}

/** Options biolatency cannot use together: a usage error. */
export class BiolatencyUsageError extends Error {
  override readonly name = 'BiolatencyUsageError'
}

export function checkOptions(o: BiolatencyOptions): void {
  if (o.perDisk && o.perFlag) throw new BiolatencyUsageError('-D and -F cannot be used together: histograms are either per disk or per I/O flags')
}

/** Field offsets in the block tracepoint records (see tp-format.ts). */
export type RecordOffsets = {rqDev: number; rqSector: number; doneDev: number; doneSector: number; doneRwbs: number}

/**
 * The const volatile globals of biolatency.bpf.c. `offsets` only for the
 * tracepoint variant (BIOLATENCY_NO_BTF): the BTF variant reads struct
 * request and has no record offsets.
 */
export function biolatencyGlobals(o: BiolatencyOptions, dev: number | undefined, offsets?: RecordOffsets): Record<string, number> {
  const globals: Record<string, number> = {
    targ_queued: o.queued ? 1 : 0,
    targ_ms: o.milliseconds ? 1 : 0,
    targ_per_disk: o.perDisk ? 1 : 0,
    targ_per_flag: o.perFlag ? 1 : 0,
    targ_extended: o.extended ? 1 : 0,
    targ_dev: dev ?? 0,
  }
  if (!offsets) return globals
  return {
    ...globals,
    rq_off_dev: offsets.rqDev,
    rq_off_sector: offsets.rqSector,
    done_off_dev: offsets.doneDev,
    done_off_sector: offsets.doneSector,
    done_off_rwbs: offsets.doneRwbs,
  }
}
