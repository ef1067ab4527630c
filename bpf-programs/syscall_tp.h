/* Layouts of the syscalls:sys_enter_* and sys_exit_* tracepoint records.
 * They are the same on every 64-bit architecture and stable across kernel
 * versions, which is why the tools can attach to them without kernel headers. */
#ifndef BPFTOOLS_SYSCALL_TP_H
#define BPFTOOLS_SYSCALL_TP_H

#include <linux/types.h>

struct syscall_enter_args {
	__u64 common;   /* struct trace_entry */
	__s64 nr;
	__u64 args[6];
};

struct syscall_exit_args {
	__u64 common;
	__s64 nr;
	__s64 ret;
};

#endif
