import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { b64, Bpfd, Frame, pctDecode, pctEncode, startBpfd, unb64 } from './rawline.js';

describe('bpfd robustness and file operations', () => {
  let d: Bpfd;
  let nextRaw = 1000000;
  before(() => {
    d = startBpfd();
  });
  after(async () => {
    await d.stop();
  });

  /** Sends raw bytes, then a hello with a fresh ID; returns every frame before its reply. */
  async function afterGarbage(bytes: string | Buffer, timeoutMs = 10000): Promise<Frame[]> {
    d.conn.takeAll();
    const id = nextRaw++;
    d.conn.write(bytes);
    d.conn.write(`\n${id} hello proto=1\n`);
    const f = await d.conn.reply(id, timeoutMs);
    assert.equal(f.kind, 'ok', 'bpfd still answers after the bad input');
    return d.conn.takeAll();
  }

  async function expectErr(line: string, errname: string, msg?: RegExp): Promise<Frame> {
    const id = nextRaw++;
    d.conn.write(`${id} ${line}\n`);
    const f = await d.conn.reply(id);
    assert.equal(f.kind, 'err', `${line} → ${f.raw}`);
    assert.equal(f.errname, errname, `${line} → ${f.raw}`);
    assert.ok(f.kv.msg !== undefined, 'err frames carry msg');
    if (msg) assert.match(pctDecode(f.kv.msg), msg);
    return f;
  }

  it('answers garbage with err 0 and keeps serving', async () => {
    const frames = await afterGarbage('this is not a request\n\x01\x02\x03\n-5 hello\n');
    assert.equal(frames.length, 3);
    frames.forEach((f, i) => {
      assert.equal(f.kind, 'err');
      assert.equal(f.id, 0);
      assert.equal(f.errname, 'EINVAL');
      assert.equal(f.kv.line, String(i + 1), 'line= numbers the request line');
    });
  });

  it('survives random binary bytes, NUL bytes included', async () => {
    for (let i = 0; i < 20; i++) {
      const junk = randomBytes(4096);
      junk[100] = 0;
      const frames = await afterGarbage(junk);
      for (const f of frames) assert.equal(f.kind, 'err', f.raw);
    }
    const frames = await afterGarbage(Buffer.from('7 hel\0lo proto=1\n8 read path=/proc/ver%00sion\n'));
    assert.equal(frames.length, 2);
    assert.equal(frames[0].errname, 'ENOSYS');
    assert.equal(frames[1].errname, 'EINVAL');
  });

  it('rejects malformed arguments naming the key', async () => {
    await expectErr('bogus_op x=1', 'ENOSYS', /unknown operation/);
    await expectErr('hello', 'EINVAL', /missing key 'proto'/);
    await expectErr('hello proto=1 proto=1', 'EINVAL', /repeated key 'proto'/);
    await expectErr('hello proto=1 typo=3', 'EINVAL', /unknown key 'typo'/);
    await expectErr('hello proto', 'EINVAL', /not key=value/);
    await expectErr('hello proto=abc', 'EINVAL', /bad int for key 'proto'/);
    await expectErr('hello proto=99999999999999999999999', 'ERANGE', /proto/);
    await expectErr('map_lookup h=-1 key=AAAAAA==', 'ERANGE', /'h'/);
    await expectErr('map_lookup h=3 key=AAAA%', 'EINVAL', /base64 in key 'key'/);
    await expectErr('map_lookup h=3 key=AAA', 'EINVAL', /base64/);
    await expectErr('map_lookup h=3 key=A===', 'EINVAL', /base64/);
    await expectErr('map_lookup h=3 key=AA=A', 'EINVAL', /base64/);
    await expectErr('read path=%zz', 'EINVAL', /percent/);
    await expectErr('map_lookup h=1 key=AAAAAA==', 'EBADF', /not owned/);
    await expectErr('map_lookup h=999999 key=AAAAAA==', 'EBADF', /not owned/);
    await expectErr('close h=0', 'EBADF');
    await expectErr('prog_load type=1 insns= license=GPL', 'EINVAL', /insns/);
  });

  it('rejects handles of the wrong kind', async () => {
    const id = nextRaw++;
    d.conn.write(`${id} map_create type=1 key=4 value=4 max=1\n`);
    const m = await d.conn.reply(id);
    assert.equal(m.kind, 'ok');
    await expectErr(`attach_tracepoint prog=${m.kv.h} category=syscalls name=sys_enter_openat`, 'EBADF', /is a map, not a prog/);
    await expectErr(`map_dump h=${m.kv.h} delete=2`, 'ERANGE', /delete/);
    await d.conn.ok('close', { h: m.kv.h });
    await expectErr(`close h=${m.kv.h}`, 'EBADF');
  });

  it('answers a line over 64 MiB with E2BIG and keeps serving', { timeout: 60000 }, async () => {
    const big = Buffer.alloc(64 * 1024 * 1024 + 100, 'A');
    big.write('5 map_lookup h=3 key=', 0);
    const frames = await afterGarbage(big, 30000);
    assert.equal(frames.length, 1);
    assert.equal(frames[0].id, 0);
    assert.equal(frames[0].errname, 'E2BIG');
    assert.equal(frames[0].errno, 7);
    assert.equal(pctDecode(frames[0].kv.msg), 'line too long');
  });

  it('accepts a large line under the limit', { timeout: 30000 }, async () => {
    // 8 MiB of base64: decoded in full, then the handle check fails
    const f = await expectErr(`map_lookup h=999 key=${b64(Buffer.alloc(6 * 1024 * 1024))}`, 'EBADF');
    assert.ok(f);
  });

  it('ignores empty lines and CRLF endings', async () => {
    const id = nextRaw++;
    d.conn.write(`\n\n   \r\n${id} hello proto=1\r\n`);
    const f = await d.conn.reply(id);
    assert.equal(f.kind, 'ok');
    assert.deepEqual(d.conn.takeAll(), []);
  });

  it('reads its own /proc/self/status', async () => {
    const f = await d.conn.ok('read', { path: '/proc/self/status' });
    assert.equal(f.kv.eof, '1');
    const text = unb64(f.kv.data).toString('utf8');
    const name = text.match(/^Name:\s+(\S+)/m)?.[1] ?? '';
    assert.match(name, /^bpfd/);
    assert.match(text, new RegExp(`^Pid:\\s+${d.proc.pid}$`, 'm'));
  });

  it('reads with offset and len', async () => {
    const all = unb64((await d.conn.ok('read', { path: '/proc/version' })).kv.data);
    const part = await d.conn.ok('read', { path: '/proc/version', offset: 4, len: 5 });
    assert.equal(part.kv.eof, '0');
    assert.deepEqual(unb64(part.kv.data), all.subarray(4, 9));
    const tail = await d.conn.ok('read', { path: '/proc/version', offset: all.length - 3 });
    assert.equal(tail.kv.eof, '1');
    assert.deepEqual(unb64(tail.kv.data), all.subarray(all.length - 3));
    // a regular file that ends exactly at len
    const os = unb64((await d.conn.ok('read', { path: '/etc/hostname' })).kv.data);
    const exact = await d.conn.ok('read', { path: '/etc/hostname', len: os.length });
    assert.equal(exact.kv.eof, '1');
    await expectErr('read path=/etc/hostname len=16777217', 'ERANGE');
    await expectErr('read path=relative/path', 'EINVAL', /absolute/);
    await expectErr('read path=/proc/../etc/passwd', 'EINVAL', /\.\./);
    await expectErr('read path=/nonexistent/file', 'ENOENT', /No such file/);
    await expectErr('read path=/proc', 'EISDIR');
  });

  it('lists directories and reads links', async () => {
    const f = await d.conn.ok('list', { path: '/proc/self' });
    const entries = f.kv.entries.split(',').map(pctDecode);
    assert.ok(entries.includes('f:status'), entries.join(' '));
    assert.ok(entries.includes('l:exe'));
    assert.ok(entries.includes('d:fd'));
    const dev = (await d.conn.ok('list', { path: '/dev' })).kv.entries.split(',').map(pctDecode);
    assert.ok(dev.includes('o:null'));
    const l = await d.conn.ok('readlink', { path: `/proc/${d.proc.pid}/exe` });
    assert.match(pctDecode(l.kv.target), /\/bpfd-[a-z0-9_]+$/);
    await expectErr('readlink path=/proc/version', 'EINVAL');
    await expectErr('list path=/proc/version', 'ENOTDIR');
    await expectErr(`list path=${pctEncode('/a b/..')}`, 'EINVAL');
  });

  it('is still the same process after all of it', async () => {
    assert.equal(d.proc.exitCode, null);
    const f = await d.conn.ok('hello', { proto: 1 });
    assert.equal(f.kv.proto, '1');
  });
});
