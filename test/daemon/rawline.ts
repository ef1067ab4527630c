// A minimal line-level driver for bpfd used by the daemon tests. It speaks the
// wire format directly (no dependency on the host Client) so the daemon is
// tested against docs/protocol.md alone.
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// dist/test/daemon -> repository root
export const repoRoot = path.resolve(here, '..', '..', '..');

export function bpfdPath(): string {
  if (process.env.BPFD_BIN) return process.env.BPFD_BIN;
  const arch = os.arch() === 'arm64' ? 'aarch64' : 'x86_64';
  return path.join(repoRoot, 'daemon', 'out', `bpfd-${arch}`);
}

export interface Frame {
  kind: 'ok' | 'err' | 'ev';
  id: number; // request ID, or the stream handle for ev
  errname?: string;
  errno?: number;
  kv: Record<string, string>;
  raw: string;
}

export function parseFrame(line: string): Frame {
  const t = line.split(' ').filter((s) => s.length > 0);
  const kind = t[0] as Frame['kind'];
  if (kind !== 'ok' && kind !== 'err' && kind !== 'ev') throw new Error(`bad frame: ${line}`);
  const f: Frame = { kind, id: Number(t[1]), kv: {}, raw: line };
  let i = 2;
  if (kind === 'err') {
    f.errname = t[2];
    f.errno = Number(t[3]);
    i = 4;
  }
  for (; i < t.length; i++) {
    const eq = t[i].indexOf('=');
    if (eq < 0) throw new Error(`bad token ${t[i]} in ${line}`);
    f.kv[t[i].slice(0, eq)] = t[i].slice(eq + 1);
  }
  return f;
}

export function pctDecode(s: string): string {
  return Buffer.from(
    s.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  ).toString('utf8');
}

export function pctEncode(s: string): string {
  let o = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if (b < 0x21 || b > 0x7e || b === 0x25 || b === 0x3d || b === 0x2c) {
      o += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    } else o += String.fromCharCode(b);
  }
  return o;
}

export const b64 = (b: Buffer | Uint8Array): string => Buffer.from(b).toString('base64');
export const unb64 = (s: string): Buffer => Buffer.from(s, 'base64');

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

export function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, v));
  return b;
}

/** Splits u32-LE-length-prefixed records of an ev frame's data. */
export function records(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let o = 0;
  while (o + 4 <= data.length) {
    const n = data.readUInt32LE(o);
    out.push(data.subarray(o + 4, o + 4 + n));
    o += 4 + n;
  }
  if (o !== data.length) throw new Error('trailing bytes in event data');
  return out;
}

type Waiter = { pred: (f: Frame) => boolean; resolve: (f: Frame) => void; reject: (e: Error) => void };

/** One bpfd connection over a readable/writable pair. */
export class LineConn {
  private pending = '';
  private frames: Frame[] = [];
  private waiters: Waiter[] = [];
  private nextId = 1;
  ended = false;
  readonly endedP: Promise<void>;

  constructor(
    readable: Readable,
    private writable: Writable,
  ) {
    readable.setEncoding('latin1');
    this.endedP = new Promise((resolve) => {
      const end = () => {
        if (this.ended) return;
        this.ended = true;
        for (const w of this.waiters) w.reject(new Error('connection ended'));
        this.waiters = [];
        resolve();
      };
      readable.on('end', end);
      readable.on('close', end);
      readable.on('error', end);
    });
    readable.on('data', (chunk: string) => {
      this.pending += chunk;
      let nl: number;
      while ((nl = this.pending.indexOf('\n')) >= 0) {
        const line = this.pending.slice(0, nl);
        this.pending = this.pending.slice(nl + 1);
        this.deliver(parseFrame(line));
      }
    });
    writable.on('error', () => {});
  }

  private deliver(f: Frame): void {
    const i = this.waiters.findIndex((w) => w.pred(f));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      w.resolve(f);
    } else this.frames.push(f);
  }

  /** The next frame matching pred (already received or future). */
  wait(pred: (f: Frame) => boolean, timeoutMs = 10000): Promise<Frame> {
    const i = this.frames.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]);
    if (this.ended) return Promise.reject(new Error('connection ended'));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error('timed out waiting for a frame'));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  reply(id: number, timeoutMs = 10000): Promise<Frame> {
    return this.wait((f) => f.kind !== 'ev' && f.id === id, timeoutMs);
  }

  event(stream: number, timeoutMs = 10000): Promise<Frame> {
    return this.wait((f) => f.kind === 'ev' && f.id === stream, timeoutMs);
  }

  /** Frames received but not yet taken by a wait. */
  takeAll(): Frame[] {
    const f = this.frames;
    this.frames = [];
    return f;
  }

  write(data: string | Buffer): void {
    this.writable.write(data);
  }

  /** Sends `ID op args` and returns the ID. */
  send(op: string, args: Record<string, string | number | bigint> = {}): number {
    const id = this.nextId++;
    const parts = [String(id), op];
    for (const [k, v] of Object.entries(args)) parts.push(`${k}=${v}`);
    this.write(parts.join(' ') + '\n');
    return id;
  }

  call(op: string, args: Record<string, string | number | bigint> = {}, timeoutMs = 10000): Promise<Frame> {
    return this.reply(this.send(op, args), timeoutMs);
  }

  /** Like call but fails the test unless the reply is ok. */
  async ok(op: string, args: Record<string, string | number | bigint> = {}, timeoutMs = 10000): Promise<Frame> {
    const f = await this.call(op, args, timeoutMs);
    if (f.kind !== 'ok') throw new Error(`${op} failed: ${f.raw.slice(0, 2000)}`);
    return f;
  }

  close(): void {
    this.writable.end();
  }
}

export interface Bpfd {
  proc: ChildProcess;
  conn: LineConn;
  stderr: () => string;
  exited: Promise<number | null>;
  stop: () => Promise<void>;
}

/** Starts bpfd in stdio mode. */
export function startBpfd(env: Record<string, string> = {}, args: string[] = []): Bpfd {
  const proc = spawn(bpfdPath(), args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const conn = new LineConn(proc.stdout!, proc.stdin!);
  return {
    proc,
    conn,
    stderr: () => err,
    exited,
    stop: async () => {
      conn.close();
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** A short random suffix for kernel object names (15 chars max in total). */
export function tag(prefix: string): string {
  return (prefix + Math.random().toString(36).slice(2, 10)).slice(0, 15);
}

export function readFileOr(p: string, dflt: string): string {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return dflt;
  }
}

// ---- hand-assembled BPF ----

export interface Insn {
  code: number;
  dst?: number;
  src?: number;
  off?: number;
  imm?: number;
}

export function insns(list: Insn[]): Buffer {
  const b = Buffer.alloc(list.length * 8);
  list.forEach((x, i) => {
    b.writeUInt8(x.code, i * 8);
    b.writeUInt8(((x.src ?? 0) << 4) | (x.dst ?? 0), i * 8 + 1);
    b.writeInt16LE(x.off ?? 0, i * 8 + 2);
    b.writeInt32LE(x.imm ?? 0, i * 8 + 4);
  });
  return b;
}

export const BPF = {
  movImm: (dst: number, imm: number): Insn => ({ code: 0xb7, dst, imm }),
  movReg: (dst: number, src: number): Insn => ({ code: 0xbf, dst, src }),
  addImm: (dst: number, imm: number): Insn => ({ code: 0x07, dst, imm }),
  stxDw: (dst: number, src: number, off: number): Insn => ({ code: 0x7b, dst, src, off }),
  call: (helper: number): Insn => ({ code: 0x85, imm: helper }),
  exit: (): Insn => ({ code: 0x95 }),
  /** 64-bit immediate load (two instructions). */
  ldImm64: (dst: number, v: bigint, src = 0): Insn[] => [
    { code: 0x18, dst, src, imm: Number(BigInt.asIntN(32, v)) },
    { code: 0x00, imm: Number(BigInt.asIntN(32, v >> 32n)) },
  ],
  /** ld_imm64 of a map handle, relocated by hand (src_reg = BPF_PSEUDO_MAP_FD). */
  ldMap: (dst: number, handle: number): Insn[] => [
    { code: 0x18, dst, src: 1, imm: handle },
    { code: 0x00, imm: 0 },
  ],
};

export const PROG_TYPE_SOCKET_FILTER = 1;
export const PROG_TYPE_TRACEPOINT = 5;
export const HELPER_GET_CURRENT_PID_TGID = 14;
export const HELPER_PERF_EVENT_OUTPUT = 25;
export const HELPER_RINGBUF_OUTPUT = 130;
export const PROG_TYPE_KPROBE = 2;

/** File offset of an ELF64 little-endian executable's entry point (a safe uprobe spot). */
export function elfEntryOffset(file: string): number {
  const b = fs.readFileSync(file);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error(`${file}: not ELF64 LE`);
  const entry = b.readBigUInt64LE(24);
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (b.readUInt32LE(p) !== 1 /* PT_LOAD */) continue;
    const off = b.readBigUInt64LE(p + 8);
    const vaddr = b.readBigUInt64LE(p + 16);
    const filesz = b.readBigUInt64LE(p + 32);
    if (entry >= vaddr && entry < vaddr + filesz) return Number(entry - vaddr + off);
  }
  throw new Error(`${file}: entry point not in a PT_LOAD segment`);
}
