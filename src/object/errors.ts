/** Where in an object file a problem was found. */
export interface ObjectErrorLocation {
  /** ELF section name (or a pseudo-section such as `.BTF`). */
  section?: string;
  /** Byte offset in the file or in the named section. */
  offset?: number;
  /** Symbol, map, program or variable the problem concerns. */
  symbol?: string;
}

/**
 * A BPF object (ELF, BTF, .BTF.ext) that cannot be understood or used as
 * asked. `problem` says what is wrong in plain words; the location fields say
 * where. The message combines them.
 */
export class ObjectError extends Error {
  override readonly name = 'ObjectError';
  readonly problem: string;
  readonly section?: string;
  readonly offset?: number;
  readonly symbol?: string;

  constructor(problem: string, where: ObjectErrorLocation = {}) {
    const parts: string[] = [];
    if (where.section !== undefined) parts.push(`section ${JSON.stringify(where.section)}`);
    if (where.symbol !== undefined) parts.push(`'${where.symbol}'`);
    if (where.offset !== undefined) parts.push(`offset 0x${where.offset.toString(16)}`);
    super(parts.length ? `${parts.join(', ')}: ${problem}` : problem);
    this.problem = problem;
    if (where.section !== undefined) this.section = where.section;
    if (where.offset !== undefined) this.offset = where.offset;
    if (where.symbol !== undefined) this.symbol = where.symbol;
  }
}
