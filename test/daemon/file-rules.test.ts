// The file operations' rules from docs/protocol.md, pushed at their edges:
// no relative paths and no `..` component however it is spelled, no NUL
// inside a path, reads capped at `len` (1 MiB by default, 16 MiB at most),
// and a read that would wait (a FIFO with no writer) answers at once.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Bpfd, pctDecode, startBpfd, unb64 } from './rawline.js';

describe('bpfd file rules', () => {
  let d: Bpfd;
  let dir: string;
  let nextId = 5_000_000;

  before(() => {
    d = startBpfd();
    dir = mkdtempSync(join(tmpdir(), 'bpfd-files-'));
    writeFileSync(join(dir, 'plain'), 'plain\n');
  });
  after(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends a raw request line; returns the reply frame. */
  async function raw(line: string, timeoutMs = 10000) {
    const id = nextId++;
    d.conn.write(`${id} ${line}\n`);
    return d.conn.reply(id, timeoutMs);
  }

  async function refused(line: string, errname: string, msg: RegExp) {
    const f = await raw(line);
    assert.equal(f.kind, 'err', `${line} → ${f.raw}`);
    assert.equal(f.errname, errname, `${line} → ${f.raw}`);
    assert.match(pctDecode(f.kv.msg), msg, `${line} → ${f.raw}`);
  }

  it('refuses a `..` component in every spelling, in read, list and readlink', async () => {
    const dotdot = /must not contain a '\.\.' component/;
    for (const op of ['read', 'list', 'readlink']) {
      await refused(`${op} path=/etc/..`, 'EINVAL', dotdot);
      await refused(`${op} path=/..`, 'EINVAL', dotdot);
      await refused(`${op} path=//etc//..//etc/passwd`, 'EINVAL', dotdot);
      // Percent-encoded dots are decoded before the check.
      await refused(`${op} path=/proc/%2E%2E/etc/passwd`, 'EINVAL', dotdot);
      await refused(`${op} path=/proc/.%2e/`, 'EINVAL', dotdot);
      await refused(`${op} path=etc/passwd`, 'EINVAL', /must be absolute/);
      await refused(`${op} path=%2Fetc/../passwd`, 'EINVAL', dotdot);
    }
    // Names that only look like it are ordinary names.
    writeFileSync(join(dir, '...'), 'three dots\n');
    writeFileSync(join(dir, '..x'), 'dots and x\n');
    assert.equal(unb64((await d.conn.ok('read', { path: `${dir}/...` })).kv.data).toString(), 'three dots\n');
    assert.equal(unb64((await d.conn.ok('read', { path: `${dir}/..x` })).kv.data).toString(), 'dots and x\n');
  });

  it('refuses a NUL inside a path instead of cutting the path there', async () => {
    // Cut at the NUL, this would name a file that exists.
    await refused(`read path=${dir}/plain%00/../../etc/shadow`, 'EINVAL', /'path' contains a NUL byte/);
    await refused(`read path=${dir}/plain%00`, 'EINVAL', /'path' contains a NUL byte/);
    await refused('list path=/%00', 'EINVAL', /'path' contains a NUL byte/);
    await refused(`readlink path=${dir}/plain%00`, 'EINVAL', /'path' contains a NUL byte/);
  });

  it('caps reads: 1 MiB by default, `len` up to 16 MiB, beyond that ERANGE', async () => {
    const def = await d.conn.ok('read', { path: '/dev/zero' });
    assert.equal(unb64(def.kv.data).length, 1 << 20);
    assert.equal(def.kv.eof, '0');
    const max = await d.conn.ok('read', { path: '/dev/zero', len: 16 << 20 }, 30000);
    assert.equal(unb64(max.kv.data).length, 16 << 20);
    await refused(`read path=/dev/zero len=${(16 << 20) + 1}`, 'ERANGE', /len/);
    await refused('read path=/dev/zero len=99999999999999999999', 'ERANGE', /len/);
    await refused('read path=/dev/zero len=-1', 'ERANGE', /len/);
    await refused(`read path=${dir}/plain offset=-1`, 'ERANGE', /offset/);
    // A small file is read to its end and no further.
    const small = await d.conn.ok('read', { path: `${dir}/plain`, len: 16 << 20 });
    assert.equal(unb64(small.kv.data).toString(), 'plain\n');
    assert.equal(small.kv.eof, '1');
  });

  it('answers a read of a FIFO nobody writes to at once, and keeps serving', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    const f = await raw(`read path=${fifo}`, 3000);
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    // No writer: an empty read, or ENXIO-like refusal; never a hang.
    if (f.kind === 'ok') assert.equal(unb64(f.kv.data).length, 0);
    assert.equal((await d.conn.ok('hello', { proto: 1 })).kind, 'ok');
  });

  it('follows a symlink only as the kernel resolves it: the `..` rule is about the request text', async () => {
    // Documented scope: bpfd checks the path it is given, and runs as root on
    // the target; a link is read like any file (the host reads /proc/PID/exe).
    symlinkSync('/etc/hostname', join(dir, 'link'));
    const viaLink = unb64((await d.conn.ok('read', { path: join(dir, 'link') })).kv.data);
    const direct = unb64((await d.conn.ok('read', { path: '/etc/hostname' })).kv.data);
    assert.deepEqual(viaLink, direct);
    assert.equal(pctDecode((await d.conn.ok('readlink', { path: join(dir, 'link') })).kv.target), '/etc/hostname');
  });
});
