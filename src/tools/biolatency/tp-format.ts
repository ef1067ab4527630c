// Field offsets from a tracepoint's tracefs `format` file: the target's own
// description of the record, so no kernel headers are needed and layouts
// that moved between kernel versions are read as they are.

export type TracepointField = {offset: number; size: number; signed: boolean}

/** Fields by name (`dev`, `rwbs`, `cmd` for `__data_loc char[] cmd`). */
export function parseTracepointFormat(text: string): Map<string, TracepointField> {
  const fields = new Map<string, TracepointField>()
  for (const line of text.split('\n')) {
    const m = /^\s*field:(.*?);\s*offset:(\d+);\s*size:(\d+);\s*(?:signed:(\d+);)?/.exec(line)
    if (!m) continue
    // The declaration's last identifier, without an array suffix.
    const name = /(\w+)\s*(?:\[[^\]]*\])?\s*$/.exec(m[1]!)?.[1]
    if (name) fields.set(name, {offset: Number(m[2]), size: Number(m[3]), signed: m[4] === '1'})
  }
  return fields
}

export class TracepointFormatError extends Error {
  override readonly name = 'TracepointFormatError'
}

/** A field's offset, checked to have the size the program reads. */
export function fieldOffset(fields: ReadonlyMap<string, TracepointField>, name: string, sizes: readonly number[], where: string): number {
  const f = fields.get(name)
  if (!f) throw new TracepointFormatError(`${where} has no field '${name}'`)
  if (!sizes.includes(f.size)) throw new TracepointFormatError(`${where}: field '${name}' is ${f.size} bytes, not ${sizes.join(' or ')}`)
  return f.offset
}
