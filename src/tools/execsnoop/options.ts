/** execsnoop's options, named as bcc's flags. */
export type ExecsnoopOptions = {
  time: boolean // -T, wall clock column
  timestamp: boolean // -t, seconds since start
  failed: boolean // -x, include failed execs
  uid?: number // -u
  quote: boolean // -q
  name?: RegExp // -n, matched against the command name
  line?: RegExp // -l, matched against the arguments
  printUid: boolean // -U
  maxArgs: number // --max-args
  ppid?: number // -P
}

export function execsnoopGlobals(o: ExecsnoopOptions): Record<string, number> {
  return {
    targ_uid: o.uid ?? 0,
    targ_uid_set: o.uid === undefined ? 0 : 1,
    targ_failed: o.failed ? 1 : 0,
  }
}
