import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { b64, Bpfd, pctDecode, startBpfd, tag, u32, u64, unb64 } from './rawline.js';

function cpuCount(list: string): number {
  let n = 0;
  for (const part of list.trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += (b ?? a) - a + 1;
  }
  return n;
}

const MAP_HASH = 1;
const MAP_ARRAY = 2;
const MAP_PERCPU_HASH = 5;
const MAP_LPM_TRIE = 11;
const MAP_DEVMAP = 14;
const F_NO_PREALLOC = 1;

describe('bpfd hello and maps', () => {
  let d: Bpfd;
  before(() => {
    d = startBpfd();
  });
  after(async () => {
    await d.stop();
  });

  it('hello reports the target', async () => {
    const f = await d.conn.ok('hello', { proto: 1 });
    const kv = f.kv;
    assert.equal(kv.proto, '1');
    assert.equal(kv.bpfd, '0.1.0');
    assert.equal(kv.machine, execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim());
    assert.equal(kv.release, os.release());
    assert.equal(Number(kv.page_size), 4096);
    const possible = fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    assert.equal(pctDecode(kv.cpus_possible), possible);
    assert.equal(Number(kv.ncpus), cpuCount(possible));
    assert.ok(Number(kv.ncpus) >= os.cpus().length);
    assert.equal(kv.uid, String(process.getuid!()));
    assert.equal(kv.btf, '1');
    assert.equal(Number(kv.btf_size), fs.statSync('/sys/kernel/btf/vmlinux').size);
    assert.match(pctDecode(kv.tracefs), /^\/sys\/kernel(\/debug)?\/tracing$/);
    assert.equal(kv.boot_id, fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    assert.equal(kv.ringbuf, '1');
    assert.equal(kv.batch, '1');
    assert.match(kv.kprobe, /^(pmu|tracefs|none)$/);
    assert.match(kv.uprobe, /^(pmu|tracefs|none)$/);
    assert.equal(kv.link, '1');
    const uprobePmu = fs.existsSync('/sys/bus/event_source/devices/uprobe/type');
    if (uprobePmu) assert.equal(kv.uprobe, 'pmu');
  });

  it('hello with another protocol version is EPROTO', async () => {
    const f = await d.conn.call('hello', { proto: 2 });
    assert.equal(f.kind, 'err');
    assert.equal(f.errname, 'EPROTO');
    assert.equal(f.kv.proto, '1');
  });

  it('creates, updates, looks up, iterates and deletes', async () => {
    const c = d.conn;
    const m = Number((await c.ok('map_create', { type: MAP_HASH, key: 4, value: 8, max: 16, name: tag('km') })).kv.h);
    assert.ok(m > 0);
    await c.ok('map_update', { h: m, key: b64(u32(1)), value: b64(u64(42n)) });
    await c.ok('map_update', { h: m, key: b64(u32(2)), value: b64(u64(43n)) });
    const v = await c.ok('map_lookup', { h: m, key: b64(u32(1)) });
    assert.equal(unb64(v.kv.value).readBigUInt64LE(), 42n);

    const k1 = await c.ok('map_next', { h: m });
    const k2 = await c.ok('map_next', { h: m, key: k1.kv.key });
    const seen = [unb64(k1.kv.key).readUInt32LE(), unb64(k2.kv.key).readUInt32LE()].sort();
    assert.deepEqual(seen, [1, 2]);
    const k3 = await c.call('map_next', { h: m, key: k2.kv.key });
    assert.equal(k3.kind, 'err');
    assert.equal(k3.errname, 'ENOENT');

    await c.ok('map_delete', { h: m, key: b64(u32(1)) });
    const gone = await c.call('map_lookup', { h: m, key: b64(u32(1)) });
    assert.equal(gone.kind, 'err');
    assert.equal(gone.errname, 'ENOENT');
    assert.equal(gone.errno, 2);
    assert.match(pctDecode(gone.kv.msg), /BPF_MAP_LOOKUP_ELEM.*No such file or directory/);

    // wrong key size, flags that the kernel rejects
    const bad = await c.call('map_lookup', { h: m, key: b64(Buffer.alloc(3)) });
    assert.equal(bad.errname, 'EINVAL');
    const noex = await c.call('map_update', { h: m, key: b64(u32(2)), value: b64(u64(1n)), flags: 1 /* NOEXIST */ });
    assert.equal(noex.errname, 'EEXIST');
    await c.ok('close', { h: m });
    const closed = await c.call('map_lookup', { h: m, key: b64(u32(2)) });
    assert.equal(closed.errname, 'EBADF');
  });

  it('sizes per-CPU values by ncpus', async () => {
    const c = d.conn;
    const ncpus = cpuCount(fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
    const m = Number((await c.ok('map_create', { type: MAP_PERCPU_HASH, key: 4, value: 4, max: 4 })).kv.h);
    const val = Buffer.alloc(8 * ncpus);
    for (let i = 0; i < ncpus; i++) val.writeUInt32LE(100 + i, i * 8);
    await c.ok('map_update', { h: m, key: b64(u32(7)), value: b64(val) });
    const got = unb64((await c.ok('map_lookup', { h: m, key: b64(u32(7)) })).kv.value);
    assert.deepEqual(got, val);
    const dump = await c.ok('map_dump', { h: m });
    assert.equal(dump.kv.n, '1');
    assert.deepEqual(unb64(dump.kv.values), val);
    const short = await c.call('map_update', { h: m, key: b64(u32(7)), value: b64(Buffer.alloc(4)) });
    assert.equal(short.errname, 'EINVAL');
    await c.ok('close', { h: m });
  });

  async function fill(dd: Bpfd, n: number): Promise<number> {
    const c = dd.conn;
    const m = Number((await c.ok('map_create', { type: MAP_HASH, key: 4, value: 8, max: n, name: tag('kd') })).kv.h);
    // pipelined: every update goes out before any reply is read
    let last = 0;
    for (let i = 0; i < n; i++) last = c.send('map_update', { h: m, key: b64(u32(i)), value: b64(u64(BigInt(i) * 3n)) });
    const f = await c.reply(last, 60000);
    assert.equal(f.kind, 'ok');
    const stray = c.takeAll().filter((x) => x.kind !== 'ok');
    assert.deepEqual(stray, []);
    return m;
  }

  function checkDump(f: { kv: Record<string, string> }, n: number): void {
    assert.equal(Number(f.kv.n), n);
    const keys = unb64(f.kv.keys);
    const vals = unb64(f.kv.values);
    assert.equal(keys.length, 4 * n);
    assert.equal(vals.length, 8 * n);
    const seen = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const k = keys.readUInt32LE(i * 4);
      assert.ok(k < n);
      assert.equal(seen[k], 0);
      seen[k] = 1;
      assert.equal(vals.readBigUInt64LE(i * 8), BigInt(k) * 3n);
    }
  }

  it('dumps 100k hash entries in one batched request', { timeout: 60000 }, async () => {
    const N = 100000;
    const m = await fill(d, N);
    const f = await d.conn.ok('map_dump', { h: m }, 30000);
    assert.equal(f.kv.batch, '1');
    checkDump(f, N);
    // max bounds the reply
    // (batches end on hash bucket boundaries, so it may be a few less)
    const part = await d.conn.ok('map_dump', { h: m, max: 1000 });
    assert.ok(Number(part.kv.n) <= 1000 && Number(part.kv.n) > 900, part.kv.n);
    // lookup-and-delete empties the map
    const del = await d.conn.ok('map_dump', { h: m, delete: 1 }, 30000);
    assert.equal(del.kv.batch, '1');
    checkDump(del, N);
    const empty = await d.conn.ok('map_dump', { h: m });
    assert.equal(empty.kv.n, '0');
    await d.conn.ok('close', { h: m });
  });

  it('falls back to next-key/lookup when batching is off (BPFD_NO_BATCH=1)', { timeout: 60000 }, async () => {
    const nb = startBpfd({ BPFD_NO_BATCH: '1' });
    try {
      const hello = await nb.conn.ok('hello', { proto: 1 });
      assert.equal(hello.kv.batch, '0');
      const N = 100000;
      const m = await fill(nb, N);
      const f = await nb.conn.ok('map_dump', { h: m }, 30000);
      assert.equal(f.kv.batch, '0');
      checkDump(f, N);
      const del = await nb.conn.ok('map_dump', { h: m, delete: 1 }, 30000);
      assert.equal(del.kv.batch, '0');
      checkDump(del, N);
      assert.equal((await nb.conn.ok('map_dump', { h: m })).kv.n, '0');
    } finally {
      await nb.stop();
    }
  });

  it('falls back on map types without batch operations (devmap)', async () => {
    const c = d.conn;
    // a devmap has no batch operations; its values are ifindexes (1 = lo)
    const m = Number((await c.ok('map_create', { type: MAP_DEVMAP, key: 4, value: 4, max: 8 })).kv.h);
    for (const i of [0, 2, 5]) await c.ok('map_update', { h: m, key: b64(u32(i)), value: b64(u32(1)) });
    const f = await c.ok('map_dump', { h: m });
    assert.equal(f.kv.batch, '0');
    assert.equal(f.kv.n, '3');
    const keys = unb64(f.kv.keys);
    assert.deepEqual([0, 1, 2].map((i) => keys.readUInt32LE(i * 4)).sort(), [0, 2, 5]);
    assert.deepEqual(unb64(f.kv.values), Buffer.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]));
    const del = await c.ok('map_dump', { h: m, delete: 1 });
    assert.equal(del.kv.n, '3');
    assert.equal((await c.ok('map_dump', { h: m })).kv.n, '0');
    await c.ok('close', { h: m });
  });

  it('dumps an LPM trie', async () => {
    const c = d.conn;
    // key: u32 prefix length + 4 address bytes
    const m = Number(
      (await c.ok('map_create', { type: MAP_LPM_TRIE, key: 8, value: 4, max: 16, flags: F_NO_PREALLOC })).kv.h,
    );
    for (let i = 0; i < 5; i++) {
      const key = Buffer.from([32, 0, 0, 0, 10, 0, 0, i]);
      await c.ok('map_update', { h: m, key: b64(key), value: b64(u32(i + 50)) });
    }
    const f = await c.ok('map_dump', { h: m });
    assert.equal(f.kv.n, '5');
    const vals = unb64(f.kv.values);
    const got = [0, 1, 2, 3, 4].map((i) => vals.readUInt32LE(i * 4)).sort();
    assert.deepEqual(got, [50, 51, 52, 53, 54]);
    const del = await c.ok('map_dump', { h: m, delete: 1 });
    assert.equal(del.kv.n, '5');
    assert.equal((await c.ok('map_dump', { h: m })).kv.n, '0');
    await c.ok('close', { h: m });
  });

  it('dumps arrays, and refuses delete=1 on them', async () => {
    const c = d.conn;
    const m = Number((await c.ok('map_create', { type: MAP_ARRAY, key: 4, value: 4, max: 8 })).kv.h);
    await c.ok('map_update', { h: m, key: b64(u32(3)), value: b64(u32(9)) });
    const f = await c.ok('map_dump', { h: m });
    assert.equal(f.kv.n, '8');
    assert.equal(unb64(f.kv.values).readUInt32LE(12), 9);
    const del = await c.call('map_dump', { h: m, delete: 1 });
    assert.equal(del.kind, 'err');
    assert.equal(del.errname, 'EINVAL');
    assert.match(pctDecode(del.kv.msg), /array/);
    await c.ok('close', { h: m });
  });

  it('reports kernel errors by name', async () => {
    const f = await d.conn.call('map_create', { type: MAP_HASH, key: 0, value: 8, max: 1 });
    assert.equal(f.kind, 'err');
    assert.equal(f.errname, 'EINVAL');
    assert.equal(f.errno, 22);
    assert.match(pctDecode(f.kv.msg), /^bpf\(BPF_MAP_CREATE\): Invalid argument$/);
  });
});
