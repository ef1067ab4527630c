// Traces open(2), openat(2) and openat2(2) from their syscall tracepoints.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "syscall_tp.h"
#include "events.h"
#include "opensnoop.h"

#define AT_FDCWD -100

/* Options, set by the host before load. */
const volatile __u32 targ_tgid = 0;
const volatile __u32 targ_pid = 0;
const volatile __u32 targ_uid = 0;
const volatile __u8 targ_uid_set = 0;
const volatile __u8 targ_failed = 0;
const volatile __u64 targ_flags = 0; /* any of these open flags */

struct pending {
	const char *path;
	__u64 flags;
	__u64 ts_ns;
	__u32 mode;
	__s32 dfd;
	__u16 syscall;
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
	__type(value, struct open_event);
} scratch SEC(".maps");

static __always_inline int wanted(void)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (targ_tgid && targ_tgid != (__u32)(id >> 32))
		return 0;
	if (targ_pid && targ_pid != (__u32)id)
		return 0;
	if (targ_uid_set && targ_uid != (__u32)bpf_get_current_uid_gid())
		return 0;
	return 1;
}

static __always_inline int enter(__s32 dfd, const char *path, __u64 flags, __u32 mode, __u16 syscall)
{
	struct pending p = {};
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (!wanted())
		return 0;
	if (targ_flags && !(flags & targ_flags))
		return 0;
	p.dfd = dfd;
	p.path = path;
	p.flags = flags;
	p.mode = mode;
	p.syscall = syscall;
	p.ts_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &p, BPF_ANY);
	return 0;
}

/* The path is read at exit: by then the kernel has copied it in, so a page
 * that was not resident at entry cannot lose it. */
static __always_inline int leave(struct syscall_exit_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, zero = 0;
	struct pending *p;
	struct open_event *e;
	long len;

	p = bpf_map_lookup_elem(&start, &tid);
	if (!p)
		return 0;
	if (targ_failed && ctx->ret >= 0)
		goto out;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		goto out;
	e->ts_ns = p->ts_ns;
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ctx->ret;
	e->flags = p->flags;
	e->mode = p->mode;
	e->dfd = p->dfd;
	e->syscall = p->syscall;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	len = bpf_probe_read_user_str(e->path, sizeof(e->path), p->path);
	if (len < 1)
		len = 1;
	if (len > OPENSNOOP_PATH_MAX)
		len = OPENSNOOP_PATH_MAX;
	len -= 1; /* drop the NUL */
	e->path_len = len;
	send_event(e, OPENSNOOP_HEADER_SIZE + len);
out:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int enter_open(struct syscall_enter_args *ctx)
{
	return enter(AT_FDCWD, (const char *)ctx->args[0], ctx->args[1], ctx->args[2], 0);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int enter_openat(struct syscall_enter_args *ctx)
{
	return enter((__s32)ctx->args[0], (const char *)ctx->args[1], ctx->args[2], ctx->args[3], 1);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int enter_openat2(struct syscall_enter_args *ctx)
{
	__u64 how[2] = {}; /* struct open_how: flags, mode */

	bpf_probe_read_user(how, sizeof(how), (const void *)ctx->args[2]);
	return enter((__s32)ctx->args[0], (const char *)ctx->args[1], how[0], how[1], 2);
}

SEC("tracepoint/syscalls/sys_exit_open")
int exit_open(struct syscall_exit_args *ctx)
{
	return leave(ctx);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int exit_openat(struct syscall_exit_args *ctx)
{
	return leave(ctx);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int exit_openat2(struct syscall_exit_args *ctx)
{
	return leave(ctx);
}

char LICENSE[] SEC("license") = "GPL";
