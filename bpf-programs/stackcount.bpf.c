// Counts the stacks that reach a tracepoint, kprobe or uprobe. One program
// per context type; the host attaches it to every probe the pattern matched.
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include "stackcount.h"

/* Options, set by the host before load. */
const volatile __u32 targ_tgid = 0;
const volatile __u32 targ_cpu = 0;
const volatile __u8 targ_cpu_set = 0;
const volatile __u8 per_pid = 0;
const volatile __u8 kernel_stack = 1;
const volatile __u8 user_stack = 1;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct stack_key);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, STACKCOUNT_MAX_DEPTH * sizeof(__u64));
} stack_traces SEC(".maps");

static __always_inline int count(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct stack_key key = {};
	__u64 one = 1, *n;

	if (targ_tgid && tgid != targ_tgid)
		return 0;
	if (targ_cpu_set && bpf_get_smp_processor_id() != targ_cpu)
		return 0;
	key.tgid = STACKCOUNT_ANY_PID;
	if (per_pid) {
		key.tgid = tgid;
		bpf_get_current_comm(key.comm, sizeof(key.comm));
	}
	key.kernel_stack_id = kernel_stack ? bpf_get_stackid(ctx, &stack_traces, 0) : -1;
	key.user_stack_id = user_stack ? bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK) : -1;

	n = bpf_map_lookup_elem(&counts, &key);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return 0;
	}
	/* Another CPU may have added the key meanwhile: then add to its count. */
	if (bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST)) {
		n = bpf_map_lookup_elem(&counts, &key);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
	return 0;
}

/* Attached by the host to each matching tracepoint. */
SEC("tracepoint")
int stackcount_tp(void *ctx)
{
	return count(ctx);
}

/* Attached by the host to each matching kprobe or uprobe. */
SEC("kprobe")
int stackcount_probe(void *ctx)
{
	return count(ctx);
}

char LICENSE[] SEC("license") = "GPL";
