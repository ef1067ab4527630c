// A tool's event record is declared once in TypeScript as field → [byte
// offset, kind], mirroring the struct in bpf-programs/<tool>.h. A test checks
// each declaration against the struct's BTF in the compiled object, so the
// two cannot drift apart.

export type FieldKind = 'u8' | 'u16' | 'u32' | 's32' | 'u64' | 's64' | {chars: number} | 'tail'

export type RecordLayout = {
  /** The C struct the layout mirrors. */
  readonly struct: string
  readonly fields: Readonly<Record<string, readonly [offset: number, kind: FieldKind]>>
  /** Bytes before the variable-length tail. */
  readonly headerSize: number
}

export class RecordError extends Error {
  constructor(readonly struct: string, readonly size: number, readonly need: number) {
    super(`${struct} record of ${size} bytes is shorter than the ${need} bytes its layout needs`)
  }
}

export function checkSize(layout: RecordLayout, buf: Buffer, tail = 0): void {
  if (buf.length < layout.headerSize + tail) throw new RecordError(layout.struct, buf.length, layout.headerSize + tail)
}

/** A NUL-terminated string within a fixed char array. */
export function cString(buf: Buffer, offset: number, max: number): string {
  const end = Math.min(buf.length, offset + max)
  let nul = buf.indexOf(0, offset)
  if (nul < 0 || nul > end) nul = end
  return buf.toString('utf8', offset, nul)
}
