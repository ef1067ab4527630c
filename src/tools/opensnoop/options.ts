import {parseOpenFlags} from './open-flags.js'

/** opensnoop's options, named as bcc's flags. */
export type OpensnoopOptions = {
  timestamp: boolean // -T
  printUid: boolean // -U
  failedOnly: boolean // -x
  pid?: number // -p
  tid?: number // -t (trumps -p, as in bcc)
  uid?: number // -u
  durationSec?: number // -d
  name?: string // -n, substring of comm
  extended: boolean // -e
  flags: string[] // -f
  fullPath: boolean // -F
  bufferPages: number // -b
}

/** The const volatile globals of opensnoop.bpf.c for these options. */
export function opensnoopGlobals(o: OpensnoopOptions, arch: string): Record<string, number | bigint> {
  return {
    targ_tgid: o.tid === undefined ? (o.pid ?? 0) : 0,
    targ_pid: o.tid ?? 0,
    targ_uid: o.uid ?? 0,
    targ_uid_set: o.uid === undefined ? 0 : 1,
    targ_failed: o.failedOnly ? 1 : 0,
    targ_flags: BigInt(parseOpenFlags(o.flags, arch)),
  }
}
