/* Attaching programs: tracepoints, raw tracepoints, k/uprobes, perf events, tracing links. */
#include "bpfd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int sys_perf_event_open(void *attr, int pid, int cpu, int group, unsigned long flags)
{
	return (int)syscall(__NR_perf_event_open, attr, pid, cpu, group, flags);
}

static inline uint64_t ptr(const void *p) { return (uint64_t)(uintptr_t)p; }

/* One path component of tracefs: no separators, no dot names. */
static int good_component(const char *s)
{
	if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) return 0;
	for (; *s; s++)
		if (*s == '/' || *s <= ' ' || *s > '~') return 0;
	return 1;
}

/* Text spliced into a tracefs probe definition: no spaces or controls. */
static int good_word(const char *s)
{
	if (!*s) return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s > '~') return 0;
	return 1;
}

/* The tracepoint id tracefs gives category/name; id or -errno. */
static long tracepoint_id(const char *category, const char *name)
{
	const char *tf = tracefs_dir();
	char path[4096], txt[32];
	if (!*tf) return -ENOENT;
	if ((size_t)snprintf(path, sizeof(path), "%s/events/%s/%s/id", tf, category, name) >= sizeof(path))
		return -ENAMETOOLONG;
	int n = read_small(path, txt, sizeof(txt));
	if (n < 0) return n;
	return strtol(txt, NULL, 10);
}

/* Run prog on events of pfd from now on. 0 or errno. */
static int perf_set_prog(int pfd, int prog)
{
	if (ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog) < 0) return errno;
	if (ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0) < 0) return errno;
	return 0;
}

/* perf_event_open + SET_BPF; the fd, or -1 after replying the error. */
static int open_and_attach(struct conn *c, struct req *r, struct perf_event_attr *pa, int pid, int cpu,
			   const char *what)
{
	int prog = (int)arg_i(r, "prog", -1);
	int pfd = sys_perf_event_open(pa, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0) {
		int e = errno;
		r_err(c, r->id, e, "perf_event_open(%s): %s", what, errtext(e));
		return -1;
	}
	int e = perf_set_prog(pfd, prog);
	if (e) {
		close(pfd);
		r_err(c, r->id, e, "ioctl(PERF_EVENT_IOC_SET_BPF, %s): %s", what, errtext(e));
		return -1;
	}
	return pfd;
}

static void reply_handle(struct conn *c, struct req *r, int fd, int kind, const char *via, long id)
{
	if (!h_add(c, fd, kind)) {
		close(fd);
		r_syserr(c, r->id, ENOMEM, r->op->name);
		return;
	}
	r_ok(c, r->id);
	r_int(c, "h", fd);
	if (id >= 0) r_int(c, "id", id);
	if (via) r_cstr(c, "via", via);
	r_end(c);
}

void op_attach_tracepoint(struct conn *c, struct req *r)
{
	if (!h_want(c, r, "prog", H_PROG)) return;
	const char *cat = arg_s(r, "category"), *name = arg_s(r, "name");
	if (!good_component(cat) || !good_component(name)) {
		r_err(c, r->id, EINVAL, "category and name must be plain tracefs names");
		return;
	}
	long id = tracepoint_id(cat, name);
	if (id < 0) {
		r_err(c, r->id, (int)-id, "tracepoint %s:%s: %s%s", cat, name, errtext((int)-id),
		      *tracefs_dir() ? "" : " (tracefs is not available)");
		return;
	}
	struct perf_event_attr pa;
	memset(&pa, 0, sizeof(pa));
	pa.type = PERF_TYPE_TRACEPOINT;
	pa.size = sizeof(pa);
	pa.config = (uint64_t)id;
	pa.sample_period = 1;
	pa.wakeup_events = 1;
	char what[300];
	snprintf(what, sizeof(what), "tracepoint %s:%s", cat, name);
	/* A program on a tracepoint runs for every CPU; one event is enough. */
	int fd = open_and_attach(c, r, &pa, -1, 0, what);
	if (fd >= 0) reply_handle(c, r, fd, H_PERF, NULL, id);
}

static void raw_tp_open(struct conn *c, struct req *r, const char *name)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.raw_tracepoint.name = ptr(name);
	a.raw_tracepoint.prog_fd = (uint32_t)arg_i(r, "prog", -1);
	int fd = (int)sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &a, sizeof(a));
	if (fd < 0) {
		r_syserr(c, r->id, errno, "bpf(BPF_RAW_TRACEPOINT_OPEN)");
		return;
	}
	reply_handle(c, r, fd, H_LINK, NULL, -1);
}

void op_attach_raw_tracepoint(struct conn *c, struct req *r)
{
	if (!h_want(c, r, "prog", H_PROG)) return;
	raw_tp_open(c, r, arg_s(r, "name"));
}

void op_attach_tracing(struct conn *c, struct req *r)
{
	if (!h_want(c, r, "prog", H_PROG)) return;
	/* fentry/fexit/tp_btf/lsm: the target is in the program's attach_btf_id. */
	raw_tp_open(c, r, NULL);
}

void op_attach_perf_event(struct conn *c, struct req *r)
{
	if (!h_want(c, r, "prog", H_PROG)) return;
	if (arg_has(r, "period") == arg_has(r, "freq")) {
		r_err(c, r->id, EINVAL, "give exactly one of period and freq");
		return;
	}
	struct perf_event_attr pa;
	memset(&pa, 0, sizeof(pa));
	pa.type = (uint32_t)arg_u(r, "type", 0);
	pa.size = sizeof(pa);
	pa.config = arg_u(r, "config", 0);
	if (arg_has(r, "freq")) {
		pa.freq = 1;
		pa.sample_freq = arg_u(r, "freq", 0);
	} else {
		pa.sample_period = arg_u(r, "period", 0);
	}
	int fd = open_and_attach(c, r, &pa, (int)arg_i(r, "pid", -1), (int)arg_i(r, "cpu", 0), "perf event");
	if (fd >= 0) reply_handle(c, r, fd, H_PERF, NULL, -1);
}

/* ---- kprobes and uprobes ---- */

/* PMU type of the kprobe/uprobe event source, and its retprobe config bit. */
static int pmu_type(const char *pmu, int *retbit)
{
	char path[128], txt[64];
	snprintf(path, sizeof(path), "/sys/bus/event_source/devices/%s/type", pmu);
	if (read_small(path, txt, sizeof(txt)) <= 0) return -1;
	int type = atoi(txt);
	snprintf(path, sizeof(path), "/sys/bus/event_source/devices/%s/format/retprobe", pmu);
	*retbit = 0;
	if (read_small(path, txt, sizeof(txt)) > 0 && !strncmp(txt, "config:", 7))
		*retbit = atoi(txt + 7);
	if (*retbit < 0 || *retbit > 63) *retbit = 0;
	return type;
}

static int write_probe_events(const char *file, const char *line)
{
	char path[4096];
	const char *tf = tracefs_dir();
	if (!*tf) return ENOENT;
	snprintf(path, sizeof(path), "%s/%s", tf, file);
	/* O_APPEND: opening for write without it would clear every probe. */
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) return errno;
	size_t n = strlen(line);
	int e = write(fd, line, n) == (ssize_t)n ? 0 : errno;
	close(fd);
	return e;
}

void probe_remove(const char *probe, int uprobe)
{
	char line[256];
	snprintf(line, sizeof(line), "-:%s\n", probe);
	write_probe_events(uprobe ? "uprobe_events" : "kprobe_events", line);
}

/* Remove bpfd_PID_N probes left behind by bpfd processes that no longer exist. */
static void sweep_stale(const char *file, int uprobe)
{
	static int swept[2];
	if (swept[uprobe]) return;
	swept[uprobe] = 1;
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", tracefs_dir(), file);
	FILE *f = fopen(path, "re");
	if (!f) return;
	char line[1024], *dead[64];
	int nd = 0;
	while (nd < 64 && fgets(line, sizeof(line), f)) {
		/* "p:kprobes/bpfd_123_4 func" */
		char *colon = strchr(line, ':'), *sp;
		if (!colon || !(sp = strchr(colon, ' '))) continue;
		*sp = 0;
		char *slash = strchr(colon, '/');
		const char *nm = slash ? slash + 1 : colon + 1;
		if (strncmp(nm, "bpfd_", 5)) continue;
		char *end;
		long pid = strtol(nm + 5, &end, 10);
		if (end == nm + 5 || *end != '_' || pid <= 0 || pid > 0x7fffffff) continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
		if (!(dead[nd] = strdup(colon + 1))) break;
		nd++;
	}
	fclose(f);
	for (int i = 0; i < nd; i++) {
		probe_remove(dead[i], uprobe);
		free(dead[i]);
	}
}

/* Register a probe through tracefs and open its event; the fd or -1 after replying. */
static int tracefs_probe(struct conn *c, struct req *r, int uprobe, const char *target, int ret,
			 int maxactive, int pid, char **probe_out)
{
	static unsigned seq;
	const char *file = uprobe ? "uprobe_events" : "kprobe_events";
	const char *group = uprobe ? "uprobes" : "kprobes";
	char name[64], probe[96], line[4600], what[160];
	int e = 0;
	sweep_stale(file, uprobe);
	for (int tries = 0; tries < 3; tries++) {
		snprintf(name, sizeof(name), "bpfd_%d_%u", (int)getpid(), seq++);
		snprintf(probe, sizeof(probe), "%s/%s", group, name);
		char kind[16];
		if (ret && maxactive > 0 && !uprobe) snprintf(kind, sizeof(kind), "r%d", maxactive);
		else snprintf(kind, sizeof(kind), "%c", ret ? 'r' : 'p');
		if ((size_t)snprintf(line, sizeof(line), "%s:%s %s\n", kind, probe, target) >= sizeof(line)) {
			r_err(c, r->id, ENAMETOOLONG, "probe target is too long");
			return -1;
		}
		e = write_probe_events(file, line);
		if (e != EEXIST) break;
	}
	if (e) {
		r_err(c, r->id, e, "tracefs %s (%s): %s", file, target, errtext(e));
		return -1;
	}
	long id = tracepoint_id(group, name);
	if (id < 0) {
		probe_remove(probe, uprobe);
		r_err(c, r->id, (int)-id, "tracefs probe %s: %s", probe, errtext((int)-id));
		return -1;
	}
	struct perf_event_attr pa;
	memset(&pa, 0, sizeof(pa));
	pa.type = PERF_TYPE_TRACEPOINT;
	pa.size = sizeof(pa);
	pa.config = (uint64_t)id;
	pa.sample_period = 1;
	pa.wakeup_events = 1;
	snprintf(what, sizeof(what), "%s", probe);
	int fd = open_and_attach(c, r, &pa, pid, pid < 0 ? 0 : -1, what);
	if (fd < 0) {
		probe_remove(probe, uprobe);
		return -1;
	}
	*probe_out = strdup(probe);
	if (!*probe_out) {
		close(fd);
		probe_remove(probe, uprobe);
		r_syserr(c, r->id, ENOMEM, r->op->name);
		return -1;
	}
	return fd;
}

static void finish_probe(struct conn *c, struct req *r, int fd, char *probe, int uprobe)
{
	struct handle *h = h_add(c, fd, H_PERF);
	if (!h) {
		close(fd);
		if (probe) probe_remove(probe, uprobe);
		free(probe);
		r_syserr(c, r->id, ENOMEM, r->op->name);
		return;
	}
	h->probe = probe;
	h->probe_uprobe = (uint8_t)uprobe;
	r_ok(c, r->id);
	r_int(c, "h", fd);
	r_cstr(c, "via", probe ? "tracefs" : "pmu");
	r_end(c);
}

static int have_events_file(const char *file)
{
	char path[4096];
	const char *tf = tracefs_dir();
	if (!*tf) return 0;
	snprintf(path, sizeof(path), "%s/%s", tf, file);
	return access(path, W_OK) == 0;
}

void op_attach_kprobe(struct conn *c, struct req *r)
{
	if (!h_want(c, r, "prog", H_PROG)) return;
	const char *func = arg_s(r, "func");
	uint64_t off = arg_u(r, "offset", 0);
	int ret = (int)arg_i(r, "ret", 0);
	int maxactive = (int)arg_i(r, "maxactive", 0);
	if (!good_word(func) || strlen(func) > 512) {
		r_err(c, r->id, EINVAL, "func must be a symbol name without spaces");
		return;
	}
	int retbit, type = g_no_pmu ? -1 : pmu_type("kprobe", &retbit);
	/* The PMU cannot take maxactive; tracefs can. */
	int use_tracefs = type < 0 || (ret && maxactive > 0 && have_events_file("kprobe_events"));
	if (!use_tracefs) {
		struct perf_event_attr pa;
		memset(&pa, 0, sizeof(pa));
		pa.type = (uint32_t)type;
		pa.size = sizeof(pa);
		pa.config = ret ? 1ull << retbit : 0;
		pa.config1 = ptr(func);   /* kprobe_func */
		pa.config2 = off;         /* probe_offset */
		pa.sample_period = 1;
		pa.wakeup_events = 1;
		int fd = open_and_attach(c, r, &pa, -1, 0, ret ? "kretprobe" : "kprobe");
		if (fd >= 0) finish_probe(c, r, fd, NULL, 0);
		return;
	}
	if (!have_events_file("kprobe_events")) {
		r_err(c, r->id, EOPNOTSUPP, "kprobes are not available on this kernel "
		      "(no kprobe PMU and no tracefs kprobe_events)");
		return;
	}
	char target[600];
	if (off) snprintf(target, sizeof(target), "%s+%llu", func, (unsigned long long)off);
	else snprintf(target, sizeof(target), "%s", func);
	char *probe = NULL;
	int fd = tracefs_probe(c, r, 0, target, ret, maxactive, -1, &probe);
	if (fd >= 0) finish_probe(c, r, fd, probe, 0);
}

void op_attach_uprobe(struct conn *c, struct req *r)
{
	if (!h_want(c, r, "prog", H_PROG)) return;
	const char *path = arg_s(r, "path");
	uint64_t off = arg_u(r, "offset", 0);
	int ret = (int)arg_i(r, "ret", 0);
	int pid = (int)arg_i(r, "pid", -1);
	if (path[0] != '/' || !good_word(path) || strlen(path) > 4096) {
		r_err(c, r->id, EINVAL, "path must be absolute, without spaces");
		return;
	}
	if (pid < -1) pid = -1;
	int retbit, type = g_no_pmu ? -1 : pmu_type("uprobe", &retbit);
	if (type >= 0) {
		struct perf_event_attr pa;
		memset(&pa, 0, sizeof(pa));
		pa.type = (uint32_t)type;
		pa.size = sizeof(pa);
		pa.config = ret ? 1ull << retbit : 0;
		pa.config1 = ptr(path);   /* uprobe_path */
		pa.config2 = off;         /* probe_offset */
		pa.sample_period = 1;
		pa.wakeup_events = 1;
		/* system-wide needs a CPU; one process any CPU */
		int fd = open_and_attach(c, r, &pa, pid, pid < 0 ? 0 : -1, ret ? "uretprobe" : "uprobe");
		if (fd >= 0) finish_probe(c, r, fd, NULL, 1);
		return;
	}
	if (!have_events_file("uprobe_events")) {
		r_err(c, r->id, EOPNOTSUPP, "uprobes are not available on this kernel "
		      "(no uprobe PMU and no tracefs uprobe_events)");
		return;
	}
	char target[4200];
	snprintf(target, sizeof(target), "%s:0x%llx", path, (unsigned long long)off);
	char *probe = NULL;
	int fd = tracefs_probe(c, r, 1, target, ret, 0, pid, &probe);
	if (fd >= 0) finish_probe(c, r, fd, probe, 1);
}
