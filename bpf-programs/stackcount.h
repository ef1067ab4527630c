/* The key stackcount.bpf.c counts under, read by
 * src/tools/stackcount/stacks.ts. Stack ids index the stack_traces map;
 * a negative id means no stack of that kind (not asked for, a kernel
 * thread's user stack, or a stack map collision). */
#ifndef BPFTOOLS_STACKCOUNT_H
#define BPFTOOLS_STACKCOUNT_H

#define STACKCOUNT_COMM_LEN 16
/* perf_event_max_stack's default: the deepest stack the kernel records. */
#define STACKCOUNT_MAX_DEPTH 127
/* tgid of keys that aggregate every process. */
#define STACKCOUNT_ANY_PID 0xffffffff

struct stack_key {
	__u32 tgid;
	__s32 kernel_stack_id;
	__s32 user_stack_id;
	char comm[STACKCOUNT_COMM_LEN];
};

#endif
