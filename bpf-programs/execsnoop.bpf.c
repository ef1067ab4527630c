// Traces exec: successful ones at sched:sched_process_exec, where the new
// image's argument area is complete and resident (reading argv at
// sys_enter_execve misses strings that are not paged in yet), failed ones at
// the syscall's exit, where the caller's argv is still there to read.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "syscall_tp.h"
#include "events.h"
#include "task.h"
#include "execsnoop.h"

const volatile __u32 targ_uid = 0;
const volatile __u8 targ_uid_set = 0;
const volatile __u8 targ_failed = 0;

struct pending {
	const char *filename;
	const char *const *argv;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct pending);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_event);
} scratch SEC(".maps");

/* sched:sched_process_exec's record. */
struct process_exec_args {
	__u64 common;
	__u32 filename_loc; /* __data_loc: length << 16 | offset */
	__s32 pid;
	__s32 old_pid;
};

static __always_inline int wanted(void)
{
	return !targ_uid_set || targ_uid == (__u32)bpf_get_current_uid_gid();
}

static __always_inline struct exec_event *new_event(__s32 ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct exec_event *e;
	__u32 zero = 0;

	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
#ifdef EXECSNOOP_NO_BTF
	e->ppid = 0; /* the host reads it from /proc/PID/status */
	(void)task;
#else
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
#endif
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->filename_len = 0;
	e->args_len = 0;
	e->args_truncated = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

static __always_inline void send(struct exec_event *e)
{
	__u32 len = (__u32)e->filename_len + e->args_len;

	if (len > sizeof(e->data))
		len = sizeof(e->data);
	send_event(e, EXECSNOOP_HEADER_SIZE + len);
}

/* Stores a string read at src as the file name; returns its length. */
static __always_inline __u32 put_filename(struct exec_event *e, const char *src, int user)
{
	long n = user ? bpf_probe_read_user_str(e->data, EXECSNOOP_FILENAME_MAX, src)
		      : bpf_probe_read_kernel_str(e->data, EXECSNOOP_FILENAME_MAX, src);

	if (n < 1)
		n = 1;
	if (n > EXECSNOOP_FILENAME_MAX)
		n = EXECSNOOP_FILENAME_MAX;
	e->filename_len = n - 1;
	return n - 1;
}

/* The caller's file name and argv, as the arguments of a failed exec (or,
 * without BTF, of every exec). */
static __always_inline void copy_argv(struct exec_event *e, const char *filename, const char *const *argv)
{
	__u32 start_off, off;

	start_off = put_filename(e, filename, 1);
	off = start_off;
	for (int i = 0; i < EXECSNOOP_FAILED_ARGS; i++) {
		const char *arg = 0;
		long n;

		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			break;
		if (off > sizeof(e->data) - EXECSNOOP_ARG_MAX)
			break;
		n = bpf_probe_read_user_str(&e->data[off], EXECSNOOP_ARG_MAX, arg);
		if (n <= 0)
			break;
		off += n;
	}
	e->args_len = off - start_off;
}

#ifdef EXECSNOOP_NO_BTF
/* Without the target's BTF the new image's argument area cannot be found:
 * the arguments are read from the caller at entry, as libbpf-tools does
 * (strings not yet paged in come out empty), and sent at the exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct exec_event);
} execs SEC(".maps");

#endif

static __always_inline int enter(const char *filename, const char *const *argv)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
#ifdef EXECSNOOP_NO_BTF
	struct exec_event *e;

	if (!wanted())
		return 0;
	e = new_event(0);
	if (!e)
		return 0;
	copy_argv(e, filename, argv);
	bpf_map_update_elem(&execs, &tid, e, BPF_ANY);
#else
	struct pending p = {};

	if (!targ_failed || !wanted())
		return 0;
	p.filename = filename;
	p.argv = argv;
	bpf_map_update_elem(&start, &tid, &p, BPF_ANY);
#endif
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int enter_execve(struct syscall_enter_args *ctx)
{
	return enter((const char *)ctx->args[0], (const char *const *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int enter_execveat(struct syscall_enter_args *ctx)
{
	return enter((const char *)ctx->args[1], (const char *const *)ctx->args[2]);
}

#ifndef EXECSNOOP_NO_BTF
SEC("tracepoint/sched/sched_process_exec")
int process_exec(struct process_exec_args *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	unsigned long arg_start, arg_end;
	struct exec_event *e;
	__u64 off, len;

	if (!wanted())
		return 0;
	e = new_event(0);
	if (!e)
		return 0;
	off = put_filename(e, (const char *)ctx + (ctx->filename_loc & 0xffff), 0);
	arg_start = BPF_CORE_READ(task, mm, arg_start);
	arg_end = BPF_CORE_READ(task, mm, arg_end);
	/* All of argv, argv[0] included: for a script the kernel put the
	 * interpreter and the script's path in front, which the host drops. */
	if (arg_start >= arg_end)
		goto out;
	len = arg_end - arg_start;
	if (len > EXECSNOOP_ARGS_MAX) {
		len = EXECSNOOP_ARGS_MAX;
		e->args_truncated = 1;
	}
	if (bpf_probe_read_user(&e->data[off & (EXECSNOOP_FILENAME_MAX - 1)], len, (void *)arg_start) == 0)
		e->args_len = len;
out:
	send(e);
	return 0;
}
#endif

#ifndef EXECSNOOP_NO_BTF
static __always_inline int exit_exec(struct syscall_exit_args *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending *p;
	struct exec_event *e;

	p = bpf_map_lookup_elem(&start, &tid);
	if (!p)
		return 0;
	if (ctx->ret >= 0)
		goto out;
	e = new_event(ctx->ret);
	if (!e)
		goto out;
	copy_argv(e, p->filename, p->argv);
	send(e);
out:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}
#else
static __always_inline int exit_exec(struct syscall_exit_args *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	/* The caller's argv, saved at entry: after a successful exec it is gone. */
	struct exec_event *e = bpf_map_lookup_elem(&execs, &tid);

	if (!e)
		return 0;
	if (ctx->ret >= 0 || targ_failed) {
		e->ret = ctx->ret;
		e->ts_ns = bpf_ktime_get_ns();
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		send(e);
	}
	bpf_map_delete_elem(&execs, &tid);
	return 0;
}
#endif

SEC("tracepoint/syscalls/sys_exit_execve")
int exit_execve(struct syscall_exit_args *ctx)
{
	return exit_exec(ctx);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int exit_execveat(struct syscall_exit_args *ctx)
{
	return exit_exec(ctx);
}

char LICENSE[] SEC("license") = "GPL";
