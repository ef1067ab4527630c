import assert from 'node:assert/strict';
import {describe, it} from 'node:test';

import {
  MapFlags, MapType, ObjectError, findMap, getGlobalBytes, kernelVersionCode, parseKconfigText, parseObject,
  resizeMap, resolveKconfig, setGlobal, setGlobals,
} from '../../src/object/index.js';
import {compileFixture} from '../fixtures/fixtures.js';

describe('global data', () => {
  it('makes .rodata, .data and .bss maps with their initial contents', async () => {
    const spec = parseObject(await compileFixture('globals.bpf.c'));
    const ro = findMap(spec, '.rodata');
    assert.equal(ro.kind, 'rodata');
    assert.equal(ro.type, MapType.ARRAY);
    assert.equal(ro.maxEntries, 1);
    assert.equal(ro.keySize, 4);
    assert.equal(ro.flags, MapFlags.RDONLY_PROG);
    assert.equal(ro.initialData!.length, ro.valueSize);
    assert.ok(ro.btfValueTypeId && spec.btf!.type(ro.btfValueTypeId).kind === 'datasec');
    assert.equal(getGlobalBytes(spec, 'opt_u8').readUInt8(0), 1);
    assert.equal(getGlobalBytes(spec, 'opt_s16').readInt16LE(0), -2);
    assert.equal(getGlobalBytes(spec, 'opt_s64').readBigInt64LE(0), -5n);
    assert.equal(getGlobalBytes(spec, 'opt_mode').readUInt32LE(0), 1);
    const range = getGlobalBytes(spec, 'opt_range');
    assert.deepEqual([range.readUInt32LE(0), range.readUInt32LE(4)], [1, 100]);

    const data = findMap(spec, '.data');
    assert.equal(data.kind, 'data');
    assert.equal(data.flags, 0);
    assert.equal(getGlobalBytes(spec, 'data_counter').readInt32LE(0), 7);
    const bss = findMap(spec, '.bss');
    assert.equal(bss.kind, 'bss');
    assert.ok(bss.initialData!.equals(Buffer.alloc(bss.valueSize)));
    assert.ok(bss.variables!.some((v) => v.name === 'bss_total' && v.size === 8));

    const prog = spec.programs[0]!;
    const rodataRefs = prog.mapRelocations.filter((r) => r.mapName === '.rodata');
    assert.ok(rodataRefs.length >= 7 && rodataRefs.every((r) => r.kind === 'value'));
    const offsets = new Set(rodataRefs.map((r) => r.offset));
    for (const name of ['opt_u8', 'opt_s16', 'targ_pid', 'opt_s64']) {
      assert.ok(offsets.has(ro.variables!.find((v) => v.name === name)!.offset), `a load of ${name} points at its offset`);
    }
    assert.throws(() => resizeMap(spec, '.rodata', 2), /cannot be resized/);
  });

  it('sets const volatile options with range checks', async () => {
    const spec = parseObject(await compileFixture('globals.bpf.c'));
    setGlobals(spec, {opt_bool: true, opt_u8: 255, opt_s16: -32768, targ_pid: 4242, opt_s64: -(2n ** 63n), opt_mode: 2});
    assert.equal(getGlobalBytes(spec, 'opt_bool')[0], 1);
    assert.equal(getGlobalBytes(spec, 'opt_u8')[0], 255);
    assert.equal(getGlobalBytes(spec, 'opt_s16').readInt16LE(0), -32768);
    assert.equal(getGlobalBytes(spec, 'targ_pid').readUInt32LE(0), 4242);
    assert.equal(getGlobalBytes(spec, 'opt_s64').readBigInt64LE(0), -(2n ** 63n));
    assert.equal(getGlobalBytes(spec, 'opt_mode').readUInt32LE(0), 2);
    setGlobal(spec, 'targ_comm', 'bash');
    assert.equal(getGlobalBytes(spec, 'targ_comm').toString('latin1'), 'bash\0\0\0\0\0\0\0\0\0\0\0\0');
    setGlobal(spec, 'opt_range', Buffer.from([5, 0, 0, 0, 9, 0, 0, 0]));
    assert.equal(getGlobalBytes(spec, 'opt_range').readUInt32LE(4), 9);
    setGlobal(spec, 'data_counter', -1);
    assert.equal(getGlobalBytes(spec, 'data_counter').readInt32LE(0), -1);
    setGlobal(spec, 'bss_total', 2n ** 64n - 1n);
    assert.equal(getGlobalBytes(spec, 'bss_total').readBigUInt64LE(0), 2n ** 64n - 1n);
    // The map's initial data is what the loader writes.
    const ro = findMap(spec, '.rodata');
    const v = ro.variables!.find((x) => x.name === 'targ_pid')!;
    assert.equal(ro.initialData!.readUInt32LE(v.offset), 4242);

    assert.throws(() => setGlobal(spec, 'opt_u8', 256), /does not fit .*unsigned 8-bit/);
    assert.throws(() => setGlobal(spec, 'opt_s16', 40000), /does not fit .*signed 16-bit/);
    assert.throws(() => setGlobal(spec, 'targ_pid', -1), /does not fit/);
    assert.throws(() => setGlobal(spec, 'targ_pid', 1.5), /not an integer/);
    assert.throws(() => setGlobal(spec, 'targ_comm', 'x'.repeat(16)), /holds 16 including the NUL/);
    assert.throws(() => setGlobal(spec, 'opt_range', 3), /struct .*pass a Buffer/);
    assert.throws(() => setGlobal(spec, 'no_such_option', 1), (err: unknown) => {
      assert.ok(err instanceof ObjectError);
      assert.equal(err.symbol, 'no_such_option');
      assert.match(err.message, /no global variable of that name \(known: .*targ_pid/);
      return true;
    });
  });

  it('resolves kconfig externs for a target release', async () => {
    assert.equal(kernelVersionCode('6.1.0-50-cloud-arm64'), (6 << 16) + (1 << 8));
    assert.equal(kernelVersionCode('6.18.44-fc-v595'), (6 << 16) + (18 << 8) + 44);
    assert.equal(kernelVersionCode('4.19.300'), (4 << 16) + (19 << 8) + 255);
    assert.throws(() => kernelVersionCode('linux'), ObjectError);

    const spec = parseObject(await compileFixture('globals.bpf.c'));
    assert.deepEqual(spec.kconfig.map((k) => [k.name, k.type, k.weak]), [
      ['LINUX_KERNEL_VERSION', 'int', false],
      ['CONFIG_BPF_SYSCALL', 'bool', true],
      ['CONFIG_HZ', 'int', true],
      ['CONFIG_MODULES', 'tristate', true],
      ['CONFIG_DEFAULT_HOSTNAME', 'string', true],
    ]);
    const kmap = findMap(spec, '.kconfig');
    assert.equal(kmap.kind, 'kconfig');
    assert.equal(kmap.flags, MapFlags.RDONLY_PROG);
    const at = (name: string) => spec.kconfig.find((k) => k.name === name)!.offset;

    const data = resolveKconfig(spec, {release: '6.1.0-50-cloud-arm64'});
    assert.equal(data.readUInt32LE(at('LINUX_KERNEL_VERSION')), kernelVersionCode('6.1.0'));
    assert.equal(data[at('CONFIG_BPF_SYSCALL')], 0, 'weak and unknown: zero');
    assert.equal(kmap.initialData, data);

    const config = parseKconfigText('CONFIG_BPF_SYSCALL=y\nCONFIG_HZ=250\nCONFIG_MODULES=m\nCONFIG_DEFAULT_HOSTNAME="(none)"\n# CONFIG_FOO is not set\n');
    assert.equal(config.CONFIG_FOO, 'n');
    const full = resolveKconfig(spec, {release: '6.18.44', config});
    assert.equal(full[at('CONFIG_BPF_SYSCALL')], 1);
    assert.equal(full.readInt32LE(at('CONFIG_HZ')), 250);
    assert.equal(full.readInt32LE(at('CONFIG_MODULES')), 2);
    assert.equal(full.toString('latin1', at('CONFIG_DEFAULT_HOSTNAME'), at('CONFIG_DEFAULT_HOSTNAME') + 7), '(none)\0');
    assert.throws(() => resolveKconfig(spec, {release: '6.1', config: {CONFIG_HZ: 'lots'}}), /CONFIG_HZ.*not a number/);

    // Every .kconfig load in the program points into the map at an extern's offset.
    const refs = spec.programs[0]!.mapRelocations.filter((r) => r.mapName === '.kconfig');
    assert.deepEqual(new Set(refs.map((r) => r.offset)), new Set(spec.kconfig.map((k) => k.offset)));
  });
});
