/* The record execsnoop.bpf.c sends for each exec, read by
 * src/tools/execsnoop/event.ts. The fixed part is followed by data: the
 * executed file's name (filename_len bytes), then the argument strings from
 * argv[0] on, NUL-separated (args_len bytes), each at its real length. */
#ifndef BPFTOOLS_EXECSNOOP_H
#define BPFTOOLS_EXECSNOOP_H

#define EXECSNOOP_COMM_LEN 16
#define EXECSNOOP_FILENAME_MAX 256
#define EXECSNOOP_ARGS_MAX 4096
#define EXECSNOOP_ARG_MAX 128    /* bytes read per argument of a failed exec */
#define EXECSNOOP_FAILED_ARGS 20 /* arguments read of a failed exec */

struct exec_event {
	__u64 ts_ns;
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__s32 ret;
	__u16 filename_len;
	__u16 args_len;
	__u16 args_truncated;
	__u16 pad;
	char comm[EXECSNOOP_COMM_LEN];
	char data[EXECSNOOP_FILENAME_MAX + EXECSNOOP_ARGS_MAX];
};

#define EXECSNOOP_HEADER_SIZE __builtin_offsetof(struct exec_event, data)

#endif
