import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {mkdtempSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, it} from 'node:test';

import {ObjectError, parseElf, parseObject} from '../../src/object/index.js';
import {compileFixture, haveTool} from '../fixtures/fixtures.js';

function writeTemp(buf: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'bpftools-elf-'));
  const p = join(dir, 'obj.o');
  writeFileSync(p, buf);
  return p;
}

/** Asserts that parsing throws an ObjectError whose message matches. */
function rejects(buf: Buffer, pattern: RegExp): ObjectError {
  let caught: unknown;
  try {
    parseObject(buf);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ObjectError, `expected ObjectError, got ${caught instanceof Error ? `${caught.name}: ${caught.stack}` : String(caught)}`);
  assert.match(caught.message, pattern);
  return caught;
}

describe('ELF parser', () => {
  it('matches llvm-readelf section names, types and sizes', {skip: haveTool('llvm-readelf') ? false : 'llvm-readelf not installed'}, async () => {
    const obj = await compileFixture('maps.bpf.c');
    const elf = parseElf(obj);
    const out = execFileSync('llvm-readelf', ['-S', '--wide', writeTemp(obj)], {encoding: 'utf8'});
    const rows: {index: number; name: string; type: string; offset: number; size: number}[] = [];
    for (const line of out.split('\n')) {
      const m = /^\s*\[\s*(\d+)\]\s+(\S+)\s+([A-Z_0-9]+)\s+[0-9a-f]{16}\s+([0-9a-f]+)\s+([0-9a-f]+)\s/.exec(line);
      if (m && m[1] !== '0') rows.push({index: Number(m[1]), name: m[2]!, type: m[3]!, offset: parseInt(m[4]!, 16), size: parseInt(m[5]!, 16)});
    }
    assert.equal(rows.length, elf.sections.length - 1, 'same number of sections');
    const typeName: Record<number, string> = {1: 'PROGBITS', 2: 'SYMTAB', 3: 'STRTAB', 8: 'NOBITS', 9: 'REL'};
    for (const r of rows) {
      const s = elf.sections[r.index]!;
      assert.equal(s.name, r.name, `section ${r.index} name`);
      assert.equal(s.size, r.size, `section ${r.name} size`);
      assert.equal(s.offset, r.offset, `section ${r.name} offset`);
      if (typeName[s.type]) assert.equal(typeName[s.type], r.type, `section ${r.name} type`);
    }
    assert.ok(rows.some((r) => r.name === '.maps'));
    assert.ok(rows.some((r) => r.name === 'tp/sched/sched_switch'));
  });

  it('matches llvm-readelf symbols and relocations', {skip: haveTool('llvm-readelf') ? false : 'llvm-readelf not installed'}, async () => {
    const obj = await compileFixture('programs.bpf.c');
    const elf = parseElf(obj);
    const path = writeTemp(obj);
    const syms = execFileSync('llvm-readelf', ['-s', '--wide', path], {encoding: 'utf8'});
    const named = new Set<string>();
    for (const line of syms.split('\n')) {
      const m = /^\s*\d+:\s+[0-9a-f]+\s+\d+\s+(FUNC|OBJECT|NOTYPE)\s+\w+\s+\w+\s+\S+\s+(\S+)$/.exec(line);
      if (m) named.add(m[2]!);
    }
    for (const n of ['tp_one', 'tp_two', 'add3', 'twice_add3', 'global_sub', 'loop_cb', 'LICENSE']) {
      assert.ok(named.has(n), `llvm-readelf shows ${n}`);
      assert.ok(elf.symbols.some((s) => s.name === n), `parser shows ${n}`);
    }
    const rel = execFileSync('llvm-readelf', ['-r', '--wide', path], {encoding: 'utf8'});
    const counts = [...rel.matchAll(/Relocation section '([^']+)' at offset 0x[0-9a-f]+ contains (\d+) entries/g)];
    assert.ok(counts.length > 0);
    for (const [, secName, n] of counts) {
      const relSec = elf.sections.find((s) => s.name === secName)!;
      assert.equal(elf.relocations.get(relSec.info)?.length, Number(n), `relocations in ${secName}`);
    }
  });

  it('rejects files truncated anywhere with an ObjectError', async () => {
    const obj = await compileFixture('maps.bpf.c');
    const shoff = Number(obj.readBigUInt64LE(40));
    const cuts = [0, 3, 10, 16, 40, 63, 64, 200, shoff - 1, shoff, shoff + 10, shoff + 64 * 3 + 5, obj.length - 1];
    for (const n of cuts) {
      const e = rejects(obj.subarray(0, n), /truncated|too short|not an ELF|beyond|past the end|outside/);
      assert.ok(e.message.length < 300, 'message stays short');
    }
  });

  it('names a wrong machine, big-endian and 32-bit files', async () => {
    const obj = await compileFixture('maps.bpf.c');
    const x86 = Buffer.from(obj);
    x86.writeUInt16LE(62, 18);
    rejects(x86, /machine is 62, not EM_BPF \(247\)/);
    const be = Buffer.from(obj);
    be[5] = 2;
    rejects(be, /big-endian/);
    const c32 = Buffer.from(obj);
    c32[4] = 1;
    rejects(c32, /32-bit/);
    rejects(Buffer.from('#!/bin/sh\necho not an object\n'), /not an ELF file: bad magic/);
  });

  it('rejects a relocation whose symbol index is out of range', async () => {
    const obj = Buffer.from(await compileFixture('maps.bpf.c'));
    const elf = parseElf(obj);
    const rel = elf.sections.find((s) => s.name === '.reltp/sched/sched_switch')!;
    // r_info of the first entry: symbol index in the high 32 bits.
    obj.writeUInt32LE(0xfff0, rel.offset + 12);
    const e = rejects(obj, /refers to symbol 65520, but the symbol table has \d+ entries/);
    assert.equal(e.section, '.reltp/sched/sched_switch');
  });

  it('rejects a relocation outside its section and a bad symbol section', async () => {
    const obj = Buffer.from(await compileFixture('maps.bpf.c'));
    const elf = parseElf(obj);
    const rel = elf.sections.find((s) => s.name === '.reltp/sched/sched_switch')!;
    const bad = Buffer.from(obj);
    bad.writeBigUInt64LE(0x100000n, rel.offset);
    rejects(bad, /outside section "tp\/sched\/sched_switch"/);
    const symtab = elf.sections.find((s) => s.type === 2)!;
    const bad2 = Buffer.from(obj);
    bad2.writeUInt16LE(999, symtab.offset + 24 + 6);
    rejects(bad2, /refers to section 999/);
  });

  it('survives random corruption: every failure is an ObjectError', async () => {
    const objects = await Promise.all(['maps.bpf.c', 'globals.bpf.c', 'programs.bpf.c', 'core.bpf.c'].map(compileFixture));
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let failures = 0;
    for (let round = 0; round < 1500; round++) {
      const src = objects[round % objects.length]!;
      const buf = Buffer.from(src);
      const flips = 1 + rand(4);
      for (let k = 0; k < flips; k++) {
        const at = rand(buf.length);
        buf[at] = rand(4) === 0 ? 0xff : rand(256);
      }
      try {
        parseObject(buf);
      } catch (e) {
        failures++;
        if (!(e instanceof ObjectError)) {
          assert.fail(`round ${round}: ${e instanceof Error ? e.stack : String(e)}`);
        }
      }
    }
    assert.ok(failures > 0, 'some corruptions are detected');
  });
});
