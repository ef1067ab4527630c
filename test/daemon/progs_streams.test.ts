import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  b64,
  BPF,
  elfEntryOffset,
  Bpfd,
  Frame,
  HELPER_GET_CURRENT_PID_TGID,
  HELPER_PERF_EVENT_OUTPUT,
  HELPER_RINGBUF_OUTPUT,
  insns,
  pctDecode,
  PROG_TYPE_KPROBE,
  PROG_TYPE_SOCKET_FILTER,
  PROG_TYPE_TRACEPOINT,
  records,
  startBpfd,
  tag,
  unb64,
} from './rawline.js';

const MAP_PERF_EVENT_ARRAY = 4;
const MAP_RINGBUF = 27;
const PROG_TYPE_PERF_EVENT = 7;
const PROG_TYPE_RAW_TRACEPOINT = 17;
const HELPER_TRACE_PRINTK = 6;

function cpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
}

/** Opens and closes a file so sys_enter_openat fires in this process. */
function touch(): void {
  fs.closeSync(fs.openSync('/proc/self/stat', 'r'));
}

/** Waits for an ev frame of stream carrying a record from this process. */
async function eventFromUs(d: Bpfd, stream: number, recLen: number): Promise<{ frame: Frame; rec: Buffer }> {
  const deadline = Date.now() + 10000;
  const timer = setInterval(touch, 20);
  try {
    while (Date.now() < deadline) {
      const f = await d.conn.event(stream, deadline - Date.now());
      assert.ok(Number(f.kv.n) >= 0);
      assert.ok(Number(f.kv.lost) >= 0);
      const recs = records(unb64(f.kv.data));
      assert.equal(recs.length, Number(f.kv.n));
      for (const r of recs) {
        assert.equal(r.length, recLen);
        if (Number(r.readBigUInt64LE(0) >> 32n) === process.pid) return { frame: f, rec: r };
      }
    }
  } finally {
    clearInterval(timer);
  }
  throw new Error('no event from this process');
}

describe('bpfd programs, attachments and streams', () => {
  let d: Bpfd;
  before(async () => {
    d = startBpfd();
    await d.conn.ok('hello', { proto: 1 });
  });
  after(async () => {
    await d.stop();
  });

  const trivial = insns([BPF.movImm(0, 0), BPF.exit()]);

  it('loads a valid program', async () => {
    const f = await d.conn.ok('prog_load', { type: PROG_TYPE_SOCKET_FILTER, insns: b64(trivial), license: 'GPL', name: tag('kp') });
    assert.ok(Number(f.kv.h) > 0);
    assert.equal(f.kv.log, undefined);
    // a log is returned when asked for
    const g = await d.conn.ok('prog_load', { type: PROG_TYPE_SOCKET_FILTER, insns: b64(trivial), license: 'GPL', log_level: 2 });
    assert.ok(unb64(g.kv.log).toString().length > 0);
    await d.conn.ok('close', { h: f.kv.h });
    await d.conn.ok('close', { h: g.kv.h });
  });

  it('rejects an invalid program with the verifier log', async () => {
    // exit without setting r0
    const f = await d.conn.call('prog_load', { type: PROG_TYPE_SOCKET_FILTER, insns: b64(insns([BPF.exit()])), license: 'GPL' });
    assert.equal(f.kind, 'err');
    assert.ok(f.errname === 'EACCES' || f.errname === 'EINVAL', f.raw);
    const log = unb64(f.kv.log).toString();
    assert.match(log, /R0/);
    assert.match(pctDecode(f.kv.msg), /BPF_PROG_LOAD/);
  });

  it('refuses map references to handles it does not own', async () => {
    const prog = insns([...BPF.ldMap(1, 999), BPF.movImm(0, 0), BPF.exit()]);
    const f = await d.conn.call('prog_load', { type: PROG_TYPE_TRACEPOINT, insns: b64(prog), license: 'GPL' });
    assert.equal(f.errname, 'EBADF');
    assert.match(pctDecode(f.kv.msg), /map handle 999/);
    const bad = await d.conn.call('prog_load', { type: PROG_TYPE_TRACEPOINT, insns: b64(trivial.subarray(0, 12)), license: 'GPL' });
    assert.equal(bad.errname, 'EINVAL');
  });

  it('attaches a tracepoint program and detaches it on close', async () => {
    const p = await d.conn.ok('prog_load', { type: PROG_TYPE_TRACEPOINT, insns: b64(trivial), license: 'GPL' });
    const a = await d.conn.ok('attach_tracepoint', { prog: p.kv.h, category: 'syscalls', name: 'sys_enter_openat' });
    assert.ok(Number(a.kv.h) > 0);
    const tracefs = '/sys/kernel/tracing';
    const id = fs.readFileSync(`${tracefs}/events/syscalls/sys_enter_openat/id`, 'utf8').trim();
    assert.equal(a.kv.id, id);
    const missing = await d.conn.call('attach_tracepoint', { prog: p.kv.h, category: 'syscalls', name: 'no_such_tp' });
    assert.equal(missing.errname, 'ENOENT');
    const sneaky = await d.conn.call('attach_tracepoint', { prog: p.kv.h, category: '..', name: 'x' });
    assert.equal(sneaky.errname, 'EINVAL');
    await d.conn.ok('close', { h: a.kv.h });
    await d.conn.ok('close', { h: p.kv.h });
  });

  it('streams a ring buffer end to end', async () => {
    const c = d.conn;
    const rb = Number((await c.ok('map_create', { type: MAP_RINGBUF, key: 0, value: 0, max: 64 * 1024, name: tag('kr') })).kv.h);
    const prog = insns([
      BPF.call(HELPER_GET_CURRENT_PID_TGID),
      BPF.stxDw(10, 0, -8),
      ...BPF.ldMap(1, rb),
      BPF.movReg(2, 10),
      BPF.addImm(2, -8),
      BPF.movImm(3, 8),
      BPF.movImm(4, 0),
      BPF.call(HELPER_RINGBUF_OUTPUT),
      BPF.movImm(0, 0),
      BPF.exit(),
    ]);
    const p = await c.ok('prog_load', { type: PROG_TYPE_TRACEPOINT, insns: b64(prog), license: 'GPL', name: tag('krp') });
    const s = Number((await c.ok('ringbuf_open', { map: rb })).kv.h);
    const a = await c.ok('attach_tracepoint', { prog: p.kv.h, category: 'syscalls', name: 'sys_enter_openat' });
    const { frame, rec } = await eventFromUs(d, s, 8);
    assert.ok(Number(frame.kv.n) >= 1);
    assert.equal(frame.kv.lost, '0');
    assert.equal(Number(rec.readBigUInt64LE(0) >> 32n), process.pid);
    await c.ok('close', { h: a.kv.h });
    await c.ok('close', { h: s });
    // nothing more arrives for a closed stream
    c.takeAll();
    await c.ok('close', { h: p.kv.h });
    await c.ok('close', { h: rb });
  });

  it('streams a perf buffer end to end', async () => {
    const c = d.conn;
    const hello = await c.ok('hello', { proto: 1 });
    const ncpus = Number(hello.kv.ncpus);
    const pa = Number((await c.ok('map_create', { type: MAP_PERF_EVENT_ARRAY, key: 4, value: 4, max: ncpus, name: tag('kpa') })).kv.h);
    const prog = insns([
      BPF.movReg(6, 1),
      BPF.call(HELPER_GET_CURRENT_PID_TGID),
      BPF.stxDw(10, 0, -8),
      BPF.movReg(1, 6),
      ...BPF.ldMap(2, pa),
      ...BPF.ldImm64(3, 0xffffffffn), // BPF_F_CURRENT_CPU
      BPF.movReg(4, 10),
      BPF.addImm(4, -8),
      BPF.movImm(5, 8),
      BPF.call(HELPER_PERF_EVENT_OUTPUT),
      BPF.movImm(0, 0),
      BPF.exit(),
    ]);
    const p = await c.ok('prog_load', { type: PROG_TYPE_TRACEPOINT, insns: b64(prog), license: 'GPL', name: tag('kpp') });
    const s = Number((await c.ok('perfbuf_open', { map: pa, pages: 8 })).kv.h);
    const a = await c.ok('attach_tracepoint', { prog: p.kv.h, category: 'syscalls', name: 'sys_enter_openat' });
    // the kernel pads raw sample data (u32 size + bytes) to 8 bytes: 8 → 12
    const { frame, rec } = await eventFromUs(d, s, 12);
    assert.ok(Number(frame.kv.n) >= 1);
    assert.equal(Number(rec.readBigUInt64LE(0) >> 32n), process.pid);
    await c.ok('close', { h: a.kv.h });
    await c.ok('close', { h: s });
    const bad = await c.call('perfbuf_open', { map: pa, pages: 3 });
    assert.equal(bad.errname, 'EINVAL');
    const notPerf = await c.call('ringbuf_open', { map: pa });
    assert.equal(notPerf.errname, 'EINVAL');
    await c.ok('close', { h: p.kv.h });
    await c.ok('close', { h: pa });
  });

  it('wraps around small ring and perf buffers under load', { timeout: 30000 }, async () => {
    const c = d.conn;
    const hello = await c.ok('hello', { proto: 1 });
    const rb = Number((await c.ok('map_create', { type: MAP_RINGBUF, key: 0, value: 0, max: 4096 })).kv.h);
    const pa = Number((await c.ok('map_create', { type: MAP_PERF_EVENT_ARRAY, key: 4, value: 4, max: Number(hello.kv.ncpus) })).kv.h);
    const prog = insns([
      BPF.movReg(6, 1),
      BPF.call(HELPER_GET_CURRENT_PID_TGID),
      BPF.stxDw(10, 0, -8),
      ...BPF.ldMap(1, rb),
      BPF.movReg(2, 10),
      BPF.addImm(2, -8),
      BPF.movImm(3, 8),
      BPF.movImm(4, 0),
      BPF.call(HELPER_RINGBUF_OUTPUT),
      BPF.movReg(1, 6),
      ...BPF.ldMap(2, pa),
      ...BPF.ldImm64(3, 0xffffffffn),
      BPF.movReg(4, 10),
      BPF.addImm(4, -8),
      BPF.movImm(5, 8),
      BPF.call(HELPER_PERF_EVENT_OUTPUT),
      BPF.movImm(0, 0),
      BPF.exit(),
    ]);
    const p = await c.ok('prog_load', { type: PROG_TYPE_TRACEPOINT, insns: b64(prog), license: 'GPL' });
    const rs = Number((await c.ok('ringbuf_open', { map: rb, batch_bytes: 256 })).kv.h);
    const ps = Number((await c.ok('perfbuf_open', { map: pa, pages: 1, batch_bytes: 256 })).kv.h);
    const count = { ring: 0, perf: 0, lost: 0, frames: 0 };
    const collect = (f: Frame) => {
      const recs = records(unb64(f.kv.data));
      assert.equal(recs.length, Number(f.kv.n));
      const isRing = f.id === rs;
      if (!isRing) count.lost += Number(f.kv.lost);
      else assert.equal(f.kv.lost, '0');
      if (recs.length > 1) assert.ok(unb64(f.kv.data).length <= 256, 'batch_bytes bounds a frame');
      count.frames++;
      for (const r of recs) {
        assert.equal(r.length, isRing ? 8 : 12);
        if (Number(r.readBigUInt64LE(0) >> 32n) === process.pid) count[isRing ? 'ring' : 'perf']++;
      }
    };
    const a = await c.ok('attach_tracepoint', { prog: p.kv.h, category: 'syscalls', name: 'sys_enter_openat' });
    const N = 3000;
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < N / 6; i++) touch();
      // let bpfd catch up between bursts
      await new Promise((r) => setTimeout(r, 30));
      for (const f of c.takeAll()) if (f.kind === 'ev') collect(f);
    }
    // drain what is left: a quiet period with no frames
    const drain = async () => {
      for (let idle = 0; idle < 5; ) {
        await new Promise((r) => setTimeout(r, 40));
        const fs2 = c.takeAll().filter((f) => f.kind === 'ev');
        if (fs2.length === 0) idle++;
        fs2.forEach(collect);
      }
    };
    await drain();
    // The kernel reports a loss with the next sample that fits on that CPU:
    // one more openat on every CPU flushes the counts still pending.
    const cpus = cpuList(pctDecode(hello.kv.cpus_online));
    for (const cpu of cpus) {
      execFileSync('taskset', ['-c', String(cpu), 'cat', '/proc/self/stat'], { stdio: 'ignore' });
    }
    await c.ok('close', { h: a.kv.h });
    await drain();
    // Each flush above also opens /dev/null in this process (its ignored stdio).
    const most = N + cpus.length;
    assert.ok(count.ring > 0 && count.ring <= most, `ring ${count.ring}`);
    assert.ok(count.perf <= most, `perf ${count.perf}`);
    assert.ok(count.perf + count.lost >= N, `every perf event arrived or was counted lost: ${JSON.stringify(count)}`);
    assert.ok(count.frames > 10);
    for (const h of [rs, ps, p.kv.h, rb, pa]) await c.ok('close', { h });
  });

  it('attaches raw tracepoints and perf events', async () => {
    const c = d.conn;
    const raw = await c.ok('prog_load', { type: PROG_TYPE_RAW_TRACEPOINT, insns: b64(trivial), license: 'GPL' });
    const a = await c.ok('attach_raw_tracepoint', { prog: raw.kv.h, name: 'sys_enter' });
    await c.ok('close', { h: a.kv.h });
    const nope = await c.call('attach_raw_tracepoint', { prog: raw.kv.h, name: 'no_such_raw_tp' });
    assert.equal(nope.errname, 'ENOENT');
    const pe = await c.ok('prog_load', { type: PROG_TYPE_PERF_EVENT, insns: b64(trivial), license: 'GPL' });
    // software cpu-clock on CPU 0 at 99 Hz
    const e = await c.ok('attach_perf_event', { prog: pe.kv.h, type: 1, config: 0, cpu: 0, freq: 99 });
    await c.ok('close', { h: e.kv.h });
    const both = await c.call('attach_perf_event', { prog: pe.kv.h, type: 1, config: 0, cpu: 0, freq: 99, period: 5 });
    assert.equal(both.errname, 'EINVAL');
    assert.match(pctDecode(both.kv.msg), /period/);
    const tp = await c.ok('prog_load', { type: PROG_TYPE_TRACEPOINT, insns: b64(trivial), license: 'GPL' });
    const wrong = await c.call('attach_raw_tracepoint', { prog: tp.kv.h, name: 'sys_enter' });
    assert.equal(wrong.kind, 'err'); // a tracepoint program is not a raw tracepoint program
    const tr = await c.call('attach_tracing', { prog: tp.kv.h });
    assert.equal(tr.kind, 'err');
    for (const h of [raw.kv.h, pe.kv.h, tp.kv.h]) await c.ok('close', { h });
  });

  it('reports kprobes as unavailable when the kernel has none', async (t) => {
    const hello = await d.conn.ok('hello', { proto: 1 });
    if (hello.kv.kprobe !== 'none') {
      t.skip('this kernel has kprobes');
      return;
    }
    const p = await d.conn.ok('prog_load', { type: PROG_TYPE_KPROBE, insns: b64(trivial), license: 'GPL' });
    const f = await d.conn.call('attach_kprobe', { prog: p.kv.h, func: 'do_sys_openat2' });
    assert.equal(f.kind, 'err');
    assert.match(pctDecode(f.kv.msg), /kprobe/);
    await d.conn.ok('close', { h: p.kv.h });
  });

  /** A kprobe-type program that sends pid_tgid to a ring buffer. */
  async function uprobeRig(dd: Bpfd): Promise<{ rb: number; prog: string; stream: number }> {
    const c = dd.conn;
    const rb = Number((await c.ok('map_create', { type: MAP_RINGBUF, key: 0, value: 0, max: 16 * 1024 })).kv.h);
    const prog = insns([
      BPF.call(HELPER_GET_CURRENT_PID_TGID),
      BPF.stxDw(10, 0, -8),
      ...BPF.ldMap(1, rb),
      BPF.movReg(2, 10),
      BPF.addImm(2, -8),
      BPF.movImm(3, 8),
      BPF.movImm(4, 0),
      BPF.call(HELPER_RINGBUF_OUTPUT),
      BPF.movImm(0, 0),
      BPF.exit(),
    ]);
    const p = await c.ok('prog_load', { type: PROG_TYPE_KPROBE, insns: b64(prog), license: 'GPL' });
    const stream = Number((await c.ok('ringbuf_open', { map: rb })).kv.h);
    return { rb, prog: p.kv.h, stream };
  }

  async function runTrueAndSee(dd: Bpfd, stream: number): Promise<void> {
    const child = spawn('/bin/true');
    const pid = child.pid!;
    await new Promise((r) => child.on('exit', r));
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const f = await dd.conn.event(stream, deadline - Date.now());
      for (const r of records(unb64(f.kv.data))) if (Number(r.readBigUInt64LE(0) >> 32n) === pid) return;
    }
    throw new Error('no uprobe event from /bin/true');
  }

  it('attaches a uprobe through the PMU and sees it fire', async (t) => {
    const hello = await d.conn.ok('hello', { proto: 1 });
    if (hello.kv.uprobe !== 'pmu') {
      t.skip('no uprobe PMU');
      return;
    }
    const rig = await uprobeRig(d);
    const a = await d.conn.ok('attach_uprobe', { prog: rig.prog, path: '/bin/true', offset: elfEntryOffset('/bin/true') });
    assert.equal(a.kv.via, 'pmu');
    await runTrueAndSee(d, rig.stream);
    await d.conn.ok('close', { h: a.kv.h });
    for (const h of [rig.stream, rig.prog, rig.rb]) await d.conn.ok('close', { h });
  });

  it('attaches a uprobe through tracefs (BPFD_NO_PMU=1) and removes it on close', async () => {
    const nd = startBpfd({ BPFD_NO_PMU: '1' });
    try {
      const hello = await nd.conn.ok('hello', { proto: 1 });
      assert.equal(hello.kv.uprobe, 'tracefs');
      const tracefs = pctDecode(hello.kv.tracefs);
      const rig = await uprobeRig(nd);
      const a = await nd.conn.ok('attach_uprobe', { prog: rig.prog, path: '/bin/true', offset: elfEntryOffset('/bin/true') });
      assert.equal(a.kv.via, 'tracefs');
      const probe = `bpfd_${nd.proc.pid}_`;
      assert.ok(fs.readFileSync(`${tracefs}/uprobe_events`, 'utf8').includes(probe));
      await runTrueAndSee(nd, rig.stream);
      await nd.conn.ok('close', { h: a.kv.h });
      assert.ok(!fs.readFileSync(`${tracefs}/uprobe_events`, 'utf8').includes(probe));
      const bad = await nd.conn.call('attach_uprobe', { prog: rig.prog, path: 'relative', offset: 0 });
      assert.equal(bad.errname, 'EINVAL');
    } finally {
      await nd.stop();
    }
  });

  it('streams the trace pipe', async () => {
    const c = d.conn;
    // "bpfd-tp\0" on the stack, then bpf_trace_printk(fmt, 8)
    const fmt = Buffer.from('bpfd-tp\0', 'latin1').readBigUInt64LE(0);
    const prog = insns([
      ...BPF.ldImm64(1, fmt),
      BPF.stxDw(10, 1, -8),
      BPF.movReg(1, 10),
      BPF.addImm(1, -8),
      BPF.movImm(2, 8),
      BPF.call(HELPER_TRACE_PRINTK),
      BPF.movImm(0, 0),
      BPF.exit(),
    ]);
    const p = await c.ok('prog_load', { type: PROG_TYPE_TRACEPOINT, insns: b64(prog), license: 'GPL' });
    const s = Number((await c.ok('trace_pipe_open')).kv.h);
    const a = await c.ok('attach_tracepoint', { prog: p.kv.h, category: 'syscalls', name: 'sys_enter_openat' });
    const timer = setInterval(touch, 20);
    try {
      const deadline = Date.now() + 10000;
      let found = false;
      while (!found && Date.now() < deadline) {
        const f = await c.event(s, deadline - Date.now());
        for (const r of records(unb64(f.kv.data))) {
          assert.ok(!r.includes(0x0a), 'records are lines without the newline');
          if (r.toString().includes('bpfd-tp')) found = true;
        }
      }
      assert.ok(found);
    } finally {
      clearInterval(timer);
    }
    await c.ok('close', { h: a.kv.h });
    await c.ok('close', { h: s });
    await c.ok('close', { h: p.kv.h });
  });
});
