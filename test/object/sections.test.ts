import assert from 'node:assert/strict';
import {describe, it} from 'node:test';

import {AttachType, ObjectError, ProgFlags, ProgType, parseSectionName} from '../../src/object/index.js';

describe('section names', () => {
  it('knows the tracing conventions', () => {
    assert.deepEqual(parseSectionName('tracepoint/sched/sched_switch'), {
      progType: ProgType.TRACEPOINT, attach: {kind: 'tracepoint', category: 'sched', name: 'sched_switch'}, flags: 0,
    });
    assert.deepEqual(parseSectionName('tp/syscalls/sys_enter_execve').attach, {kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_execve'});
    assert.deepEqual(parseSectionName('raw_tracepoint/sched_wakeup').attach, {kind: 'raw_tracepoint', name: 'sched_wakeup', writable: false});
    assert.equal(parseSectionName('raw_tp.w/x').progType, ProgType.RAW_TRACEPOINT_WRITABLE);
    assert.deepEqual(parseSectionName('kprobe/vfs_read').attach, {kind: 'kprobe', func: 'vfs_read', offset: 0, ret: false});
    assert.deepEqual(parseSectionName('kprobe/tcp_v4_connect+12').attach, {kind: 'kprobe', func: 'tcp_v4_connect', offset: 12, ret: false});
    assert.deepEqual(parseSectionName('kretprobe/vfs_read').attach, {kind: 'kprobe', func: 'vfs_read', offset: 0, ret: true});
    assert.deepEqual(parseSectionName('kprobe/__x64_sys_openat.isra.0').attach, {kind: 'kprobe', func: '__x64_sys_openat.isra.0', offset: 0, ret: false});
    assert.deepEqual(parseSectionName('kretsyscall/execve').attach, {kind: 'ksyscall', syscall: 'execve', ret: true});
    assert.deepEqual(parseSectionName('uprobe//lib/libc.so.6:malloc+0x8').attach, {kind: 'uprobe', path: '/lib/libc.so.6', func: 'malloc', offset: 8, ret: false});
    assert.deepEqual(parseSectionName('uretprobe/bash:readline').attach, {kind: 'uprobe', path: 'bash', func: 'readline', offset: 0, ret: true});
    assert.equal(parseSectionName('uprobe.s//bin/x:f').flags, ProgFlags.SLEEPABLE);
    assert.deepEqual(parseSectionName('perf_event'), {progType: ProgType.PERF_EVENT, attach: {kind: 'perf_event'}, flags: 0});
    const fentry = parseSectionName('fentry/vfs_read');
    assert.equal(fentry.progType, ProgType.TRACING);
    assert.equal(fentry.expectedAttachType, AttachType.TRACE_FENTRY);
    assert.deepEqual(fentry.attach, {kind: 'tracing', how: 'fentry', target: 'vfs_read', btfName: 'vfs_read', btfKind: 'func'});
    assert.equal(parseSectionName('fexit.s/vfs_read').flags, ProgFlags.SLEEPABLE);
    assert.equal(parseSectionName('fmod_ret/x').expectedAttachType, AttachType.MODIFY_RETURN);
    assert.deepEqual(parseSectionName('lsm/file_open').attach, {kind: 'tracing', how: 'lsm', target: 'file_open', btfName: 'bpf_lsm_file_open', btfKind: 'func'});
    assert.equal(parseSectionName('lsm/file_open').progType, ProgType.LSM);
    assert.equal(parseSectionName('iter/task').expectedAttachType, AttachType.TRACE_ITER);
  });

  it('knows bare names (manual attach) and network types', () => {
    assert.deepEqual(parseSectionName('kprobe'), {progType: ProgType.KPROBE, attach: {kind: 'none'}, flags: 0});
    assert.deepEqual(parseSectionName('uprobe').attach, {kind: 'none'});
    assert.equal(parseSectionName('socket').progType, ProgType.SOCKET_FILTER);
    assert.equal(parseSectionName('xdp').expectedAttachType, AttachType.XDP);
    assert.equal(parseSectionName('xdp.frags').flags, ProgFlags.XDP_HAS_FRAGS);
    assert.equal(parseSectionName('xdp/devmap').expectedAttachType, AttachType.XDP_DEVMAP);
    assert.equal(parseSectionName('tc').progType, ProgType.SCHED_CLS);
    assert.equal(parseSectionName('classifier').progType, ProgType.SCHED_CLS);
    assert.equal(parseSectionName('cgroup_skb/egress').expectedAttachType, AttachType.CGROUP_INET_EGRESS);
    assert.equal(parseSectionName('cgroup/connect4').progType, ProgType.CGROUP_SOCK_ADDR);
    assert.equal(parseSectionName('sockops').expectedAttachType, AttachType.CGROUP_SOCK_OPS);
  });

  it('leaves unknown sections unloadable and rejects malformed targets', () => {
    assert.deepEqual(parseSectionName('my_custom_section'), {progType: ProgType.UNSPEC, attach: {kind: 'none'}, flags: 0});
    assert.deepEqual(parseSectionName('kprobe.multi/x').progType, ProgType.UNSPEC);
    assert.throws(() => parseSectionName('tp/sched'), (e: unknown) => e instanceof ObjectError && e.section === 'tp/sched' && /tp\/CATEGORY\/NAME/.test(e.message));
    assert.throws(() => parseSectionName('tp/a/b/c'), ObjectError);
    assert.throws(() => parseSectionName('kretprobe/f+4'), /no offset/);
    assert.throws(() => parseSectionName('uprobe/no_colon'), /PATH:FUNCTION/);
    assert.throws(() => parseSectionName('fentry'), /fentry\/NAME/);
    assert.throws(() => parseSectionName('tp_btf/'), ObjectError);
  });
});
