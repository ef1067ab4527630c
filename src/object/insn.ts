// struct bpf_insn (8 bytes, little-endian): code, dst_reg:4 | src_reg:4, s16 off, s32 imm.

export const INSN_SIZE = 8;

export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

export const BPF_K = 0x00;
export const BPF_X = 0x08;

export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;

export const BPF_IMM = 0x00;
export const BPF_MEM = 0x60;

export const BPF_MOV = 0xb0;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;

/** The first half of a 16-byte load-immediate (`r = imm64 ll`). */
export const LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW;
export const CALL = BPF_JMP | BPF_CALL;

export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

/**
 * Helper id written into a call that replaces an instruction CO-RE could not
 * relocate. The verifier rejects it as an unknown helper, so the failure
 * surfaces only if the instruction is reachable; the loader maps the id back
 * to the recorded reason. (Same value libbpf uses, so tools recognise it.)
 */
export const POISON_CALL_IMM = 0xbad2310;

export const insnClass = (code: number): number => code & 0x07;
export const insnSizeBits = (code: number): number => code & 0x18;
export const insnMode = (code: number): number => code & 0xe0;

export function sizeBytesOfCode(code: number): number {
  switch (insnSizeBits(code)) {
    case BPF_B: return 1;
    case BPF_H: return 2;
    case BPF_W: return 4;
    default: return 8;
  }
}

export function sizeCodeOfBytes(bytes: number): number | undefined {
  switch (bytes) {
    case 1: return BPF_B;
    case 2: return BPF_H;
    case 4: return BPF_W;
    case 8: return BPF_DW;
    default: return undefined;
  }
}

/** A mutable view of one instruction inside an instruction buffer. */
export class Insns {
  readonly buf: Buffer;

  constructor(buf: Buffer) {
    this.buf = buf;
  }

  get count(): number {
    return this.buf.length / INSN_SIZE;
  }

  code(i: number): number { return this.buf[i * INSN_SIZE]!; }
  setCode(i: number, code: number): void { this.buf[i * INSN_SIZE] = code; }
  dst(i: number): number { return this.buf[i * INSN_SIZE + 1]! & 0x0f; }
  src(i: number): number { return this.buf[i * INSN_SIZE + 1]! >> 4; }
  setSrc(i: number, src: number): void {
    const b = i * INSN_SIZE + 1;
    this.buf[b] = (this.buf[b]! & 0x0f) | ((src & 0x0f) << 4);
  }
  setRegs(i: number, dst: number, src: number): void {
    this.buf[i * INSN_SIZE + 1] = (dst & 0x0f) | ((src & 0x0f) << 4);
  }
  off(i: number): number { return this.buf.readInt16LE(i * INSN_SIZE + 2); }
  setOff(i: number, off: number): void { this.buf.writeInt16LE(off, i * INSN_SIZE + 2); }
  imm(i: number): number { return this.buf.readInt32LE(i * INSN_SIZE + 4); }
  setImm(i: number, imm: number): void { this.buf.writeInt32LE(imm | 0, i * INSN_SIZE + 4); }

  isLdImm64(i: number): boolean { return this.code(i) === LD_IMM64; }
  isCall(i: number): boolean { return this.code(i) === CALL; }

  /** The 64-bit immediate of a ld_imm64 pair (unsigned). */
  imm64(i: number): bigint {
    const lo = BigInt(this.buf.readUInt32LE(i * INSN_SIZE + 4));
    const hi = BigInt(this.buf.readUInt32LE((i + 1) * INSN_SIZE + 4));
    return (hi << 32n) | lo;
  }

  setImm64(i: number, value: bigint): void {
    const u = BigInt.asUintN(64, value);
    this.buf.writeUInt32LE(Number(u & 0xffffffffn), i * INSN_SIZE + 4);
    this.buf.writeUInt32LE(Number(u >> 32n), (i + 1) * INSN_SIZE + 4);
  }

  /** Replaces instruction i with `call POISON_CALL_IMM` (both halves of a ld_imm64). */
  poison(i: number): void {
    const wide = this.isLdImm64(i) && i + 1 < this.count;
    for (const j of wide ? [i, i + 1] : [i]) {
      this.setCode(j, CALL);
      this.setRegs(j, 0, 0);
      this.setOff(j, 0);
      this.setImm(j, POISON_CALL_IMM);
    }
  }
}
