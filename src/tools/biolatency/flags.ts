// I/O flags as bcc's biolatency -F names them (its flags_print over
// cmd_flags), recovered from the rwbs text the block tracepoints record
// (blk_fill_rwbs: [F]lush-before, the operation, then F(UA), A(head),
// S(ync), M(eta)), since the tracepoints carry no cmd_flags.

const OPS: Record<string, string> = {R: 'Read', W: 'Write', F: 'Flush', D: 'Discard', DE: 'SecureErase'}
const OP_LETTERS = 'RWFDN'

/** bcc's description of a request's flags: `Sync-Write`, `ReadAhead-Read`, `ForcedUnitAccess-Sync-Write`... */
export function flagsFromRwbs(rwbs: string): string {
  let i = 0
  // A leading F before an operation is REQ_PREFLUSH, which bcc does not name.
  if (rwbs[0] === 'F' && rwbs.length > 1 && OP_LETTERS.includes(rwbs[1]!)) i = 1
  let op: string
  if (rwbs.startsWith('DE', i)) {
    op = OPS.DE!
    i += 2
  } else {
    op = OPS[rwbs[i] ?? ''] ?? 'Unknown'
    i += 1
  }
  const rest = rwbs.slice(i)
  // Prefixed in bcc's order, so the last applied comes first.
  let desc = op
  if (rest.includes('S')) desc = `Sync-${desc}`
  if (rest.includes('M')) desc = `Metadata-${desc}`
  if (rest.includes('F')) desc = `ForcedUnitAccess-${desc}`
  if (rest.includes('A')) desc = `ReadAhead-${desc}`
  return desc
}
