import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {describe, it} from 'node:test';

import {
  Btf, CORE_POISON_HELPER_ID, CoreReloKind, coreFailureAt, findAttachBtfId, findProgram, parseObject, relocateCore,
  type BtfType, type CoreRelocationResult, type ObjectSpec,
} from '../../src/object/index.js';
import {BPF_DW, BPF_LDX, BPF_W, CALL, Insns, insnClass, insnSizeBits} from '../../src/object/insn.js';
import {VMLINUX, bpftoolFind, bpftoolKernelTypes, bpftoolMemberBits, compileFixture, kernelBtfSkipReason} from '../fixtures/fixtures.js';

const skipKernel = kernelBtfSkipReason();

/** The value a relocated instruction now carries. */
function insnValue(insns: Insns, i: number): number {
  if (insns.isLdImm64(i)) return Number(insns.imm64(i));
  if (insnClass(insns.code(i)) === BPF_LDX) return insns.off(i);
  return insns.imm(i);
}

function find(results: CoreRelocationResult[], kind: keyof typeof CoreReloKind, access: string): CoreRelocationResult {
  const r = results.find((x) => x.kind === kind && x.access === access);
  assert.ok(r, `a ${kind} relocation for ${access} (have: ${results.map((x) => `${x.kind} ${x.access}`).join('; ')})`);
  return r;
}

let kernel: Btf | undefined;
const kernelBtf = () => (kernel ??= Btf.parse(readFileSync(VMLINUX)));

async function coreSpec(): Promise<ObjectSpec> {
  return parseObject(await compileFixture('core.bpf.c'));
}

describe('CO-RE', () => {
  it('relocates field offsets, sizes, bitfields, types and enums against the kernel BTF (checked with bpftool)', {skip: skipKernel ?? false}, async () => {
    const spec = await coreSpec();
    const prog = findProgram(spec, 'core_reads');
    const report = relocateCore(prog, spec.btf, kernelBtf());
    const insns = new Insns(report.insns);
    const r = report.results;

    const task = bpftoolFind('STRUCT', 'task_struct');
    const bits = (name: string) => {
      const m = bpftoolMemberBits(task, name);
      assert.ok(m, `bpftool shows task_struct.${name}`);
      return m;
    };
    const expect = (kind: keyof typeof CoreReloKind, access: string, value: number) => {
      const x = find(r, kind, access);
      assert.equal(x.resolved, true, `${kind} ${access}: ${x.reason}`);
      assert.equal(x.targetValue, value, `${kind} ${access}`);
      assert.equal(insnValue(insns, x.insnIndex), value, `${kind} ${access}: instruction patched`);
    };

    // task->real_parent->tgid, the classic.
    expect('FIELD_BYTE_OFFSET', 'task_struct.real_parent', bits('real_parent').bits / 8);
    expect('FIELD_BYTE_OFFSET', 'task_struct.tgid', bits('tgid').bits / 8);
    assert.equal(find(r, 'FIELD_BYTE_OFFSET', 'task_struct.tgid').targetTypeId, task.id);

    expect('FIELD_EXISTS', 'task_struct.not_in_any_kernel', 0);
    expect('FIELD_EXISTS', 'task_struct.pid', 1);
    expect('TYPE_EXISTS', 'struct task_struct', 1);
    expect('TYPE_EXISTS', 'struct no_such_kernel_struct', 0);
    expect('TYPE_SIZE', 'struct task_struct', Number(task.attrs.size));
    expect('TYPE_ID_TARGET', 'struct task_struct', task.id);
    const local = find(r, 'TYPE_ID_LOCAL', 'struct task_struct');
    assert.equal(local.targetValue, spec.btf!.find('task_struct', 'struct')!.id);

    const pidType = bpftoolFind('ENUM', 'pid_type');
    expect('ENUMVAL_VALUE', 'enum pid_type::PIDTYPE_TGID', Number(pidType.values.find((v) => v.name === 'PIDTYPE_TGID')!.val));
    expect('ENUMVAL_EXISTS', 'enum pid_type::PIDTYPE_NOT_IN_KERNEL', 0);
    expect('ENUMVAL_EXISTS', 'enum pid_type::PIDTYPE_PID', 1);

    // comm is char[N]: its size is N * sizeof(char).
    const types = bpftoolKernelTypes();
    const commArr = types.get(bits('comm').member.type)!;
    expect('FIELD_BYTE_SIZE', 'task_struct.comm', Number(commArr.attrs.nr_elems));
    expect('FIELD_SIGNED', 'task_struct.tgid', 1);

    // The in_execve bitfield: an aligned load of its unsigned int, then shifts.
    const bf = bits('in_execve');
    assert.equal(bf.member.bitfieldSize, 1);
    const loadSize = 4;
    const byteOff = Math.floor(bf.bits / 8 / loadSize) * loadSize;
    expect('FIELD_BYTE_OFFSET', 'task_struct.in_execve', byteOff);
    expect('FIELD_BYTE_SIZE', 'task_struct.in_execve', loadSize);
    expect('FIELD_LSHIFT_U64', 'task_struct.in_execve', 64 - (bf.bits + 1 - byteOff * 8));
    expect('FIELD_RSHIFT_U64', 'task_struct.in_execve', 63);

    assert.equal(report.poisoned.length, 0);
    assert.ok(!report.insns.equals(prog.insns), 'instructions changed');
    assert.ok(prog.insns.equals(parseObject(await compileFixture('core.bpf.c')).programs.find((p) => p.name === 'core_reads')!.insns), 'spec left alone');
  });

  it('finds fields through anonymous unions and matches ___flavours', {skip: skipKernel ?? false}, async () => {
    const spec = await coreSpec();
    const report = relocateCore(findProgram(spec, 'core_nested'), spec.btf, kernelBtf());
    const skb = bpftoolFind('STRUCT', 'sk_buff');
    const task = bpftoolFind('STRUCT', 'task_struct');
    const byName = (a: string) => report.results.find((x) => x.access === a)!;
    assert.equal(byName('task_struct___flavour.tgid').targetValue, bpftoolMemberBits(task, 'tgid')!.bits / 8);
    assert.equal(byName('sk_buff.len').targetValue, bpftoolMemberBits(skb, 'len')!.bits / 8);
    const prev = report.results.find((x) => x.access.endsWith('.prev'))!;
    assert.equal(prev.resolved, true);
    assert.equal(prev.targetValue, bpftoolMemberBits(skb, 'prev')!.bits / 8);
  });

  it('patches a direct field load (tp_btf) and finds its attach BTF id', {skip: skipKernel ?? false}, async () => {
    const spec = await coreSpec();
    const prog = findProgram(spec, 'core_direct');
    const report = relocateCore(prog, spec.btf, kernelBtf());
    const [rel] = report.results;
    assert.ok(rel && rel.resolved);
    const insns = new Insns(report.insns);
    assert.equal(insnClass(insns.code(rel.insnIndex)), BPF_LDX);
    assert.equal(insns.off(rel.insnIndex), bpftoolMemberBits(bpftoolFind('STRUCT', 'task_struct'), 'tgid')!.bits / 8);
    assert.equal(insnSizeBits(insns.code(rel.insnIndex)), BPF_W);
    assert.equal(findAttachBtfId(prog, kernelBtf()), bpftoolFind('TYPEDEF', 'btf_trace_sched_switch').id);
  });

  it('poisons what it cannot relocate and says why', {skip: skipKernel ?? false}, async () => {
    const spec = await coreSpec();
    const prog = findProgram(spec, 'core_missing');
    const report = relocateCore(prog, spec.btf, kernelBtf());
    assert.equal(report.poisoned.length, 1);
    const bad = report.poisoned[0]!;
    assert.equal(bad.resolved, false);
    assert.match(bad.reason!, /task_struct\.not_in_any_kernel/);
    assert.match(bad.reason!, /struct task_struct/);
    const insns = new Insns(report.insns);
    assert.equal(insns.code(bad.insnIndex), CALL);
    assert.equal(insns.imm(bad.insnIndex), CORE_POISON_HELPER_ID);
    assert.equal(coreFailureAt(report, bad.insnIndex), bad);
    assert.equal(coreFailureAt(report, bad.insnIndex + 5), undefined);
  });

  it('without target BTF, only TYPE_ID_LOCAL resolves', async () => {
    const spec = await coreSpec();
    const report = relocateCore(findProgram(spec, 'core_reads'), spec.btf, undefined);
    assert.ok(report.results.length > 10);
    for (const x of report.results) {
      if (x.kind === 'TYPE_ID_LOCAL') assert.equal(x.resolved, true);
      else assert.match(x.reason!, /no BTF/);
    }
  });

  it('rejects ambiguous candidates and adjusts load sizes that changed', async () => {
    const spec = await coreSpec();
    const int = (id: number, name: string, size: number): BtfType =>
      ({kind: 'int', id, name, size, signed: true, char: false, bool: false, bitOffset: 0, bits: size * 8});
    const target = Btf.fromTypes([
      int(1, 'int', 4),
      int(2, 'long long', 8),
      {kind: 'struct', id: 3, name: 'task_struct', size: 64, members: [{name: 'tgid', type: 2, bitOffset: 256, bitfieldSize: 0}]},
    ]);
    const direct = relocateCore(findProgram(spec, 'core_direct'), spec.btf, target);
    const [rel] = direct.results;
    assert.ok(rel && rel.resolved, rel?.reason);
    const insns = new Insns(direct.insns);
    assert.equal(insns.off(rel.insnIndex), 32);
    assert.equal(insnSizeBits(insns.code(rel.insnIndex)), BPF_DW, '4-byte load became 8-byte');

    const twoFlavours = Btf.fromTypes([
      int(1, 'int', 4),
      {kind: 'struct', id: 2, name: 'task_struct', size: 64, members: [{name: 'tgid', type: 1, bitOffset: 64, bitfieldSize: 0}]},
      {kind: 'struct', id: 3, name: 'task_struct___other', size: 64, members: [{name: 'tgid', type: 1, bitOffset: 128, bitfieldSize: 0}]},
    ]);
    const amb = relocateCore(findProgram(spec, 'core_direct'), spec.btf, twoFlavours);
    assert.equal(amb.poisoned.length, 1);
    assert.match(amb.poisoned[0]!.reason!, /ambiguous/);
  });
});
