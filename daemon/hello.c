/* hello: what the target is and what its kernel can do; tracefs discovery. */
#include "bpfd.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

long g_page_size = 4096;
int g_ncpus = 1;
int g_no_batch;
int g_no_pmu;

static inline uint64_t ptr(const void *p) { return (uint64_t)(uintptr_t)p; }

/* Read a one-line sysfs/procfs value without its trailing newline. */
static void read_line(const char *path, char *dst, size_t cap)
{
	int n = read_small(path, dst, cap);
	if (n < 0) n = 0;
	while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' ')) n--;
	dst[n] = 0;
}

void hello_init(void)
{
	char txt[4096];
	static int cpus[4096];
	long ps = sysconf(_SC_PAGESIZE);
	if (ps > 0) g_page_size = ps;
	read_line("/sys/devices/system/cpu/possible", txt, sizeof(txt));
	int n = parse_cpu_list(txt, strlen(txt), cpus, 4096);
	if (n > 0) {
		/* per-CPU values come in num_possible_cpus() slots */
		g_ncpus = n;
	} else {
		long k = sysconf(_SC_NPROCESSORS_CONF);
		g_ncpus = k > 0 ? (int)k : 1;
	}
	const char *e = getenv("BPFD_NO_BATCH");
	g_no_batch = e && !strcmp(e, "1");
	e = getenv("BPFD_NO_PMU");
	g_no_pmu = e && !strcmp(e, "1");
}

/* Where tracefs is mounted, per /proc/mounts; prefers /sys/kernel/tracing. */
static int find_tracefs(char *dst, size_t cap)
{
	FILE *f = fopen("/proc/mounts", "re");
	if (!f) return 0;
	char line[4096];
	int found = 0, debugfs = 0;
	while (fgets(line, sizeof(line), f)) {
		/* "device mountpoint fstype options ..." */
		char *save = NULL;
		char *dev = strtok_r(line, " ", &save);
		char *mnt = dev ? strtok_r(NULL, " ", &save) : NULL;
		char *type = mnt ? strtok_r(NULL, " ", &save) : NULL;
		if (!type) continue;
		if (!strcmp(type, "debugfs") && !strcmp(mnt, "/sys/kernel/debug")) debugfs = 1;
		if (strcmp(type, "tracefs")) continue;
		if (!strcmp(mnt, "/sys/kernel/tracing") || !found) {
			snprintf(dst, cap, "%s", mnt);
			found = 1;
		}
	}
	fclose(f);
	/* debugfs's tracing directory mounts tracefs on first use */
	if (!found && debugfs && access("/sys/kernel/debug/tracing/trace_pipe", F_OK) == 0) {
		snprintf(dst, cap, "/sys/kernel/debug/tracing");
		found = 1;
	}
	return found;
}

const char *tracefs_dir(void)
{
	static char dir[2048];
	if (dir[0] && access(dir, F_OK) == 0) return dir;
	dir[0] = 0;
	if (find_tracefs(dir, sizeof(dir))) return dir;
	if (geteuid() == 0 && mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0)
		snprintf(dir, sizeof(dir), "/sys/kernel/tracing");
	return dir;
}

static int probe_ringbuf(void)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_RINGBUF;
	a.max_entries = (uint32_t)g_page_size;
	int fd = (int)sys_bpf(BPF_MAP_CREATE, &a, sizeof(a));
	if (fd < 0) return 0;
	close(fd);
	return 1;
}

static int probe_batch(void)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_HASH;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 1;
	int fd = (int)sys_bpf(BPF_MAP_CREATE, &a, sizeof(a));
	if (fd < 0) return 0;
	uint32_t keys[1], vals[1], out[4];
	memset(&a, 0, sizeof(a));
	a.batch.map_fd = (uint32_t)fd;
	a.batch.out_batch = ptr(out);
	a.batch.keys = ptr(keys);
	a.batch.values = ptr(vals);
	a.batch.count = 1;
	/* An empty map answers ENOENT when the command exists. */
	int ok = sys_bpf(BPF_MAP_LOOKUP_BATCH, &a, sizeof(a)) == 0 || errno == ENOENT;
	close(fd);
	return ok;
}

static int probe_link(void)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.link_create.prog_fd = (uint32_t)-1;
	a.link_create.target_fd = (uint32_t)-1;
	/* A known command fails on the bad fd; an unknown one with EINVAL. */
	return sys_bpf(BPF_LINK_CREATE, &a, sizeof(a)) < 0 && errno == EBADF;
}

static const char *probe_kind(const char *pmu, const char *events_file)
{
	char path[4096];
	snprintf(path, sizeof(path), "/sys/bus/event_source/devices/%s/type", pmu);
	if (!g_no_pmu && access(path, F_OK) == 0) return "pmu";
	const char *tf = tracefs_dir();
	if (*tf) {
		snprintf(path, sizeof(path), "%s/%s", tf, events_file);
		if (access(path, F_OK) == 0) return "tracefs";
	}
	return "none";
}

void op_hello(struct conn *c, struct req *r)
{
	long long proto = arg_i(r, "proto", 0);
	if (proto != PROTO_VERSION) {
		r_err_begin(c, r->id, EPROTO, "bpfd speaks protocol %d, the host %lld", PROTO_VERSION, proto);
		r_int(c, "proto", PROTO_VERSION);
		r_end(c);
		return;
	}
	struct utsname u;
	char possible[4096], online[4096], boot_id[64];
	struct stat st;
	memset(&u, 0, sizeof(u));
	uname(&u);
	read_line("/sys/devices/system/cpu/possible", possible, sizeof(possible));
	read_line("/sys/devices/system/cpu/online", online, sizeof(online));
	read_line("/proc/sys/kernel/random/boot_id", boot_id, sizeof(boot_id));
	int btf = stat("/sys/kernel/btf/vmlinux", &st) == 0;

	r_ok(c, r->id);
	r_int(c, "proto", PROTO_VERSION);
	r_cstr(c, "bpfd", BPFD_VERSION);
	r_cstr(c, "release", u.release);
	r_cstr(c, "machine", u.machine);
	r_int(c, "page_size", g_page_size);
	r_cstr(c, "cpus_possible", possible);
	r_cstr(c, "cpus_online", online);
	r_int(c, "ncpus", g_ncpus);
	r_int(c, "uid", (long long)geteuid());
	r_int(c, "btf", btf);
	r_int(c, "btf_size", btf ? (long long)st.st_size : 0);
	r_cstr(c, "tracefs", tracefs_dir());
	r_cstr(c, "boot_id", boot_id);
	r_int(c, "ringbuf", probe_ringbuf());
	r_int(c, "batch", !g_no_batch && probe_batch());
	r_cstr(c, "kprobe", probe_kind("kprobe", "kprobe_events"));
	r_cstr(c, "uprobe", probe_kind("uprobe", "uprobe_events"));
	r_int(c, "link", probe_link());
	r_end(c);
}
