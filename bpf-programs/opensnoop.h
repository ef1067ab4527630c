/* The record opensnoop.bpf.c sends for each open, read by
 * src/tools/opensnoop/event.ts. The path follows the fixed part at its real
 * length (path_len bytes, no NUL), so short paths cost short records. */
#ifndef BPFTOOLS_OPENSNOOP_H
#define BPFTOOLS_OPENSNOOP_H

#define OPENSNOOP_COMM_LEN 16
#define OPENSNOOP_PATH_MAX 256

struct open_event {
	__u64 ts_ns;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 ret;
	__u64 flags;
	__u32 mode;
	__s32 dfd;      /* directory a relative path is resolved against */
	__u16 path_len;
	__u16 syscall; /* 0 open, 1 openat, 2 openat2 */
	char comm[OPENSNOOP_COMM_LEN];
	char path[OPENSNOOP_PATH_MAX];
};

#define OPENSNOOP_HEADER_SIZE __builtin_offsetof(struct open_event, path)

#endif
