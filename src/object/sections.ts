// Program section names → program type, expected attach type and attach
// target, following libbpf's SEC() conventions.

import {AttachType, ProgFlags, ProgType} from './constants.js';
import {ObjectError} from './errors.js';

/** Where and how a program attaches, as far as its section name says. */
export type AttachTarget =
  | {kind: 'tracepoint'; category: string; name: string}
  | {kind: 'raw_tracepoint'; name: string; writable: boolean}
  | {kind: 'kprobe'; func: string; offset: number; ret: boolean}
  /** `ksyscall/NAME`: a kprobe on the syscall's entry function, whose prefix (`__x64_sys_`, `__arm64_sys_`...) depends on the target. */
  | {kind: 'ksyscall'; syscall: string; ret: boolean}
  /** `uprobe/PATH:FUNC[+OFF]` or `uprobe/PATH:OFFSET`; `func` is absent when only an offset is given. */
  | {kind: 'uprobe'; path: string; func?: string; offset: number; ret: boolean}
  | {kind: 'perf_event'}
  /**
   * BTF-attached programs (fentry/fexit/fmod_ret/tp_btf/lsm/iter): the loader
   * finds `btfName` (of `btfKind`) in the target's vmlinux BTF and passes its id
   * as attach_btf_id.
   */
  | {kind: 'tracing'; how: 'fentry' | 'fexit' | 'fmod_ret' | 'tp_btf' | 'lsm' | 'iter'; target: string; btfName: string; btfKind: 'func' | 'typedef'}
  /** No target in the section name (bare `kprobe`, `xdp`, `socket`, cgroup programs...): attached by hand. */
  | {kind: 'none'};

export interface SectionInfo {
  progType: number;
  expectedAttachType?: number;
  attach: AttachTarget;
  /** BPF_PROG_LOAD flags implied by the section (sleepable, xdp frags). */
  flags: number;
}

type Parser = (rest: string, section: string) => AttachTarget;

interface SectionDef {
  sec: string;
  progType: number;
  attachType?: number;
  flags?: number;
  /** Parses what follows `sec/`; without one, only the exact name matches and attach is 'none'. */
  parse?: Parser;
  /** With a parser: whether the bare name (no `/...`) is allowed (manual attach). */
  bareOk?: boolean;
}

const bad = (section: string, expected: string): never => {
  throw new ObjectError(`cannot parse program section name: expected ${expected}`, {section});
};

const parseNumber = (s: string): number | undefined => (/^(0x[0-9a-fA-F]+|\d+)$/.test(s) ? Number(s) : undefined);

const kprobe = (ret: boolean): Parser => (rest, section) => {
  const m = /^([A-Za-z0-9_.]+)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(rest);
  if (!m) return bad(section, `${ret ? 'kretprobe' : 'kprobe'}/FUNCTION[+OFFSET]`);
  const offset = m[2] ? Number(m[2]) : 0;
  if (ret && offset) return bad(section, 'kretprobe/FUNCTION (no offset)');
  return {kind: 'kprobe', func: m[1]!, offset, ret};
};

const ksyscall = (ret: boolean): Parser => (rest, section) => {
  if (!/^[A-Za-z0-9_]+$/.test(rest)) return bad(section, `${ret ? 'kretsyscall' : 'ksyscall'}/SYSCALL`);
  return {kind: 'ksyscall', syscall: rest, ret};
};

const uprobe = (ret: boolean): Parser => (rest, section) => {
  const colon = rest.lastIndexOf(':');
  const form = `${ret ? 'uretprobe' : 'uprobe'}/PATH:FUNCTION[+OFFSET] or /PATH:OFFSET`;
  if (colon <= 0 || colon === rest.length - 1) return bad(section, form);
  const path = rest.slice(0, colon);
  const spec = rest.slice(colon + 1);
  const raw = parseNumber(spec);
  if (raw !== undefined) return {kind: 'uprobe', path, offset: raw, ret};
  const m = /^([^+\s]+)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(spec);
  if (!m) return bad(section, form);
  return {kind: 'uprobe', path, func: m[1]!, offset: m[2] ? Number(m[2]) : 0, ret};
};

const tracepoint: Parser = (rest, section) => {
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1 || rest.indexOf('/', slash + 1) >= 0) {
    return bad(section, 'tracepoint/CATEGORY/NAME or tp/CATEGORY/NAME');
  }
  return {kind: 'tracepoint', category: rest.slice(0, slash), name: rest.slice(slash + 1)};
};

const rawTracepoint = (writable: boolean): Parser => (rest, section) => {
  if (!rest || rest.includes('/')) return bad(section, 'raw_tracepoint/NAME or raw_tp/NAME');
  return {kind: 'raw_tracepoint', name: rest, writable};
};

const tracing = (how: 'fentry' | 'fexit' | 'fmod_ret' | 'tp_btf' | 'lsm' | 'iter'): Parser => (rest, section) => {
  if (!/^[A-Za-z0-9_.]+$/.test(rest)) return bad(section, `${how}/NAME`);
  switch (how) {
    case 'tp_btf': return {kind: 'tracing', how, target: rest, btfName: `btf_trace_${rest}`, btfKind: 'typedef'};
    case 'lsm': return {kind: 'tracing', how, target: rest, btfName: `bpf_lsm_${rest}`, btfKind: 'func'};
    case 'iter': return {kind: 'tracing', how, target: rest, btfName: `bpf_iter_${rest}`, btfKind: 'func'};
    default: return {kind: 'tracing', how, target: rest, btfName: rest, btfKind: 'func'};
  }
};

const SLEEPABLE = ProgFlags.SLEEPABLE;

const DEFS: SectionDef[] = [
  {sec: 'socket', progType: ProgType.SOCKET_FILTER},
  {sec: 'kprobe', progType: ProgType.KPROBE, parse: kprobe(false), bareOk: true},
  {sec: 'kretprobe', progType: ProgType.KPROBE, parse: kprobe(true), bareOk: true},
  {sec: 'ksyscall', progType: ProgType.KPROBE, parse: ksyscall(false), bareOk: true},
  {sec: 'kretsyscall', progType: ProgType.KPROBE, parse: ksyscall(true), bareOk: true},
  {sec: 'uprobe', progType: ProgType.KPROBE, parse: uprobe(false), bareOk: true},
  {sec: 'uretprobe', progType: ProgType.KPROBE, parse: uprobe(true), bareOk: true},
  {sec: 'uprobe.s', progType: ProgType.KPROBE, flags: SLEEPABLE, parse: uprobe(false), bareOk: true},
  {sec: 'uretprobe.s', progType: ProgType.KPROBE, flags: SLEEPABLE, parse: uprobe(true), bareOk: true},
  {sec: 'tracepoint', progType: ProgType.TRACEPOINT, parse: tracepoint, bareOk: true},
  {sec: 'tp', progType: ProgType.TRACEPOINT, parse: tracepoint, bareOk: true},
  {sec: 'raw_tracepoint', progType: ProgType.RAW_TRACEPOINT, parse: rawTracepoint(false), bareOk: true},
  {sec: 'raw_tp', progType: ProgType.RAW_TRACEPOINT, parse: rawTracepoint(false), bareOk: true},
  {sec: 'raw_tracepoint.w', progType: ProgType.RAW_TRACEPOINT_WRITABLE, parse: rawTracepoint(true), bareOk: true},
  {sec: 'raw_tp.w', progType: ProgType.RAW_TRACEPOINT_WRITABLE, parse: rawTracepoint(true), bareOk: true},
  {sec: 'tp_btf', progType: ProgType.TRACING, attachType: AttachType.TRACE_RAW_TP, parse: tracing('tp_btf')},
  {sec: 'fentry', progType: ProgType.TRACING, attachType: AttachType.TRACE_FENTRY, parse: tracing('fentry')},
  {sec: 'fexit', progType: ProgType.TRACING, attachType: AttachType.TRACE_FEXIT, parse: tracing('fexit')},
  {sec: 'fmod_ret', progType: ProgType.TRACING, attachType: AttachType.MODIFY_RETURN, parse: tracing('fmod_ret')},
  {sec: 'fentry.s', progType: ProgType.TRACING, attachType: AttachType.TRACE_FENTRY, flags: SLEEPABLE, parse: tracing('fentry')},
  {sec: 'fexit.s', progType: ProgType.TRACING, attachType: AttachType.TRACE_FEXIT, flags: SLEEPABLE, parse: tracing('fexit')},
  {sec: 'fmod_ret.s', progType: ProgType.TRACING, attachType: AttachType.MODIFY_RETURN, flags: SLEEPABLE, parse: tracing('fmod_ret')},
  {sec: 'lsm', progType: ProgType.LSM, attachType: AttachType.LSM_MAC, parse: tracing('lsm')},
  {sec: 'lsm.s', progType: ProgType.LSM, attachType: AttachType.LSM_MAC, flags: SLEEPABLE, parse: tracing('lsm')},
  {sec: 'iter', progType: ProgType.TRACING, attachType: AttachType.TRACE_ITER, parse: tracing('iter')},
  {sec: 'iter.s', progType: ProgType.TRACING, attachType: AttachType.TRACE_ITER, flags: SLEEPABLE, parse: tracing('iter')},
  {sec: 'perf_event', progType: ProgType.PERF_EVENT},
  {sec: 'syscall', progType: ProgType.SYSCALL, flags: SLEEPABLE},
  {sec: 'xdp', progType: ProgType.XDP, attachType: AttachType.XDP},
  {sec: 'xdp.frags', progType: ProgType.XDP, attachType: AttachType.XDP, flags: ProgFlags.XDP_HAS_FRAGS},
  {sec: 'xdp/devmap', progType: ProgType.XDP, attachType: AttachType.XDP_DEVMAP},
  {sec: 'xdp/cpumap', progType: ProgType.XDP, attachType: AttachType.XDP_CPUMAP},
  {sec: 'tc', progType: ProgType.SCHED_CLS},
  {sec: 'classifier', progType: ProgType.SCHED_CLS},
  {sec: 'action', progType: ProgType.SCHED_ACT},
  {sec: 'tcx/ingress', progType: ProgType.SCHED_CLS, attachType: AttachType.TCX_INGRESS},
  {sec: 'tcx/egress', progType: ProgType.SCHED_CLS, attachType: AttachType.TCX_EGRESS},
  {sec: 'cgroup_skb/ingress', progType: ProgType.CGROUP_SKB, attachType: AttachType.CGROUP_INET_INGRESS},
  {sec: 'cgroup_skb/egress', progType: ProgType.CGROUP_SKB, attachType: AttachType.CGROUP_INET_EGRESS},
  {sec: 'cgroup/skb', progType: ProgType.CGROUP_SKB},
  {sec: 'cgroup/sock', progType: ProgType.CGROUP_SOCK, attachType: AttachType.CGROUP_INET_SOCK_CREATE},
  {sec: 'cgroup/sock_create', progType: ProgType.CGROUP_SOCK, attachType: AttachType.CGROUP_INET_SOCK_CREATE},
  {sec: 'cgroup/sock_release', progType: ProgType.CGROUP_SOCK, attachType: AttachType.CGROUP_INET_SOCK_RELEASE},
  {sec: 'cgroup/post_bind4', progType: ProgType.CGROUP_SOCK, attachType: AttachType.CGROUP_INET4_POST_BIND},
  {sec: 'cgroup/post_bind6', progType: ProgType.CGROUP_SOCK, attachType: AttachType.CGROUP_INET6_POST_BIND},
  {sec: 'cgroup/dev', progType: ProgType.CGROUP_DEVICE, attachType: AttachType.CGROUP_DEVICE},
  {sec: 'sockops', progType: ProgType.SOCK_OPS, attachType: AttachType.CGROUP_SOCK_OPS},
  {sec: 'sk_skb/stream_parser', progType: ProgType.SK_SKB, attachType: AttachType.SK_SKB_STREAM_PARSER},
  {sec: 'sk_skb/stream_verdict', progType: ProgType.SK_SKB, attachType: AttachType.SK_SKB_STREAM_VERDICT},
  {sec: 'sk_skb', progType: ProgType.SK_SKB},
  {sec: 'sk_msg', progType: ProgType.SK_MSG, attachType: AttachType.SK_MSG_VERDICT},
  {sec: 'lirc_mode2', progType: ProgType.LIRC_MODE2, attachType: AttachType.LIRC_MODE2},
  {sec: 'flow_dissector', progType: ProgType.FLOW_DISSECTOR, attachType: AttachType.FLOW_DISSECTOR},
  {sec: 'cgroup/bind4', progType: ProgType.CGROUP_SOCK_ADDR, attachType: AttachType.CGROUP_INET4_BIND},
  {sec: 'cgroup/bind6', progType: ProgType.CGROUP_SOCK_ADDR, attachType: AttachType.CGROUP_INET6_BIND},
  {sec: 'cgroup/connect4', progType: ProgType.CGROUP_SOCK_ADDR, attachType: AttachType.CGROUP_INET4_CONNECT},
  {sec: 'cgroup/connect6', progType: ProgType.CGROUP_SOCK_ADDR, attachType: AttachType.CGROUP_INET6_CONNECT},
  {sec: 'cgroup/sendmsg4', progType: ProgType.CGROUP_SOCK_ADDR, attachType: AttachType.CGROUP_UDP4_SENDMSG},
  {sec: 'cgroup/sendmsg6', progType: ProgType.CGROUP_SOCK_ADDR, attachType: AttachType.CGROUP_UDP6_SENDMSG},
  {sec: 'cgroup/recvmsg4', progType: ProgType.CGROUP_SOCK_ADDR, attachType: AttachType.CGROUP_UDP4_RECVMSG},
  {sec: 'cgroup/recvmsg6', progType: ProgType.CGROUP_SOCK_ADDR, attachType: AttachType.CGROUP_UDP6_RECVMSG},
  {sec: 'cgroup/getpeername4', progType: ProgType.CGROUP_SOCK_ADDR, attachType: AttachType.CGROUP_INET4_GETPEERNAME},
  {sec: 'cgroup/getpeername6', progType: ProgType.CGROUP_SOCK_ADDR, attachType: AttachType.CGROUP_INET6_GETPEERNAME},
  {sec: 'cgroup/getsockname4', progType: ProgType.CGROUP_SOCK_ADDR, attachType: AttachType.CGROUP_INET4_GETSOCKNAME},
  {sec: 'cgroup/getsockname6', progType: ProgType.CGROUP_SOCK_ADDR, attachType: AttachType.CGROUP_INET6_GETSOCKNAME},
  {sec: 'cgroup/sysctl', progType: ProgType.CGROUP_SYSCTL, attachType: AttachType.CGROUP_SYSCTL},
  {sec: 'cgroup/getsockopt', progType: ProgType.CGROUP_SOCKOPT, attachType: AttachType.CGROUP_GETSOCKOPT},
  {sec: 'cgroup/setsockopt', progType: ProgType.CGROUP_SOCKOPT, attachType: AttachType.CGROUP_SETSOCKOPT},
  {sec: 'sk_lookup', progType: ProgType.SK_LOOKUP, attachType: AttachType.SK_LOOKUP},
];

/**
 * Program type and attach target for an ELF section name. Unknown names give
 * progType UNSPEC (0) and attach 'none': the loader refuses to load those.
 * A known prefix with a malformed target (`tp/only_category`) is an ObjectError.
 */
export function parseSectionName(section: string): SectionInfo {
  // Longest matching definition wins (`raw_tp.w` before `raw_tp`, `xdp/devmap` before `xdp`).
  let best: SectionDef | undefined;
  for (const d of DEFS) {
    const matches = d.parse
      ? section === d.sec || section.startsWith(`${d.sec}/`)
      : section === d.sec;
    if (matches && (!best || d.sec.length > best.sec.length)) best = d;
  }
  if (!best) return {progType: ProgType.UNSPEC, attach: {kind: 'none'}, flags: 0};
  let attach: AttachTarget = {kind: 'none'};
  if (best.parse) {
    if (section === best.sec) {
      if (!best.bareOk) bad(section, `${best.sec}/NAME`);
    } else {
      attach = best.parse(section.slice(best.sec.length + 1), section);
    }
  } else if (best.progType === ProgType.PERF_EVENT) {
    attach = {kind: 'perf_event'};
  }
  const info: SectionInfo = {progType: best.progType, attach, flags: best.flags ?? 0};
  if (best.attachType !== undefined) info.expectedAttachType = best.attachType;
  return info;
}
