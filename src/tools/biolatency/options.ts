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

/** Where the struct request is among block_rq_insert's and block_rq_issue's arguments (see request-args.ts). */
export type RequestArgs = {insert: number; issue: number}

/**
 * The programs of biolatency.bpf.c to load: block_rq_insert only with -Q;
 * in the BTF variant (`args`), the ones reading the request from where the
 * target's tracepoints pass it (`_q`: after a struct request_queue *).
 */
export function biolatencyPrograms(o: BiolatencyOptions, args: RequestArgs | undefined): Set<string> {
  const pick = (name: string, arg: number | undefined) => (arg ? `${name}_q` : name)
  const names = [pick('block_rq_issue', args?.issue), 'block_rq_complete']
  if (o.queued) names.push(pick('block_rq_insert', args?.insert))
  return new Set(names)
}

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
