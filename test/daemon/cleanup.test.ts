import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { b64, BPF, bpfdPath, elfEntryOffset, insns, readFileOr, tag } from './rawline.js';

function bpftoolNames(what: 'map' | 'prog'): string[] {
  const out = execFileSync('bpftool', ['-j', what, 'show'], { encoding: 'utf8' });
  return (JSON.parse(out || '[]') as { name?: string }[]).map((x) => x.name ?? '');
}

/** Alive and not a zombie. */
function running(pid: number): boolean {
  const stat = readFileOr(`/proc/${pid}/stat`, '');
  if (!stat) return false;
  return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return cond();
}

// The holder is its own node process: it drives bpfd over stdio, creates a
// map, a program using it on a tracepoint, a ring buffer stream and a tracefs
// uprobe, prints "ready PID ...", then idles until it is killed.
const holder = `
const { spawn } = require('child_process');
const [bin, mapName, progName, upInsns, upPath, upOff] = process.argv.slice(1);
// ld_imm64 r1, map handle (BPF_PSEUDO_MAP_FD); r0 = 0; exit
const usesMap = (h) => {
  const b = Buffer.alloc(32);
  b[0] = 0x18; b[1] = 0x11; b.writeInt32LE(Number(h), 4); b[16] = 0xb7; b[24] = 0x95;
  return b.toString('base64');
};
const b = spawn(bin, [], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, BPFD_NO_PMU: '1' } });
let buf = '';
const waiters = [];
b.stdout.setEncoding('latin1');
b.stdout.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 1); waiters.shift()(l); }
});
let id = 0;
const call = (s) => new Promise((r) => { waiters.push(r); b.stdin.write(++id + ' ' + s + '\\n'); });
const h = (l) => { const m = / h=(\\d+)/.exec(l); if (!m) { console.log('fail ' + l); process.exit(1); } return m[1]; };
(async () => {
  await call('hello proto=1');
  const map = h(await call('map_create type=1 key=4 value=8 max=64 name=' + mapName));
  const prog = h(await call('prog_load type=5 license=GPL name=' + progName + ' insns=' + usesMap(map)));
  h(await call('attach_tracepoint prog=' + prog + ' category=syscalls name=sys_enter_openat'));
  const rb = h(await call('map_create type=27 key=0 value=0 max=4096'));
  h(await call('ringbuf_open map=' + rb));
  const up = h(await call('prog_load type=2 license=GPL insns=' + upInsns));
  const att = await call('attach_uprobe prog=' + up + ' path=' + upPath + ' offset=' + upOff);
  h(att);
  console.log('ready ' + b.pid + ' ' + att);
  setInterval(() => {}, 1000);
})();
`;

describe('bpfd cleanup when the host dies', () => {
  it('frees maps, programs, attachments and tracefs probes after SIGKILL of the host', { timeout: 30000 }, async () => {
    const mapName = tag('kcm');
    const progName = tag('kcp');
    const upInsns = b64(insns([BPF.movImm(0, 0), BPF.exit()]));
    const upPath = '/bin/true';
    const upOff = elfEntryOffset(upPath);
    const child = spawn(process.execPath, ['-e', holder, bpfdPath(), mapName, progName, upInsns, upPath, String(upOff)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.setEncoding('utf8');
    const ready = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (d: string) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve(out.slice(0, nl));
      });
      child.on('exit', () => reject(new Error(`holder exited: ${out}`)));
    });
    assert.match(ready, /^ready \d+ ok \d+ h=\d+ via=tracefs$/);
    const pid = Number(ready.split(' ')[1]);
    assert.ok(running(pid));
    assert.ok(bpftoolNames('map').includes(mapName));
    assert.ok(bpftoolNames('prog').includes(progName));
    const probe = `bpfd_${pid}_`;
    const uprobeEvents = '/sys/kernel/tracing/uprobe_events';
    assert.ok(readFileOr(uprobeEvents, '').includes(probe));

    child.kill('SIGKILL');
    assert.ok(await waitFor(() => !running(pid), 2000), 'bpfd exits within 2 s of its host');
    assert.ok(await waitFor(() => !bpftoolNames('map').includes(mapName), 2000), 'map freed');
    assert.ok(await waitFor(() => !bpftoolNames('prog').includes(progName), 2000), 'prog freed');
    assert.ok(!readFileOr(uprobeEvents, '').includes(probe), 'tracefs uprobe removed');
  });
});
