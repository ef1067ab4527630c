import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {describe, it} from 'node:test';

import {
  AttachType, ObjectError, ProgFlags, ProgType, describeInsn, encodeFuncInfo, encodeLineInfo, findProgram,
  parseObject, relocateProgram, sourceLineAt, type ProgramSpec,
} from '../../src/object/index.js';
import {BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, Insns} from '../../src/object/insn.js';
import {compileFixture, fixturePath} from '../fixtures/fixtures.js';

/** Every bpf-to-bpf call or function reference in a program and where it lands. */
function callTargets(p: ProgramSpec): {at: number; target: number; kind: 'call' | 'func'}[] {
  const insns = new Insns(p.insns);
  const out: {at: number; target: number; kind: 'call' | 'func'}[] = [];
  for (let i = 0; i < insns.count; i++) {
    if (insns.isCall(i) && insns.src(i) === BPF_PSEUDO_CALL) out.push({at: i, target: i + insns.imm(i) + 1, kind: 'call'});
    if (insns.isLdImm64(i)) {
      if (insns.src(i) === BPF_PSEUDO_FUNC) out.push({at: i, target: i + insns.imm(i) + 1, kind: 'func'});
      i++;
    }
  }
  return out;
}

const startOf = (p: ProgramSpec, name: string) => {
  const f = p.functions.find((x) => x.name === name);
  assert.ok(f, `${p.name} contains ${name}`);
  return f.start;
};

describe('programs', () => {
  it('finds every global function as a program, several per section', async () => {
    const spec = parseObject(await compileFixture('programs.bpf.c'));
    const names = spec.programs.map((p) => p.name).sort();
    assert.deepEqual(names, ['fent', 'fext', 'krp', 'ksc', 'kp', 'pe', 'rawtpw', 'raw_loop', 'tp_one', 'tp_two', 'tpbtf', 'up', 'urp', 'xdp_prog'].sort());
    const openat = spec.programs.filter((p) => p.section === 'tp/syscalls/sys_enter_openat').map((p) => p.name);
    assert.deepEqual(openat.sort(), ['tp_one', 'tp_two']);
    assert.ok(!spec.programs.some((p) => ['add3', 'global_sub', 'loop_cb'].includes(p.name)), '.text functions are subprograms');
    for (const p of spec.programs) assert.equal(p.license, 'GPL');
  });

  it('appends called subprograms and fixes call offsets', async () => {
    const spec = parseObject(await compileFixture('programs.bpf.c'));
    const one = findProgram(spec, 'tp_one');
    assert.deepEqual(one.functions.map((f) => f.name), ['tp_one', 'add3']);
    assert.deepEqual(callTargets(one).map((c) => c.target), [startOf(one, 'add3')]);

    const two = findProgram(spec, 'tp_two');
    assert.deepEqual(two.functions.map((f) => f.name).sort(), ['add3', 'global_sub', 'tp_two', 'twice_add3']);
    assert.equal(two.functions[0]!.name, 'tp_two');
    assert.equal(two.insns.length / 8, two.functions.reduce((n, f) => n + f.length, 0));
    const targets = new Set(callTargets(two).map((c) => c.target));
    assert.deepEqual(targets, new Set([startOf(two, 'twice_add3'), startOf(two, 'global_sub'), startOf(two, 'add3')]));
    // Every call lands on a function start, from inside the program.
    for (const c of callTargets(two)) assert.ok(two.functions.some((f) => f.start === c.target));

    const loop = findProgram(spec, 'raw_loop');
    const refs = callTargets(loop).filter((c) => c.kind === 'func');
    assert.deepEqual(refs.map((r) => r.target), [startOf(loop, 'loop_cb')], 'bpf_loop callback is a BPF_PSEUDO_FUNC reference');
  });

  it('moves func_info and line_info to the final instruction offsets', async () => {
    const spec = parseObject(await compileFixture('programs.bpf.c'));
    const btf = spec.btf!;
    const source = readFileSync(fixturePath('programs.bpf.c'), 'utf8').split('\n');
    for (const p of spec.programs) {
      assert.deepEqual(p.funcInfo.map((f) => f.insnOff), p.functions.map((f) => f.start).sort((a, b) => a - b), `${p.name} func_info at each function`);
      for (const fi of p.funcInfo) {
        const fn = p.functions.find((f) => f.start === fi.insnOff)!;
        const t = btf.type(fi.typeId);
        assert.ok(t.kind === 'func' && t.name === fn.name, `${p.name}: func_info ${fi.insnOff} is FUNC ${fn.name}`);
      }
      assert.equal(p.lineInfo[0]?.insnOff, 0);
      for (let i = 1; i < p.lineInfo.length; i++) assert.ok(p.lineInfo[i]!.insnOff >= p.lineInfo[i - 1]!.insnOff);
      for (const li of p.lineInfo) {
        assert.ok(li.insnOff < p.insns.length / 8);
        if (li.line === 0) continue; // compiler-generated code has no line
        assert.equal(btf.string(li.lineOff).trim(), source[li.line - 1]!.trim(), `${p.name}: line ${li.line} text`);
        assert.match(btf.string(li.fileNameOff), /programs\.bpf\.c$/);
      }
    }
    const two = findProgram(spec, 'tp_two');
    assert.equal(encodeFuncInfo(two.funcInfo).length, two.funcInfo.length * 8);
    const li = encodeLineInfo(two.lineInfo);
    assert.equal(li.length, two.lineInfo.length * 16);
    assert.equal(li.readUInt32LE(12) >>> 10, two.lineInfo[0]!.line);
  });

  it('maps an instruction to its source line', async () => {
    const spec = parseObject(await compileFixture('programs.bpf.c'));
    const source = readFileSync(fixturePath('programs.bpf.c'), 'utf8').split('\n');
    const two = findProgram(spec, 'tp_two');
    const addLine = source.findIndex((l) => l.includes('return x + 3;')) + 1;
    const at = startOf(two, 'add3') + 1;
    const s = sourceLineAt(two, spec.btf!, at)!;
    assert.equal(s.func, 'add3');
    assert.equal(s.line, addLine);
    assert.equal(describeInsn(two, spec.btf!, at), `programs.bpf.c:${addLine}: return x + 3;`);
    assert.match(describeInsn(two, spec.btf!, at, {fullPath: true})!, /^\/.*test\/fixtures\/programs\.bpf\.c:\d+: /);
    const firstLine = source.findIndex((l) => l.includes('int v = twice_add3(2);')) + 1;
    assert.equal(sourceLineAt(two, spec.btf!, 0)!.line, firstLine);
    assert.equal(sourceLineAt({lineInfo: []}, spec.btf!, 0), undefined);
  });

  it('reads attach targets from section names', async () => {
    const spec = parseObject(await compileFixture('programs.bpf.c'));
    const p = (n: string) => findProgram(spec, n);
    assert.deepEqual(p('tp_one').attach, {kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_openat'});
    assert.equal(p('tp_one').progType, ProgType.TRACEPOINT);
    assert.deepEqual(p('raw_loop').attach, {kind: 'raw_tracepoint', name: 'sched_switch', writable: false});
    assert.equal(p('rawtpw').progType, ProgType.RAW_TRACEPOINT_WRITABLE);
    assert.deepEqual(p('kp').attach, {kind: 'kprobe', func: 'do_sys_openat2', offset: 16, ret: false});
    assert.deepEqual(p('krp').attach, {kind: 'kprobe', func: 'do_sys_openat2', offset: 0, ret: true});
    assert.deepEqual(p('ksc').attach, {kind: 'ksyscall', syscall: 'openat', ret: false});
    assert.deepEqual(p('up').attach, {kind: 'uprobe', path: '/usr/lib/x86_64-linux-gnu/libc.so.6', func: 'malloc', offset: 0, ret: false});
    assert.deepEqual(p('urp').attach, {kind: 'uprobe', path: '/bin/bash', offset: 0x1234, ret: true});
    assert.deepEqual(p('pe').attach, {kind: 'perf_event'});
    assert.equal(p('pe').progType, ProgType.PERF_EVENT);
    assert.equal(p('tpbtf').progType, ProgType.TRACING);
    assert.equal(p('tpbtf').expectedAttachType, AttachType.TRACE_RAW_TP);
    assert.deepEqual(p('tpbtf').attach, {kind: 'tracing', how: 'tp_btf', target: 'sched_switch', btfName: 'btf_trace_sched_switch', btfKind: 'typedef'});
    assert.equal(p('fent').expectedAttachType, AttachType.TRACE_FENTRY);
    assert.equal(p('fext').expectedAttachType, AttachType.TRACE_FEXIT);
    assert.equal(p('xdp_prog').progType, ProgType.XDP);
    assert.equal(p('kp').flags & ProgFlags.SLEEPABLE, 0);
  });

  it('writes map handles into ld_imm64 instructions', async () => {
    const spec = parseObject(await compileFixture('globals.bpf.c'));
    const prog = spec.programs[0]!;
    const handles = new Map(spec.maps.map((m, i) => [m.name, 100 + i]));
    const out = relocateProgram(prog, handles);
    assert.notEqual(out, prog.insns, 'a copy');
    const insns = new Insns(out);
    for (const r of prog.mapRelocations) {
      assert.ok(insns.isLdImm64(r.insnIndex));
      assert.equal(insns.imm(r.insnIndex), handles.get(r.mapName));
      assert.equal(insns.src(r.insnIndex), r.kind === 'fd' ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE);
      assert.equal(insns.imm(r.insnIndex + 1), r.offset);
    }
    const mapsSpec = parseObject(await compileFixture('maps.bpf.c'));
    const use = mapsSpec.programs[0]!;
    const fdOut = new Insns(relocateProgram(use, Object.fromEntries(mapsSpec.maps.map((m, i) => [m.name, 3 + i]))));
    for (const r of use.mapRelocations) {
      assert.equal(fdOut.src(r.insnIndex), BPF_PSEUDO_MAP_FD);
      assert.equal(fdOut.imm(r.insnIndex + 1), 0);
    }
    assert.throws(() => relocateProgram(prog, new Map()), (e: unknown) => e instanceof ObjectError && /uses map '\.\w+', but no handle/.test(e.message));
  });
});
