import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { bpfdPath, LineConn, pctDecode } from './rawline.js';

interface Listener {
  proc: ChildProcess;
  addr: string;
  exited: Promise<number | null>;
  stderr: () => string;
}

/** Starts bpfd --listen and waits for its "listening on" line. */
function listen(args: string[]): Promise<Listener> {
  const proc = spawn(bpfdPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      err += d;
      const m = err.match(/listening on (\S+)/);
      if (m) resolve({ proc, addr: m[1], exited, stderr: () => err });
    });
    exited.then((code) => reject(new Error(`bpfd exited ${code}: ${err}`)));
  });
}

function connectTcp(addr: string): Promise<{ sock: net.Socket; conn: LineConn }> {
  const i = addr.lastIndexOf(':');
  return connect({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)) });
}

function connect(opts: net.NetConnectOpts): Promise<{ sock: net.Socket; conn: LineConn }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(opts, () => resolve({ sock, conn: new LineConn(sock, sock) }));
    sock.once('error', reject);
  });
}

describe('bpfd --listen', () => {
  const procs: ChildProcess[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfd-test-'));
  after(() => {
    for (const p of procs) p.kill('SIGTERM');
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('prints its version', async () => {
    const p = spawn(bpfdPath(), ['--version'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((r) => p.on('exit', r));
    assert.equal(code, 0);
    assert.equal(out, 'bpfd 0.1.0 protocol 1\n');
  });

  it('serves tcp clients one after another on loopback', async () => {
    const l = await listen(['--listen', '127.0.0.1:0']);
    procs.push(l.proc);
    assert.match(l.addr, /^127\.0\.0\.1:\d+$/);
    for (let round = 0; round < 2; round++) {
      const { sock, conn } = await connectTcp(l.addr);
      const f = await conn.ok('hello', { proto: 1 });
      assert.equal(f.kv.proto, '1');
      const m = await conn.ok('map_create', { type: 1, key: 4, value: 4, max: 1 });
      assert.ok(Number(m.kv.h) > 0);
      await conn.ok('quit');
      await conn.endedP;
      sock.destroy();
    }
    // PORT alone means loopback
    const l2 = await listen(['--listen', '0']);
    procs.push(l2.proc);
    assert.match(l2.addr, /^127\.0\.0\.1:\d+$/);
  });

  it('requires auth when a token file is given', async () => {
    const tokenFile = path.join(tmp, 'token');
    fs.writeFileSync(tokenFile, 's3cret-token\n');
    const l = await listen(['--listen', '127.0.0.1:0', '--token-file', tokenFile]);
    procs.push(l.proc);

    // a request before auth
    let c = await connectTcp(l.addr);
    let f = await c.conn.call('hello', { proto: 1 });
    assert.equal(f.kind, 'err');
    assert.equal(f.errname, 'EACCES');
    assert.equal(f.errno, 13);
    await c.conn.endedP;
    c.sock.destroy();

    // a wrong token
    c = await connectTcp(l.addr);
    f = await c.conn.call('auth', { token: 'wrong' });
    assert.equal(f.errname, 'EACCES');
    assert.match(pctDecode(f.kv.msg), /token/);
    await c.conn.endedP;
    c.sock.destroy();

    // garbage first
    c = await connectTcp(l.addr);
    c.conn.write('\x00\x01garbage\n');
    f = await c.conn.wait((x) => x.kind === 'err');
    assert.equal(f.errname, 'EACCES');
    await c.conn.endedP;
    c.sock.destroy();

    // the right token
    c = await connectTcp(l.addr);
    await c.conn.ok('auth', { token: 's3cret-token' });
    f = await c.conn.ok('hello', { proto: 1 });
    assert.equal(f.kv.proto, '1');
    await c.conn.ok('quit');
    await c.conn.endedP;
    c.sock.destroy();
  });

  it('refuses a non-loopback address without a token file', async () => {
    const p = spawn(bpfdPath(), ['--listen', '0.0.0.0:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise((r) => p.on('exit', r));
    assert.equal(code, 2);
    assert.match(err, /token-file/);
  });

  it('listens on a unix socket', async () => {
    const sockPath = path.join(tmp, 'bpfd.sock');
    const l = await listen(['--listen', `unix:${sockPath}`]);
    procs.push(l.proc);
    const c = await connect({ path: sockPath });
    const f = await c.conn.ok('hello', { proto: 1 });
    assert.equal(f.kv.proto, '1');
    c.sock.end();
    await c.conn.endedP;
    l.proc.kill('SIGTERM');
    assert.equal(await l.exited, 0);
    assert.equal(fs.existsSync(sockPath), false);
  });
});
