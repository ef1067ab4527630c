import assert from 'node:assert/strict';
import {describe, it} from 'node:test';

import {MapFlags, MapType, ObjectError, findMap, parseObject, resizeMap} from '../../src/object/index.js';
import {compileFixture} from '../fixtures/fixtures.js';

describe('map specs', () => {
  it('reads every BTF-defined map kind the tools use', async () => {
    const spec = parseObject(await compileFixture('maps.bpf.c'));
    const btf = spec.btf!;
    const pick = (name: string) => {
      const m = findMap(spec, name);
      return {type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, kind: m.kind};
    };
    assert.deepEqual(pick('hash_map'), {type: MapType.HASH, keySize: 16, valueSize: 8, maxEntries: 10240, flags: 0, kind: 'btf-map'});
    assert.deepEqual(pick('array_map'), {type: MapType.ARRAY, keySize: 4, valueSize: 20, maxEntries: 16, flags: 0, kind: 'btf-map'});
    assert.deepEqual(pick('percpu_hash'), {type: MapType.PERCPU_HASH, keySize: 4, valueSize: 8, maxEntries: 128, flags: MapFlags.NO_PREALLOC, kind: 'btf-map'});
    assert.deepEqual(pick('percpu_array'), {type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 20, maxEntries: 1, flags: 0, kind: 'btf-map'});
    assert.deepEqual(pick('ringbuf'), {type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 256 * 1024, flags: 0, kind: 'btf-map'});
    // max_entries 0: the loader sizes it by the target's CPU count.
    assert.deepEqual(pick('perf_events'), {type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 0, flags: 0, kind: 'btf-map'});
    assert.deepEqual(pick('stacks'), {type: MapType.STACK_TRACE, keySize: 4, valueSize: 127 * 8, maxEntries: 1024, flags: 0, kind: 'btf-map'});
    assert.deepEqual(pick('lru'), {type: MapType.LRU_HASH, keySize: 4, valueSize: 4, maxEntries: 64, flags: 0, kind: 'btf-map'});

    const hash = findMap(spec, 'hash_map');
    assert.equal(btf.describe(hash.btfKeyTypeId!), 'struct key_t');
    assert.equal(btf.describe(hash.btfValueTypeId!), '__u64');
    assert.equal(findMap(spec, 'stacks').btfKeyTypeId, undefined, 'key_size without a type gives no BTF id');

    const outer = findMap(spec, 'outer');
    assert.equal(outer.type, MapType.HASH_OF_MAPS);
    assert.equal(outer.valueSize, 4);
    assert.ok(outer.inner);
    assert.deepEqual(
      {type: outer.inner.type, keySize: outer.inner.keySize, valueSize: outer.inner.valueSize, maxEntries: outer.inner.maxEntries},
      {type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4},
    );
  });

  it('relocates each map reference to its map', async () => {
    const spec = parseObject(await compileFixture('maps.bpf.c'));
    const prog = spec.programs.find((p) => p.name === 'use_maps')!;
    const used = new Set(prog.mapRelocations.map((r) => r.mapName));
    for (const m of ['hash_map', 'array_map', 'percpu_hash', 'percpu_array', 'ringbuf', 'perf_events', 'stacks', 'lru', 'outer']) {
      assert.ok(used.has(m), `program references ${m}`);
    }
    assert.ok(prog.mapRelocations.every((r) => r.kind === 'fd' && r.offset === 0));
    assert.equal(spec.license, 'Dual BSD/GPL');
  });

  it('resizes BTF maps and refuses bad sizes', async () => {
    const spec = parseObject(await compileFixture('maps.bpf.c'));
    resizeMap(spec, 'hash_map', 4096);
    assert.equal(findMap(spec, 'hash_map').maxEntries, 4096);
    resizeMap(spec, 'ringbuf', 1 << 20);
    assert.equal(findMap(spec, 'ringbuf').maxEntries, 1 << 20);
    assert.throws(() => resizeMap(spec, 'ringbuf', 5000), /power of two/);
    assert.throws(() => resizeMap(spec, 'hash_map', 0), /positive/);
    assert.throws(() => resizeMap(spec, 'nope', 1), (e: unknown) => e instanceof ObjectError && /no map of that name.*hash_map/.test(e.message));
  });
});
