import assert from 'node:assert/strict';
import {after, before, describe, it} from 'node:test';
import {b64, type Bpfd, startBpfd, u32} from './rawline.js';

const MAP_ARRAY = 2;

describe('bpfd map_freeze', () => {
  let d: Bpfd;
  before(() => {
    d = startBpfd();
  });
  after(async () => {
    await d.stop();
  });

  it('makes a map read-only to the host but keeps its contents', async () => {
    const h = (await d.conn.ok('map_create', {type: MAP_ARRAY, key: 4, value: 4, max: 1})).kv.h!;
    await d.conn.ok('map_update', {h, key: b64(u32(0)), value: b64(u32(42))});
    await d.conn.ok('map_freeze', {h});
    const denied = await d.conn.call('map_update', {h, key: b64(u32(0)), value: b64(u32(7))});
    assert.equal(denied.kind, 'err');
    assert.match(denied.raw, /^err \d+ EPERM 1 /);
    const v = await d.conn.ok('map_lookup', {h, key: b64(u32(0))});
    assert.equal(Buffer.from(v.kv.value!, 'base64').readUInt32LE(0), 42);
  });

  it('refuses a handle that is not a map', async () => {
    const f = await d.conn.call('map_freeze', {h: 999});
    assert.equal(f.kind, 'err');
    assert.match(f.raw, / EBADF /);
  });
});
