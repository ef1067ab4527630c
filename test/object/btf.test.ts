import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {describe, it} from 'node:test';

import {
  ALL_BTF_FEATURES, Btf, BtfLinkage, ObjectError, btfFeaturesForKernel, essentialName, parseElf, parseObject,
  sanitizeBtf, type BtfType,
} from '../../src/object/index.js';
import {VMLINUX, bpftoolKernelTypes, compileFixture, kernelBtfSkipReason} from '../fixtures/fixtures.js';

const skipKernel = kernelBtfSkipReason();

function objectBtf(obj: Buffer): Buffer {
  const sec = parseElf(obj).sectionByName('.BTF');
  assert.ok(sec, 'object has .BTF');
  return Buffer.from(sec.data);
}

describe('BTF', () => {
  it('round-trips a program BTF byte for byte', async () => {
    for (const f of ['core.bpf.c', 'maps.bpf.c', 'globals.bpf.c']) {
      const raw = objectBtf(await compileFixture(f));
      const btf = Btf.parse(raw);
      assert.ok(btf.length > 10);
      assert.ok(btf.encode().equals(raw), `${f}: encode(parse(x)) == x`);
    }
  });

  it('looks types up by name and computes sizes', async () => {
    const btf = Btf.parse(objectBtf(await compileFixture('maps.bpf.c')));
    const ev = btf.find('event', 'struct');
    assert.ok(ev && ev.kind === 'struct');
    assert.deepEqual(ev.members.map((m) => [m.name, m.bitOffset]), [['pid', 0], ['comm', 32]]);
    assert.equal(btf.sizeof(ev.id), 20);
    const key = btf.find('key_t', 'struct')!;
    assert.equal(btf.sizeof(key.id), 16);
    assert.equal(btf.alignof(key.id), 8);
    assert.equal(btf.describe(btf.find('__u32')!.id), '__u32');
    assert.equal(btf.type(btf.resolve(btf.find('__u32')!.id)).name, 'unsigned int');
    assert.throws(() => btf.type(99999), ObjectError);
  });

  it('parses the kernel BTF and finds a struct in it', {skip: skipKernel ?? false}, () => {
    const btf = Btf.parse(readFileSync(VMLINUX));
    const task = btf.find('task_struct', 'struct');
    assert.ok(task && task.kind === 'struct');
    assert.ok(btf.length > 10000, `${btf.length} types`);
  });

  it('finds kernel types by name and by essential name exactly as a full scan does', {skip: skipKernel ?? false}, () => {
    const btf = Btf.parse(readFileSync(VMLINUX));
    const byName = new Map<string, number[]>();
    for (let id = 1; id < btf.length; id++) {
      const name = btf.type(id).name;
      if (name) byName.set(name, [...(byName.get(name) ?? []), id]);
    }
    const names = [...byName.keys()];
    // Every 97th name, and every name with a flavour suffix (looked up by its essential name too).
    const sample = names.filter((n, i) => i % 97 === 0 || n.includes('___'));
    for (const name of sample) assert.deepEqual(btf.idsByName(name), byName.get(name), name);
    for (const name of names.filter((n) => essentialName(n) !== n)) {
      const want = names.filter((n) => essentialName(n) === essentialName(name)).flatMap((n) => byName.get(n)!).sort((a, b) => a - b);
      assert.deepEqual(btf.idsByEssentialName(essentialName(name)).sort((a, b) => a - b), want, name);
    }
    // A name that is only the tail of other names is no type's name.
    assert.deepEqual(btf.idsByName('ask_struct'), []);
  });

  it('decodes every kernel type exactly as bpftool does', {skip: skipKernel ?? false}, () => {
    const btf = Btf.parse(readFileSync(VMLINUX));
    const raw = bpftoolKernelTypes();
    assert.equal(btf.length - 1, raw.size, 'type count');
    const kinds = new Map<string, number>();
    for (const r of raw.values()) {
      const t = btf.type(r.id);
      const kindName = t.kind.toUpperCase();
      kinds.set(kindName, (kinds.get(kindName) ?? 0) + 1);
      assert.equal(kindName, r.kind, `type ${r.id} kind`);
      assert.equal(t.name, r.name, `type ${r.id} name`);
      switch (t.kind) {
        case 'struct': case 'union':
          assert.equal(t.size, Number(r.attrs.size), `type ${r.id} size`);
          assert.equal(t.members.length, r.members.length, `type ${r.id} members`);
          t.members.forEach((m, i) => {
            const rm = r.members[i]!;
            assert.deepEqual([m.name, m.type, m.bitOffset, m.bitfieldSize], [rm.name, rm.type, rm.bitsOffset, rm.bitfieldSize], `type ${r.id} member ${i}`);
          });
          break;
        case 'enum': case 'enum64':
          assert.equal(t.size, Number(r.attrs.size));
          assert.deepEqual(t.values.map((v) => [v.name, String(v.value)]), r.values.map((v) => [v.name, v.val]), `type ${r.id} values`);
          break;
        case 'int':
          assert.equal(t.size, Number(r.attrs.size));
          assert.equal(t.bits, Number(r.attrs.nr_bits));
          break;
        case 'array':
          assert.equal(t.nelems, Number(r.attrs.nr_elems));
          assert.equal(t.type, Number(r.attrs.type_id));
          break;
        case 'ptr': case 'typedef': case 'const': case 'volatile': case 'restrict': case 'type_tag': case 'func': case 'var': case 'decl_tag':
          assert.equal(t.type, Number(r.attrs.type_id), `type ${r.id} target`);
          break;
        case 'float':
          assert.equal(t.size, Number(r.attrs.size));
          break;
        default:
          break;
      }
    }
    for (const k of ['ENUM64', 'DECL_TAG', 'TYPE_TAG', 'FLOAT', 'DATASEC', 'FUNC_PROTO']) {
      if (kinds.has(k)) assert.ok(kinds.get(k)! > 0);
    }
  });

  it('writes the kernel BTF back unchanged', {skip: skipKernel ?? false}, () => {
    const raw = readFileSync(VMLINUX);
    assert.ok(Btf.parse(raw).encode().equals(raw));
  });

  it('rejects malformed BTF with ObjectError', async () => {
    const raw = objectBtf(await compileFixture('core.bpf.c'));
    assert.throws(() => Btf.parse(raw.subarray(0, 10)), /BTF truncated/);
    assert.throws(() => Btf.parse(raw.subarray(0, raw.length - 40)), /BTF truncated/);
    const bad = Buffer.from(raw);
    bad.writeUInt16LE(0x1234, 0);
    assert.throws(() => Btf.parse(bad), /bad BTF magic/);
    const kind = Buffer.from(raw);
    kind.writeUInt32LE(31 << 24, 24 + 4); // first type: kind 31
    assert.throws(() => Btf.parse(kind), (e: unknown) => e instanceof ObjectError && /unknown kind 31/.test(e.message));
  });

  it('fixes DATASEC sizes and offsets like the kernel wants', async () => {
    const obj = await compileFixture('globals.bpf.c');
    const elf = parseElf(obj);
    const spec = parseObject(obj);
    const btf = spec.btf!;
    for (const name of ['.rodata', '.data', '.bss']) {
      const ds = btf.find(name, 'datasec');
      assert.ok(ds && ds.kind === 'datasec', name);
      assert.equal(ds.size, elf.sectionByName(name)!.size, `${name} size`);
      let last = -1;
      for (const v of ds.vars) {
        const vt = btf.type(v.type);
        assert.equal(vt.kind, 'var');
        const sym = elf.symbols.find((s) => s.name === vt.name && elf.sections[s.shndx]?.name === name);
        if (sym) assert.equal(v.offset, sym.value, `${vt.name} offset`);
        assert.ok(v.offset >= last, 'sorted by offset');
        last = v.offset;
      }
    }
    const kc = btf.find('.kconfig', 'datasec');
    assert.ok(kc && kc.kind === 'datasec');
    assert.equal(kc.size, spec.maps.find((m) => m.name === '.kconfig')!.valueSize);
    for (const v of kc.vars) {
      const vt = btf.type(v.type);
      assert.ok(vt.kind === 'var' && vt.linkage === BtfLinkage.global, 'externs become allocated');
    }
    const maps = parseObject(await compileFixture('maps.bpf.c')).btf!.find('.maps', 'datasec');
    assert.ok(maps && maps.kind === 'datasec' && maps.size > 0);
    assert.equal(new Set(maps.vars.map((v) => v.offset)).size, maps.vars.length, 'distinct .maps offsets');
  });

  it('sanitises kinds an old kernel rejects, keeping ids', async () => {
    const types: BtfType[] = [
      {kind: 'int', id: 1, name: 'int', size: 4, signed: true, char: false, bool: false, bitOffset: 0, bits: 32},
      {kind: 'float', id: 2, name: 'double', size: 8},
      {kind: 'decl_tag', id: 3, name: 'user', type: 1, componentIdx: -1},
      {kind: 'type_tag', id: 4, name: 'percpu', type: 1},
      {kind: 'enum64', id: 5, name: 'big', size: 8, signed: false, values: [{name: 'A', value: 1n << 40n}]},
      {kind: 'enum64', id: 6, name: 'small', size: 8, signed: false, values: [{name: 'B', value: 7n}]},
      {kind: 'func_proto', id: 7, name: '', returnType: 1, params: [{name: 'x', type: 1}]},
      {kind: 'func', id: 8, name: 'f', type: 7, linkage: BtfLinkage.global},
      {kind: 'var', id: 9, name: 'v.x', type: 1, linkage: BtfLinkage.global},
      {kind: 'datasec', id: 10, name: '.data', size: 4, vars: [{type: 9, offset: 0, size: 4}]},
    ];
    const btf = Btf.fromTypes(types);
    assert.equal(sanitizeBtf(btf, ALL_BTF_FEATURES), btf, 'nothing to do for a new kernel');
    const old = sanitizeBtf(btf, btfFeaturesForKernel('5.4.0-100-generic'));
    const re = Btf.parse(old.encode());
    assert.equal(re.length, btf.length, 'same ids');
    const kinds = [...re.types()].map((t) => t.kind);
    assert.deepEqual(kinds, ['int', 'struct', 'int', 'const', 'union', 'enum', 'func_proto', 'func', 'var', 'datasec']);
    assert.equal((re.type(8) as {linkage: number}).linkage, BtfLinkage.static);
    assert.equal(re.type(4).name, '', 'CONST has no name');
    const ancient = Btf.parse(sanitizeBtf(btf, btfFeaturesForKernel('4.19.0')).encode());
    assert.equal(ancient.type(10).kind, 'struct');
    assert.equal(ancient.type(10).name, '_data');
    assert.equal(ancient.type(9).kind, 'int');
    assert.equal(btfFeaturesForKernel('6.1.0-50-cloud-arm64').enum64, true);
    assert.equal(btfFeaturesForKernel('5.15.0').declTag, false);
  });

  it('parses split BTF on top of a base (module BTF)', () => {
    const base = Btf.parse(Btf.fromTypes([
      {kind: 'int', id: 1, name: 'int', size: 4, signed: true, char: false, bool: false, bitOffset: 0, bits: 32},
    ]).encode());
    // Split types start at id 2; split string offsets start after the base's strings.
    const strings = Buffer.from('\0mod_thing\0field\0');
    const types = Buffer.alloc(12 + 12 + 12);
    types.writeUInt32LE(0, 0); // PTR (anon) -> 1
    types.writeUInt32LE(2 << 24, 4);
    types.writeUInt32LE(1, 8);
    types.writeUInt32LE(base.stringsLength + 1, 12); // STRUCT mod_thing, 1 member
    types.writeUInt32LE((4 << 24) | 1, 16);
    types.writeUInt32LE(8, 20);
    types.writeUInt32LE(base.stringsLength + 11, 24); // 'field': int * at bit 0
    types.writeUInt32LE(2, 28);
    types.writeUInt32LE(0, 32);
    const header = Buffer.alloc(24);
    header.writeUInt16LE(0xeb9f, 0);
    header[2] = 1;
    header.writeUInt32LE(24, 4);
    header.writeUInt32LE(0, 8);
    header.writeUInt32LE(types.length, 12);
    header.writeUInt32LE(types.length, 16);
    header.writeUInt32LE(strings.length, 20);
    const split = Btf.parse(Buffer.concat([header, types, strings]), {base});
    assert.equal(split.firstId, 2);
    assert.equal(split.length, 4);
    assert.equal(split.type(1).name, 'int', 'base types through the split table');
    const thing = split.find('mod_thing', 'struct');
    assert.ok(thing && thing.kind === 'struct' && thing.id === 3);
    assert.equal(thing.members[0]!.name, 'field');
    assert.equal(split.describe(thing.members[0]!.type), 'int *');
    assert.deepEqual(split.idsByName('int'), [1]);
    assert.equal(split.sizeof(3), 8);
  });

  it('strips CO-RE flavour suffixes', () => {
    assert.equal(essentialName('task_struct___v2'), 'task_struct');
    assert.equal(essentialName('task_struct'), 'task_struct');
    assert.equal(essentialName('a___b___c'), 'a___b');
    assert.equal(essentialName('x____y'), 'x____y');
    assert.equal(essentialName('___x'), '___x');
  });
});
