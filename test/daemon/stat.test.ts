// bpfd's stat operation against the file system it runs on: what it says
// matches lstat/stat here, it follows links, answers many requests sent in
// one write in order, and refuses the paths read refuses.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Bpfd, Frame, pctDecode, pctEncode, startBpfd } from './rawline.js';

describe('bpfd stat', () => {
  let d: Bpfd;
  let dir: string;
  before(() => {
    d = startBpfd();
    dir = mkdtempSync(join(tmpdir(), 'bpfd-stat-'));
  });
  after(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The reply's fields as the host's own stat would give them. */
  function expected(path: string): Record<string, string> {
    const s = statSync(path, { bigint: true });
    const type = s.isDirectory() ? 'd' : s.isFile() ? 'f' : 'o';
    // Linux dev_t: major in bits 8-19 (and 32-43), minor in bits 0-7 (and 20-31).
    const dev = s.dev;
    const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
    const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
    return {
      type,
      mode: String(s.mode & 0o7777n),
      major: String(major),
      minor: String(minor),
      ino: String(s.ino),
      size: String(s.size),
      mtime_ns: String(s.mtimeNs),
      ctime_ns: String(s.ctimeNs),
    };
  }

  it('gives type, mode, device, inode, size and nanosecond times as the host sees them', async () => {
    const f = join(dir, 'file');
    writeFileSync(f, 'twelve bytes');
    utimesSync(f, 1700000000.123456, 1700000000.123456);
    const r = await d.conn.ok('stat', { path: pctEncode(f) });
    assert.deepEqual(r.kv, expected(f));
    assert.equal(r.kv.size, '12');
    assert.equal(r.kv.type, 'f');
    // Sub-second precision survives (the file system keeps at least microseconds).
    assert.match(r.kv.mtime_ns, /^1700000000123456\d{3}$/);

    const dr = await d.conn.ok('stat', { path: pctEncode(dir) });
    assert.deepEqual(dr.kv, expected(dir));
    assert.equal(dr.kv.type, 'd');
    const dev = await d.conn.ok('stat', { path: '/dev/null' });
    assert.equal(dev.kv.type, 'o');
    assert.equal(dev.kv.size, '0');
  });

  it('follows symbolic links, and sees a rewritten file change', async () => {
    const f = join(dir, 'target');
    writeFileSync(f, 'a');
    symlinkSync(f, join(dir, 'link'));
    const viaLink = await d.conn.ok('stat', { path: pctEncode(join(dir, 'link')) });
    assert.deepEqual(viaLink.kv, expected(f));
    const before = viaLink.kv;
    writeFileSync(f, 'bb');
    // Timestamps tick coarsely (a few ms), so a rewrite right away may keep them: set one.
    utimesSync(f, 1600000000, 1600000000);
    const afterWrite = (await d.conn.ok('stat', { path: pctEncode(f) })).kv;
    assert.equal(afterWrite.ino, before.ino);
    assert.equal(afterWrite.size, '2');
    assert.equal(afterWrite.mtime_ns, '1600000000000000000');
    assert.deepEqual(afterWrite, expected(f));
  });

  it('answers a batch of requests sent in one write, in order', async () => {
    const paths = ['/proc/self/exe', '/nonexistent/file', dir, '/dev/null', join(dir, 'target')];
    d.conn.takeAll();
    const ids = paths.map((_, i) => 500 + i);
    d.conn.write(paths.map((p, i) => `${ids[i]} stat path=${pctEncode(p)}\n`).join(''));
    const frames: Frame[] = [];
    for (const id of ids) frames.push(await d.conn.reply(id));
    assert.deepEqual(frames.map((f) => f.kind), ['ok', 'err', 'ok', 'ok', 'ok']);
    assert.equal(frames[1]!.errname, 'ENOENT');
    assert.match(pctDecode(frames[1]!.kv.msg!), /^stat: No such file or directory$/);
    // /proc/self is bpfd itself: its executable is a regular file.
    assert.equal(frames[0]!.kv.type, 'f');
    assert.deepEqual(frames[4]!.kv, expected(join(dir, 'target')));
  });

  it('refuses relative paths and .. components, as read does', async () => {
    for (const [path, msg] of [
      ['relative/path', /path must be absolute/],
      [pctEncode(`${dir}/../etc`), /must not contain a '\.\.' component/],
    ] as const) {
      const r = await d.conn.call('stat', { path });
      assert.equal(r.kind, 'err', r.raw);
      assert.equal(r.errname, 'EINVAL');
      assert.match(pctDecode(r.kv.msg!), msg);
    }
    const missing = await d.conn.call('stat', {});
    assert.equal(missing.errname, 'EINVAL');
    assert.match(pctDecode(missing.kv.msg!), /path/);
  });
});
