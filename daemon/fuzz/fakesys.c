/* A small fake of the kernel and file system bpfd talks to, for fuzzing.
 *
 * It is strict where the real kernel is: it reads and writes exactly the
 * bytes the kernel would (so AddressSanitizer sees a buffer bpfd sized
 * wrongly), refuses what the kernel refuses, and keeps count of every object,
 * mapping and tracefs probe so a connection that ends with one still alive is
 * reported. It is deliberately simple everywhere else. */
#define _GNU_SOURCE
#include "fakesys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define PAGE 4096u
#define NCPU_POSSIBLE 4           /* /sys/devices/system/cpu/possible: 0-3 */
#define NCPU_ONLINE 2             /* /sys/devices/system/cpu/online: 0-1 */
#define MAXFD 256
#define PID 4242
#define HASH_SLOTS_MAX 64         /* entries a fake hash map holds */
#define MAP_BYTES_MAX (1u << 20)  /* memory a fake map may take */
#define PERF_PAGES_MAX 256        /* data pages a perf buffer may map */
#define PSEUDO_READ_MAX 1000      /* procfs hands out small pieces per read */
#define ENOTSUPP_KERNEL 524
#define TP_ID_FIRST_PROBE 2000

enum okind { O_MAP = 1, O_PROG, O_BTF, O_PERF, O_LINK, O_EPOLL, O_FILE, O_OUT };

struct vnode;

struct obj {
	int kind, refs;
	/* map */
	uint32_t mtype, ks, vs, vsk, max, nslots;
	int frozen;
	uint8_t *used, *keys, *vals;
	struct obj **held;          /* fd arrays and maps of maps: what a slot holds */
	/* prog */
	uint32_t ptype, attach_btf_id;
	/* perf event */
	uint32_t etype;
	long tp_id;                 /* tracepoint events: which one */
	struct obj *prog;           /* also: a link's program */
	/* file */
	char *path;
	const struct vnode *vn;
	char *snap;                 /* generated contents, fixed at open */
	size_t snap_len;
	uint64_t pos;
	int flags;
	void (*sink)(const uint8_t *p, size_t n);
};

/* ---- the file system ---- */

enum vtype { V_REG, V_DIR, V_LNK, V_FIFO, V_CHR };
enum vgen { G_TEXT, G_SYNTH, G_MOUNTS, G_KPROBE_EVENTS, G_UPROBE_EVENTS, G_TRACE_PIPE, G_KALLSYMS, G_NULL };

struct vnode {
	const char *path;
	uint8_t type, gen;
	uint8_t pseudo;     /* st_size 0 like procfs/sysfs/tracefs */
	uint8_t writable;
	uint8_t tracefs;    /* exists only while tracefs is mounted */
	uint8_t unknown;    /* readdir reports DT_UNKNOWN */
	const char *text;   /* G_TEXT contents or V_LNK target */
	size_t size;        /* G_SYNTH */
};

#define TR "/sys/kernel/tracing"
static const char long_target[] =
	"/data/app/com.example.some.rather.long.package.name-1a2b3c4d5e6f7a8b9c0d/lib/arm64/"
	"libsomething_with_a_very_long_name_to_make_readlink_grow_its_buffer_more_than_once.so."
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567";

static const struct vnode vfs[] = {
	{ "/proc/self/comm", V_REG, G_TEXT, 1, 0, 0, 0, "bpfd\n", 0 },
	{ "/proc/self/exe", V_LNK, 0, 0, 0, 0, 0, "/data/local/tmp/bpfd", 0 },
	{ "/proc/self/fd/0", V_LNK, 0, 0, 0, 0, 0, "/dev/null", 0 },
	{ "/proc/self/maps", V_REG, G_TEXT, 1, 0, 0, 0,
	  "5581a000-5581b000 r-xp 00000000 08:01 1234 /usr/bin/true\n"
	  "7f00a000-7f00b000 r--p 00000000 00:00 0 [vdso]\n", 0 },
	{ "/proc/mounts", V_REG, G_MOUNTS, 1, 0, 0, 0, NULL, 0 },
	{ "/proc/kallsyms", V_REG, G_KALLSYMS, 1, 0, 0, 0, NULL, 0 },
	{ "/proc/sys/kernel/random/boot_id", V_REG, G_TEXT, 1, 0, 0, 0, "4b3e2a10-7c1d-4e0f-9a8b-0123456789ab\n", 0 },
	{ "/proc/1/comm", V_REG, G_TEXT, 1, 0, 0, 0, "init\n", 0 },
	{ "/sys/devices/system/cpu/possible", V_REG, G_TEXT, 1, 0, 0, 0, "0-3\n", 0 },
	{ "/sys/devices/system/cpu/online", V_REG, G_TEXT, 1, 0, 0, 0, "0-1\n", 0 },
	{ "/sys/kernel/btf/vmlinux", V_REG, G_SYNTH, 0, 0, 0, 0, NULL, 300000 },
	{ "/sys/bus/event_source/devices/kprobe/type", V_REG, G_TEXT, 1, 0, 0, 0, "6\n", 0 },
	{ "/sys/bus/event_source/devices/kprobe/format/retprobe", V_REG, G_TEXT, 1, 0, 0, 0, "config:0\n", 0 },
	{ "/sys/bus/event_source/devices/uprobe/type", V_REG, G_TEXT, 1, 0, 0, 0, "7\n", 0 },
	{ "/sys/bus/event_source/devices/uprobe/format/retprobe", V_REG, G_TEXT, 1, 0, 0, 0, "config:0\n", 0 },
	{ "/sys/kernel/debug", V_DIR, 0, 0, 0, 0, 0, NULL, 0 },
	{ TR "/kprobe_events", V_REG, G_KPROBE_EVENTS, 1, 1, 1, 0, NULL, 0 },
	{ TR "/uprobe_events", V_REG, G_UPROBE_EVENTS, 1, 1, 1, 0, NULL, 0 },
	{ TR "/trace_pipe", V_FIFO, G_TRACE_PIPE, 1, 0, 1, 0, NULL, 0 },
	{ TR "/events/syscalls/sys_enter_openat/id", V_REG, G_TEXT, 1, 0, 1, 0, "612\n", 0 },
	{ TR "/events/sched/sched_switch/id", V_REG, G_TEXT, 1, 0, 1, 0, "300\n", 0 },
	{ TR "/events/odd/negative/id", V_REG, G_TEXT, 1, 0, 1, 0, "-5\n", 0 },
	{ TR "/events/odd/huge/id", V_REG, G_TEXT, 1, 0, 1, 0, "99999999999999999999999\n", 0 },
	{ TR "/events/odd/empty/id", V_REG, G_TEXT, 1, 0, 1, 0, "", 0 },
	{ "/usr/bin/true", V_REG, G_SYNTH, 0, 0, 0, 0, NULL, 30000 },
	{ "/dev/null", V_CHR, G_NULL, 0, 1, 0, 0, NULL, 0 },
	{ "/data/fifo", V_FIFO, G_NULL, 0, 0, 0, 0, NULL, 0 },
	{ "/data/empty", V_REG, G_TEXT, 0, 0, 0, 0, "", 0 },
	{ "/data/small", V_REG, G_TEXT, 0, 0, 0, 0, "hello, world\n", 0 },
	{ "/data/link", V_LNK, 0, 0, 0, 0, 0, "small", 0 },
	{ "/data/longlink", V_LNK, 0, 0, 0, 0, 0, long_target, 0 },
	{ "/data/odd/plain", V_REG, G_TEXT, 0, 0, 0, 1, "x", 0 },
	{ "/data/odd/a,b=c%d e", V_REG, G_TEXT, 0, 0, 0, 1, "x", 0 },
	{ "/data/odd/\xff\x01tab\there", V_REG, G_TEXT, 0, 0, 0, 0, "x", 0 },
	{ "/data/odd/sub/f", V_REG, G_TEXT, 0, 0, 0, 1, "x", 0 },
	{ "/data/odd/lnk", V_LNK, 0, 0, 0, 0, 1, "plain", 0 },
};
#define NVFS (sizeof(vfs) / sizeof(vfs[0]))

static const char *const kallsyms_known[] = { "do_sys_openat2", "vfs_read", "do_nanosleep", "tcp_v4_connect" };
static const char *const raw_tp_known[] = { "sys_enter", "sys_exit", "sched_switch" };

/* A tracefs k/uprobe: a line in *_events and a tracepoint id. */
struct probe {
	int uprobe;
	char name[128];     /* group/event */
	long id;
	int users;          /* open perf events on it */
};

/* A readdir in progress. */
struct fdir {
	int fd;
	int n, pos;
	char (*names)[256];
	uint8_t *types;
	struct dirent de;
};

/* An fopen'ed file. */
struct ffile {
	char *text;
	size_t len, pos;
};

struct mapping {
	uint8_t *addr;
	size_t len, real;
};

static struct {
	struct fake_config cfg;
	struct obj *fd[MAXFD];
	int nobj;                   /* objects alive */
	struct probe probes[32];
	int nprobes;
	long next_tp_id;
	struct mapping maps[128];
	int nmaps;
	int ndirs, nfiles;
	unsigned long calls;
	int ready;
} S;

void fake_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("\n==fakesys== bpfd broke a rule: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\n", stderr);
	va_end(ap);
	abort();
}

static int fail(int e)
{
	errno = e;
	return -1;
}

/* Fault injection: every Nth fallible call fails with a plausible errno. */
static int fault(void)
{
	static const int errs[] = { EINTR, EAGAIN, ENOMEM, EPERM, EIO, EINVAL, EBUSY, ENOSPC };
	if (!S.cfg.fault_every) return 0;
	S.calls++;
	if (S.calls % (unsigned)S.cfg.fault_every) return 0;
	errno = errs[(S.calls / (unsigned)S.cfg.fault_every) % (sizeof(errs) / sizeof(errs[0]))];
	return 1;
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p) fake_fail("fake out of memory");
	return p;
}

/* ---- bpfd's allocations: they fail too when faults are on ---- */

void *fuzz_malloc(size_t n)
{
	if (fault()) { errno = ENOMEM; return NULL; }
	return malloc(n);
}

void *fuzz_calloc(size_t n, size_t size)
{
	if (fault()) { errno = ENOMEM; return NULL; }
	return calloc(n, size);
}

void *fuzz_realloc(void *p, size_t n)
{
	if (fault()) { errno = ENOMEM; return NULL; }
	return realloc(p, n);
}

char *fuzz_strdup(const char *s)
{
	if (fault()) { errno = ENOMEM; return NULL; }
	return strdup(s);
}

/* ---- objects and descriptors ---- */

static struct obj *obj_new(int kind)
{
	struct obj *o = xcalloc(1, sizeof(*o));
	o->kind = kind;
	o->refs = 1;
	o->tp_id = -1;
	S.nobj++;
	return o;
}

static void obj_put(struct obj *o);

static void map_release_slots(struct obj *o)
{
	if (!o->held) return;
	for (uint32_t i = 0; i < o->nslots; i++)
		if (o->held[i]) { obj_put(o->held[i]); o->held[i] = NULL; }
}

static struct probe *probe_by_id(long id)
{
	for (int i = 0; i < S.nprobes; i++)
		if (S.probes[i].id == id) return &S.probes[i];
	return NULL;
}

static void obj_put(struct obj *o)
{
	if (!o || --o->refs > 0) return;
	switch (o->kind) {
	case O_MAP:
		map_release_slots(o);
		free(o->used);
		free(o->keys);
		free(o->vals);
		free(o->held);
		break;
	case O_PERF: {
		struct probe *p = probe_by_id(o->tp_id);
		if (p) p->users--;
		obj_put(o->prog);
		break;
	}
	case O_LINK:
		obj_put(o->prog);
		break;
	default:
		break;
	}
	free(o->path);
	free(o->snap);
	free(o);
	S.nobj--;
}

static int fd_install(struct obj *o, int min)
{
	for (int fd = min < 3 ? 3 : min; fd < MAXFD; fd++)
		if (!S.fd[fd]) { S.fd[fd] = o; return fd; }
	obj_put(o);
	return fail(EMFILE);
}

static struct obj *fd_obj(int fd)
{
	return fd >= 0 && fd < MAXFD ? S.fd[fd] : NULL;
}

int fuzz_close(int fd)
{
	struct obj *o = fd_obj(fd);
	if (!o) fake_fail("close(%d): not an open descriptor (double close?)", fd);
	S.fd[fd] = NULL;
	obj_put(o);
	return 0;
}

/* ---- paths ---- */

/* Resolve . and .. and repeated slashes; 0 or -errno. */
static int normalize(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	if (in[0] != '/') return -ENOENT;
	if (strlen(in) >= 4096) return -ENAMETOOLONG;
	for (const char *s = in; *s;) {
		while (*s == '/') s++;
		const char *e = s;
		while (*e && *e != '/') e++;
		size_t n = (size_t)(e - s);
		if (n == 0 || (n == 1 && s[0] == '.')) {
			/* nothing */
		} else if (n == 2 && s[0] == '.' && s[1] == '.') {
			while (o > 0 && out[o - 1] != '/') o--;
			if (o > 0) o--;
		} else {
			if (o + 1 + n + 1 > cap) return -ENAMETOOLONG;
			out[o++] = '/';
			memcpy(out + o, s, n);
			o += n;
		}
		s = e;
	}
	if (o == 0) out[o++] = '/';
	out[o] = 0;
	return 0;
}

static int visible(const struct vnode *v)
{
	return !v->tracefs || S.cfg.tracefs;
}

/* Paths of the probe directories tracefs makes for each probe. */
static int probe_path(const struct probe *p, char *dst, size_t cap)
{
	return snprintf(dst, cap, TR "/events/%s/id", p->name) < (int)cap;
}

static int is_prefix_dir(const char *dir, const char *path)
{
	size_t n = strlen(dir);
	if (!strcmp(dir, "/")) return path[0] == '/' && path[1];
	return !strncmp(dir, path, n) && path[n] == '/';
}

/* Whether path is a directory: listed as one, or some node lies below it. */
static int is_dir(const char *path)
{
	for (size_t i = 0; i < NVFS; i++) {
		if (!visible(&vfs[i])) continue;
		if (vfs[i].type == V_DIR && !strcmp(vfs[i].path, path)) return 1;
		if (is_prefix_dir(path, vfs[i].path)) return 1;
	}
	if (S.cfg.tracefs) {
		char pp[256];
		for (int i = 0; i < S.nprobes; i++)
			if (probe_path(&S.probes[i], pp, sizeof(pp)) && is_prefix_dir(path, pp)) return 1;
	}
	return 0;
}

static const struct vnode probe_id_node = { "", V_REG, G_TEXT, 1, 0, 1, 0, NULL, 0 };

/* The node at a normalized path, or NULL; *probe for a probe's id file. */
static const struct vnode *lookup(const char *path, struct probe **probe)
{
	*probe = NULL;
	for (size_t i = 0; i < NVFS; i++)
		if (visible(&vfs[i]) && !strcmp(vfs[i].path, path)) return &vfs[i];
	if (S.cfg.tracefs) {
		char pp[256];
		for (int i = 0; i < S.nprobes; i++)
			if (probe_path(&S.probes[i], pp, sizeof(pp)) && !strcmp(pp, path)) {
				*probe = &S.probes[i];
				return &probe_id_node;
			}
	}
	return NULL;
}

/* ---- generated contents ---- */

static char *gen_text(const struct vnode *v, struct probe *pr, size_t *len)
{
	char *t = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&t, &n);
	if (!m) fake_fail("open_memstream");
	if (pr) {
		fprintf(m, "%ld\n", pr->id);
	} else {
		switch (v->gen) {
		case G_TEXT:
			fputs(v->text, m);
			break;
		case G_MOUNTS:
			fputs("sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
			      "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n", m);
			if (S.cfg.tracefs) fputs("tracefs " TR " tracefs rw,nosuid,nodev,noexec,relatime 0 0\n", m);
			fputs("debugfs /sys/kernel/debug debugfs rw,nosuid,nodev,noexec,relatime 0 0\n"
			      "none /weird\n\n", m);
			break;
		case G_KPROBE_EVENTS:
		case G_UPROBE_EVENTS:
			for (int i = 0; i < S.nprobes; i++)
				if (S.probes[i].uprobe == (v->gen == G_UPROBE_EVENTS))
					fprintf(m, "p:%s %s\n", S.probes[i].name, S.probes[i].uprobe ? "/usr/bin/true:0x0" : "do_nanosleep");
			break;
		case G_KALLSYMS:
			for (int i = 0; i < 120; i++)
				fprintf(m, "ffffffff81%06x T %s_%d\n", i * 64, i % 2 ? "func" : "sym", i);
			break;
		default:
			break;
		}
	}
	fclose(m);
	*len = n;
	return t;
}

static uint8_t synth_byte(uint64_t i)
{
	return (uint8_t)(i * 31 + 7);
}

/* ---- open/read/write and friends ---- */

int fuzz_open(const char *path, int flags, ...)
{
	char np[4096];
	struct probe *pr;
	int e = normalize(path, np, sizeof(np));
	if (e) return fail(-e);
	const struct vnode *v = lookup(np, &pr);
	int acc = flags & O_ACCMODE;
	int events = v && (v->gen == G_KPROBE_EVENTS || v->gen == G_UPROBE_EVENTS);
	/* Opening *_events for a removal must not fail, or probes would leak by our doing. */
	if (!(events && acc == O_WRONLY) && fault()) return -1;
	if (flags & O_CREAT) return fail(EROFS);
	if (!v && !is_dir(np)) return fail(ENOENT);
	if (v && v->type == V_LNK) {
		/* follow one level, relative to the link's directory */
		char tp[4096];
		if (v->text[0] == '/') {
			snprintf(tp, sizeof(tp), "%s", v->text);
		} else {
			snprintf(tp, sizeof(tp), "%s", np);
			char *sl = strrchr(tp, '/');
			snprintf(sl + 1, sizeof(tp) - (size_t)(sl + 1 - tp), "%s", v->text);
		}
		if (!strcmp(tp, np)) return fail(ELOOP);
		return fuzz_open(tp, flags);
	}
	int dir = !v || v->type == V_DIR;
	if (dir) v = NULL;
	if ((flags & O_DIRECTORY) && !dir) return fail(ENOTDIR);
	if (dir && acc != O_RDONLY) return fail(EISDIR);
	if (!dir && acc != O_RDONLY && !v->writable) return fail(EACCES);
	if (!dir && acc == O_RDONLY && events && !S.cfg.root) return fail(EACCES);
	struct obj *o = obj_new(O_FILE);
	o->path = strdup(np);
	o->vn = v;
	o->flags = flags;
	if (v && v->gen != G_SYNTH && v->gen != G_NULL && v->gen != G_TRACE_PIPE)
		o->snap = gen_text(v, pr, &o->snap_len);
	return fd_install(o, 3);
}

static const char trace_text[] =
	"           <...>-4242    [000] d..31  1234.567890: bpf_trace_printk: hello from bpf\n"
	"            bash-1       [001] d..31  1234.567999: bpf_trace_printk: second line\n"
	"            bash-1       [001] d..31  1234.568000: bpf_trace_printk: no newline yet";

ssize_t fuzz_read(int fd, void *buf, size_t n)
{
	struct obj *o = fd_obj(fd);
	if (!o) return fail(EBADF);
	if (fault()) return -1;
	if (o->kind != O_FILE) return fail(EINVAL);
	if (!o->vn) return fail(EISDIR);
	if ((o->flags & O_ACCMODE) == O_WRONLY) return fail(EBADF);
	const struct vnode *v = o->vn;
	size_t got = 0;
	switch (v->gen) {
	case G_NULL:
		if (v->type == V_FIFO) return fail(EAGAIN);
		return 0;
	case G_TRACE_PIPE: {
		size_t len = sizeof(trace_text) - 1;
		if (o->pos >= len) return fail(EAGAIN);
		/* a pipe hands out what it has, in pieces */
		got = len - o->pos < 100 ? len - o->pos : 100;
		if (got > n) got = n;
		memcpy(buf, trace_text + o->pos, got);
		o->pos += got;
		return (ssize_t)got;
	}
	case G_SYNTH:
		if (o->pos < v->size) {
			got = v->size - o->pos < n ? v->size - o->pos : n;
			for (size_t i = 0; i < got; i++) ((uint8_t *)buf)[i] = synth_byte(o->pos + i);
		}
		o->pos += got;
		return (ssize_t)got;
	default:
		if (o->pos < o->snap_len) {
			got = o->snap_len - o->pos < n ? o->snap_len - o->pos : n;
			if (v->pseudo && got > PSEUDO_READ_MAX) got = PSEUDO_READ_MAX;
			memcpy(buf, o->snap + o->pos, got);
		}
		o->pos += got;
		return (ssize_t)got;
	}
}

static struct probe *probe_find(const char *name)
{
	for (int i = 0; i < S.nprobes; i++)
		if (!strcmp(S.probes[i].name, name)) return &S.probes[i];
	return NULL;
}

static int known_sym(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(kallsyms_known) / sizeof(kallsyms_known[0]); i++)
		if (strlen(kallsyms_known[i]) == n && !memcmp(kallsyms_known[i], s, n)) return 1;
	return 0;
}

/* One line written to kprobe_events/uprobe_events. */
static ssize_t probe_write(int uprobe, const char *buf, size_t n)
{
	char line[8192];
	if (!n || n >= sizeof(line)) return fail(EINVAL);
	memcpy(line, buf, n);
	line[n] = 0;
	/* bpfd writes one definition per write; anything more is an injection. */
	char *nl = memchr(line, '\n', n);
	if (!nl || nl != line + n - 1)
		fake_fail("probe definition is not exactly one line: '%.200s'", line);
	*nl = 0;
	for (char *s = line; *s; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s > '~')
			fake_fail("probe definition holds byte 0x%02x: '%.200s'", (unsigned char)*s, line);
	int spaces = 0;
	for (char *s = line; *s; s++) spaces += *s == ' ';
	char *colon = strchr(line, ':');
	if (!colon) return fail(EINVAL);
	if (line[0] == '-') {
		if (spaces) fake_fail("probe removal with extra words: '%.200s'", line);
		struct probe *p = probe_find(colon + 1);
		if (!p || p->uprobe != uprobe) return fail(ENOENT);
		if (p->users) return fail(EBUSY);
		*p = S.probes[--S.nprobes];
		return (ssize_t)n;
	}
	if (fault()) return -1;
	if (spaces != 1) fake_fail("probe definition is not 'KIND:NAME TARGET': '%.200s'", line);
	char *sp = strchr(line, ' ');
	*sp = 0;
	const char *target = sp + 1;
	if (line[0] != 'p' && line[0] != 'r') return fail(EINVAL);
	if (line[0] == 'r' && colon > line + 1) {
		char *e;
		long ma = strtol(line + 1, &e, 10);
		if (e != colon || ma < 1 || ma > 4096 || uprobe) return fail(EINVAL);
	} else if (colon != line + 1) {
		return fail(EINVAL);
	}
	const char *name = colon + 1;
	const char *slash = strchr(name, '/');
	if (!slash || strcmp(slash, strrchr(name, '/')) || strncmp(name, uprobe ? "uprobes/" : "kprobes/", 8))
		return fail(EINVAL);
	if (strlen(name) >= sizeof(S.probes[0].name)) return fail(EINVAL);
	if (probe_find(name)) return fail(EEXIST);
	if (uprobe) {
		const char *c = strrchr(target, ':');
		char path[4096], np[4096];
		struct probe *dummy;
		if (!c || strncmp(c, ":0x", 3) || (size_t)(c - target) >= sizeof(path)) return fail(EINVAL);
		memcpy(path, target, (size_t)(c - target));
		path[c - target] = 0;
		if (normalize(path, np, sizeof(np)) || !lookup(np, &dummy)) return fail(ENOENT);
	} else {
		const char *plus = strchr(target, '+');
		if (!known_sym(target, plus ? (size_t)(plus - target) : strlen(target))) return fail(ENOENT);
	}
	if (S.nprobes == (int)(sizeof(S.probes) / sizeof(S.probes[0]))) return fail(ENOSPC);
	struct probe *p = &S.probes[S.nprobes++];
	memset(p, 0, sizeof(*p));
	p->uprobe = uprobe;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->id = S.next_tp_id++;
	return (ssize_t)n;
}

ssize_t fuzz_write(int fd, const void *buf, size_t n)
{
	struct obj *o = fd_obj(fd);
	if (!o) return fail(EBADF);
	if (o->kind == O_OUT) {
		if (o->sink) o->sink(buf, n);
		return (ssize_t)n;
	}
	if (o->kind != O_FILE || !o->vn || (o->flags & O_ACCMODE) == O_RDONLY) return fail(EBADF);
	if (o->vn->gen == G_KPROBE_EVENTS || o->vn->gen == G_UPROBE_EVENTS) {
		if (!(o->flags & O_APPEND) && (o->flags & O_TRUNC))
			fake_fail("%s opened for truncation: every probe would go", o->path);
		return probe_write(o->vn->gen == G_UPROBE_EVENTS, buf, n);
	}
	if (fault()) return -1;
	return (ssize_t)n;
}

off_t fuzz_lseek(int fd, off_t off, int whence)
{
	struct obj *o = fd_obj(fd);
	if (!o) return fail(EBADF);
	if (fault()) return -1;
	if (o->kind != O_FILE) return fail(ESPIPE);
	if (o->vn && (o->vn->type == V_FIFO)) return fail(ESPIPE);
	if (whence != SEEK_SET || off < 0) return fail(EINVAL);
	o->pos = (uint64_t)off;
	return off;
}

static void fill_stat(const struct vnode *v, int dir, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_blksize = 4096;
	st->st_dev = makedev(8, 1);
	if (dir) { st->st_mode = S_IFDIR | 0755; return; }
	/* Stable per file, as the host keys what it caches by inode and times;
	 * generated nodes (tracefs probe ids) are not in vfs[]. */
	uintptr_t at = (uintptr_t)v, base = (uintptr_t)vfs;
	size_t idx = at >= base && at < base + sizeof(vfs) ? (at - base) / sizeof(vfs[0]) : NVFS;
	st->st_ino = (ino_t)idx + 2;
	st->st_mtim.tv_sec = 1700000000 + (time_t)idx;
	st->st_ctim = st->st_mtim;
	switch (v->type) {
	case V_DIR: st->st_mode = S_IFDIR | 0755; break;
	case V_LNK: st->st_mode = S_IFLNK | 0777; st->st_size = (off_t)strlen(v->text); return;
	case V_FIFO: st->st_mode = S_IFIFO | 0600; break;
	case V_CHR: st->st_mode = S_IFCHR | 0666; break;
	default: st->st_mode = S_IFREG | 0644; break;
	}
	if (v->pseudo) return;
	if (v->gen == G_SYNTH) st->st_size = (off_t)v->size;
	else if (v->gen == G_TEXT && v->text) st->st_size = (off_t)strlen(v->text);
}

int fuzz_fstat(int fd, struct stat *st)
{
	struct obj *o = fd_obj(fd);
	if (!o) return fail(EBADF);
	if (fault()) return -1;
	if (o->kind != O_FILE) {
		memset(st, 0, sizeof(*st));
		return 0;
	}
	fill_stat(o->vn, !o->vn, st);
	return 0;
}

/* lstat-like when nofollow; follows one link level otherwise. */
static int path_stat(const char *path, struct stat *st, int nofollow)
{
	char np[4096];
	struct probe *pr;
	int e = normalize(path, np, sizeof(np));
	if (e) return fail(-e);
	const struct vnode *v = lookup(np, &pr);
	if (!v && !is_dir(np)) return fail(ENOENT);
	if (v && v->type == V_LNK && !nofollow) {
		int fd = fuzz_open(np, O_RDONLY);
		if (fd < 0) return -1;
		int rc = fuzz_fstat(fd, st);
		fuzz_close(fd);
		return rc;
	}
	fill_stat(v, !v, st);
	return 0;
}

int fuzz_stat(const char *path, struct stat *st)
{
	if (fault()) return -1;
	return path_stat(path, st, 0);
}

int fuzz_fstatat(int dfd, const char *name, struct stat *st, int flags)
{
	struct obj *o = fd_obj(dfd);
	if (!o) return fail(EBADF);
	if (fault()) return -1;
	if (o->kind != O_FILE || o->vn) return fail(ENOTDIR);
	if (name[0] == '/') return path_stat(name, st, flags & AT_SYMLINK_NOFOLLOW);
	char p[8192];
	snprintf(p, sizeof(p), "%s/%s", o->path, name);
	return path_stat(p, st, flags & AT_SYMLINK_NOFOLLOW);
}

ssize_t fuzz_readlink(const char *path, char *buf, size_t cap)
{
	char np[4096];
	struct probe *pr;
	if (fault()) return -1;
	int e = normalize(path, np, sizeof(np));
	if (e) return fail(-e);
	const struct vnode *v = lookup(np, &pr);
	if (!v) return fail(is_dir(np) ? EINVAL : ENOENT);
	if (v->type != V_LNK) return fail(EINVAL);
	size_t n = strlen(v->text);
	if (n > cap) n = cap;
	memcpy(buf, v->text, n);   /* no NUL, as readlink(2) */
	return (ssize_t)n;
}

int fuzz_access(const char *path, int mode)
{
	char np[4096];
	struct probe *pr;
	if (fault()) return -1;
	int e = normalize(path, np, sizeof(np));
	if (e) return fail(-e);
	const struct vnode *v = lookup(np, &pr);
	if (!v && !is_dir(np)) return fail(ENOENT);
	if ((mode & W_OK) && (!v || !v->writable || !S.cfg.root)) return fail(EACCES);
	return 0;
}

/* ---- directories ---- */

DIR *fuzz_fdopendir(int fd)
{
	struct obj *o = fd_obj(fd);
	if (!o) { errno = EBADF; return NULL; }
	if (o->kind != O_FILE || o->vn) { errno = ENOTDIR; return NULL; }
	struct fdir *d = xcalloc(1, sizeof(*d));
	d->fd = fd;
	d->names = xcalloc(NVFS + 64, sizeof(*d->names));
	d->types = xcalloc(NVFS + 64, 1);
	const char *dir = o->path;
	size_t dn = strcmp(dir, "/") ? strlen(dir) : 0;
	char pp[256];
	for (size_t i = 0; i < NVFS + (size_t)S.nprobes; i++) {
		const char *p;
		int type = DT_REG;
		if (i < NVFS) {
			if (!visible(&vfs[i])) continue;
			p = vfs[i].path;
			if (vfs[i].unknown) type = DT_UNKNOWN;
			else if (vfs[i].type == V_LNK) type = DT_LNK;
			else if (vfs[i].type == V_DIR) type = DT_DIR;
			else if (vfs[i].type == V_FIFO) type = DT_FIFO;
			else if (vfs[i].type == V_CHR) type = DT_CHR;
		} else {
			if (!S.cfg.tracefs || !probe_path(&S.probes[i - NVFS], pp, sizeof(pp))) continue;
			p = pp;
		}
		if (!is_prefix_dir(dir, p)) continue;
		const char *s = p + dn + 1, *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (e) type = (i < NVFS && vfs[i].unknown) ? DT_UNKNOWN : DT_DIR;
		int dup = 0;
		for (int k = 0; k < d->n; k++)
			if (strlen(d->names[k]) == n && !memcmp(d->names[k], s, n)) dup = 1;
		if (dup || n > 255) continue;
		memcpy(d->names[d->n], s, n);
		d->names[d->n][n] = 0;
		d->types[d->n] = (uint8_t)type;
		d->n++;
	}
	S.ndirs++;
	return (DIR *)d;
}

struct dirent *fuzz_readdir(DIR *dp)
{
	struct fdir *d = (struct fdir *)dp;
	/* "." and ".." come first, as on a real file system */
	if (d->pos < 2) {
		memset(&d->de, 0, sizeof(d->de));
		snprintf(d->de.d_name, sizeof(d->de.d_name), "%s", d->pos ? ".." : ".");
		d->de.d_type = DT_DIR;
		d->pos++;
		return &d->de;
	}
	if (d->pos - 2 >= d->n) return NULL;
	memset(&d->de, 0, sizeof(d->de));
	memcpy(d->de.d_name, d->names[d->pos - 2], sizeof(d->de.d_name));
	d->de.d_type = d->types[d->pos - 2];
	d->pos++;
	return &d->de;
}

int fuzz_closedir(DIR *dp)
{
	struct fdir *d = (struct fdir *)dp;
	fuzz_close(d->fd);
	free(d->names);
	free(d->types);
	free(d);
	S.ndirs--;
	return 0;
}

/* ---- stdio reads of /proc/mounts and *_events ---- */

FILE *fuzz_fopen(const char *path, const char *mode)
{
	if (strcmp(mode, "r") && strcmp(mode, "re")) fake_fail("fopen(%s, %s): bpfd only reads", path, mode);
	int fd = fuzz_open(path, O_RDONLY);
	if (fd < 0) return NULL;
	struct obj *o = fd_obj(fd);
	struct ffile *f = xcalloc(1, sizeof(*f));
	if (o->snap) {
		f->text = xcalloc(o->snap_len + 1, 1);
		memcpy(f->text, o->snap, o->snap_len);
		f->len = o->snap_len;
	}
	fuzz_close(fd);
	S.nfiles++;
	return (FILE *)f;
}

char *fuzz_fgets(char *s, int size, FILE *fp)
{
	struct ffile *f = (struct ffile *)fp;
	if (size <= 0 || f->pos >= f->len) return NULL;
	int i = 0;
	while (i < size - 1 && f->pos < f->len) {
		char ch = f->text[f->pos++];
		s[i++] = ch;
		if (ch == '\n') break;
	}
	s[i] = 0;
	return s;
}

int fuzz_fclose(FILE *fp)
{
	struct ffile *f = (struct ffile *)fp;
	free(f->text);
	free(f);
	S.nfiles--;
	return 0;
}

/* ---- process and system ---- */

int fuzz_mount(const char *src, const char *target, const char *type, unsigned long flags, const void *data)
{
	(void)src; (void)flags; (void)data;
	if (fault()) return -1;
	if (!S.cfg.root) return fail(EPERM);
	if (strcmp(type, "tracefs") || strcmp(target, TR)) return fail(EINVAL);
	if (S.cfg.tracefs) return fail(EBUSY);
	S.cfg.tracefs = 1;
	return 0;
}

int fuzz_uname(struct utsname *u)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->sysname, sizeof(u->sysname), "Linux");
	snprintf(u->nodename, sizeof(u->nodename), "fuzz");
	snprintf(u->release, sizeof(u->release), "6.1.0-fuzz %%weird=,");
	snprintf(u->version, sizeof(u->version), "#1 SMP");
	snprintf(u->machine, sizeof(u->machine), "x86_64");
	return 0;
}

uid_t fuzz_geteuid(void) { return S.cfg.root ? 0 : 1000; }
pid_t fuzz_getpid(void) { return PID; }

int fuzz_kill(pid_t pid, int sig)
{
	if (sig != 0) fake_fail("kill(%d, %d): bpfd only probes for processes", (int)pid, sig);
	return pid == 1 || pid == PID ? 0 : fail(ESRCH);
}

int fuzz_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	(void)timeout;
	for (nfds_t i = 0; i < n; i++) fds[i].revents = fds[i].events & (POLLIN | POLLOUT);
	return (int)n;
}

/* ---- fcntl, epoll ---- */

int fuzz_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	int arg = va_arg(ap, int);
	va_end(ap);
	struct obj *o = fd_obj(fd);
	if (!o) return fail(EBADF);
	if (cmd == F_GETFD) return 0;
	if (fault()) return -1;
	if (cmd != F_DUPFD_CLOEXEC && cmd != F_DUPFD) return fail(EINVAL);
	o->refs++;
	return fd_install(o, arg);
}

int fuzz_epoll_create1(int flags)
{
	if (fault()) return -1;
	if (flags & ~EPOLL_CLOEXEC) return fail(EINVAL);
	return fd_install(obj_new(O_EPOLL), 3);
}

int fuzz_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct obj *e = fd_obj(epfd), *o = fd_obj(fd);
	if (!e || !o) return fail(EBADF);
	if (fault()) return -1;
	if (e->kind != O_EPOLL || op != EPOLL_CTL_ADD || !ev) return fail(EINVAL);
	return 0;
}

int fuzz_epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
	(void)evs; (void)timeout;
	struct obj *e = fd_obj(epfd);
	if (!e || e->kind != O_EPOLL || max <= 0) return fail(EINVAL);
	return 0;
}

/* ---- memory mappings ---- */

static void *map_pages(size_t len, int prot)
{
	/* a guard page behind every mapping, so running off its end faults */
	size_t real = ((len + PAGE - 1) & ~(size_t)(PAGE - 1)) + PAGE;
	if (S.nmaps == (int)(sizeof(S.maps) / sizeof(S.maps[0]))) return NULL;
	uint8_t *p = mmap(NULL, real, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) return NULL;
	mprotect(p + real - PAGE, PAGE, PROT_NONE);
	S.maps[S.nmaps++] = (struct mapping){ p, len, real };
	(void)prot;
	return p;
}

static void protect(void *p, size_t len, int prot)
{
	mprotect(p, (len + PAGE - 1) & ~(size_t)(PAGE - 1), prot);
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Records as the kernel leaves them in a fresh ring buffer. */
static void ring_fill(uint8_t *prod_pg)
{
	uint8_t *data = prod_pg + PAGE;
	size_t off = 0;
	put_u32(data + off, 5); put_u32(data + off + 4, 0);
	memcpy(data + off + BPF_RINGBUF_HDR_SZ, "hello", 5);
	off += (5 + BPF_RINGBUF_HDR_SZ + 7) & ~7u;
	put_u32(data + off, 3 | BPF_RINGBUF_DISCARD_BIT); put_u32(data + off + 4, 0);
	off += (3 + BPF_RINGBUF_HDR_SZ + 7) & ~7u;
	put_u32(data + off, 0); put_u32(data + off + 4, 0);
	off += BPF_RINGBUF_HDR_SZ;
	put_u64(prod_pg, off);
}

/* Write n bytes at ring offset off of a perf data area of size sz, wrapping. */
static void perf_put(uint8_t *data, size_t sz, uint64_t off, const void *src, size_t n)
{
	for (size_t i = 0; i < n; i++) data[(off + i) % sz] = ((const uint8_t *)src)[i];
}

/* A sample and a lost record, straddling the end of the data area. */
static void perf_fill(uint8_t *base, size_t dsize)
{
	struct perf_event_mmap_page *mp = (void *)base;
	uint8_t *data = base + PAGE;
	uint64_t tail = dsize - 16, at = tail;
	struct perf_event_header h = { PERF_RECORD_SAMPLE, 0, sizeof(h) + 4 + 12 };
	uint32_t rs = 12;
	uint8_t raw[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0 };
	perf_put(data, dsize, at, &h, sizeof(h)); at += sizeof(h);
	perf_put(data, dsize, at, &rs, 4); at += 4;
	perf_put(data, dsize, at, raw, 12); at += 12;
	struct perf_event_header l = { PERF_RECORD_LOST, 0, sizeof(l) + 16 };
	uint64_t id = 1, lost = 3;
	perf_put(data, dsize, at, &l, sizeof(l)); at += sizeof(l);
	perf_put(data, dsize, at, &id, 8); at += 8;
	perf_put(data, dsize, at, &lost, 8); at += 8;
	mp->data_tail = tail;
	mp->data_head = at;
}

void *fuzz_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct obj *o = fd_obj(fd);
	if (!o) { errno = EBADF; return MAP_FAILED; }
	if (fault()) return MAP_FAILED;
	if (addr || !(flags & MAP_SHARED) || !len) { errno = EINVAL; return MAP_FAILED; }
	uint8_t *p;
	if (o->kind == O_MAP && o->mtype == BPF_MAP_TYPE_RINGBUF) {
		if (off == 0) {
			if (len > PAGE) { errno = EINVAL; return MAP_FAILED; }
			if (!(p = map_pages(len, prot))) { errno = ENOMEM; return MAP_FAILED; }
			return p;
		}
		if (off != PAGE || len > PAGE + 2 * (size_t)o->max) { errno = EINVAL; return MAP_FAILED; }
		if (prot & PROT_WRITE) { errno = EPERM; return MAP_FAILED; }
		if (!(p = map_pages(len, prot))) { errno = ENOMEM; return MAP_FAILED; }
		ring_fill(p);
		protect(p, len, PROT_READ);
		return p;
	}
	if (o->kind == O_PERF) {
		size_t pages = len / PAGE;
		if (off || len % PAGE || pages < 2 || ((pages - 1) & (pages - 2))) { errno = EINVAL; return MAP_FAILED; }
		if (pages - 1 > PERF_PAGES_MAX) { errno = EPERM; return MAP_FAILED; }
		if (!(p = map_pages(len, prot))) { errno = ENOMEM; return MAP_FAILED; }
		perf_fill(p, len - PAGE);
		return p;
	}
	errno = ENODEV;
	return MAP_FAILED;
}

int fuzz_munmap(void *addr, size_t len)
{
	for (int i = 0; i < S.nmaps; i++) {
		if (S.maps[i].addr != addr) continue;
		if (S.maps[i].len != len)
			fake_fail("munmap of %zu bytes of a %zu-byte mapping", len, S.maps[i].len);
		munmap(S.maps[i].addr, S.maps[i].real);
		S.maps[i] = S.maps[--S.nmaps];
		return 0;
	}
	fake_fail("munmap of an address that is not mapped");
}

/* ---- perf events ---- */

static int perf_event_open(const struct perf_event_attr *ua, int pid, int cpu, int group, unsigned long flags)
{
	struct perf_event_attr a;
	if (fault()) return -1;
	memcpy(&a, ua, sizeof(a)); /* the kernel copies attr in first */
	if (a.size != sizeof(a) || group != -1 || flags != PERF_FLAG_FD_CLOEXEC) return fail(EINVAL);
	if ((pid == -1 && cpu == -1) || cpu < -1 || cpu >= NCPU_ONLINE) return fail(EINVAL);
	if (pid < -1 || (pid > 0 && pid != 1 && pid != PID)) return fail(ESRCH);
	if (a.freq && a.sample_freq > 100000) return fail(EINVAL);
	long tp = -1;
	switch (a.type) {
	case PERF_TYPE_TRACEPOINT: {
		struct probe *p = probe_by_id((long)a.config);
		if (a.config != 612 && a.config != 300 && !p) return fail(EINVAL);
		tp = (long)a.config;
		break;
	}
	case 6: /* the kprobe PMU */
	case 7: { /* the uprobe PMU */
		const char *s = (const char *)(uintptr_t)a.config1;
		if (!s) return fail(EINVAL);
		size_t n = strlen(s);   /* the kernel copies the string in */
		if (a.config & ~1ull) return fail(EINVAL);
		if (a.type == 6) {
			if (!known_sym(s, n) || a.config2 >= 64) return fail(ENOENT);
		} else {
			char np[4096];
			struct probe *dummy;
			if (normalize(s, np, sizeof(np)) || !lookup(np, &dummy)) return fail(ENOENT);
		}
		break;
	}
	case PERF_TYPE_SOFTWARE:
		if (a.config > PERF_COUNT_SW_BPF_OUTPUT) return fail(ENOENT);
		break;
	case PERF_TYPE_HARDWARE:
		if (a.config >= PERF_COUNT_HW_MAX) return fail(ENOENT);
		break;
	default:
		return fail(ENOENT);
	}
	struct obj *o = obj_new(O_PERF);
	o->etype = a.type;
	o->tp_id = tp;
	struct probe *p = probe_by_id(tp);
	if (p) p->users++;
	return fd_install(o, 3);
}

int fuzz_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	int arg = va_arg(ap, int);
	va_end(ap);
	struct obj *o = fd_obj(fd);
	if (!o) return fail(EBADF);
	if (fault()) return -1;
	if (o->kind != O_PERF) return fail(ENOTTY);
	if (req == PERF_EVENT_IOC_ENABLE) return 0;
	if (req != PERF_EVENT_IOC_SET_BPF) return fail(ENOTTY);
	struct obj *prog = fd_obj(arg);
	if (!prog) return fail(EBADF);
	if (prog->kind != O_PROG) return fail(EINVAL);
	if (o->prog) return fail(EEXIST);
	int want;
	if (o->etype == PERF_TYPE_TRACEPOINT) {
		struct probe *p = probe_by_id(o->tp_id);
		want = p ? BPF_PROG_TYPE_KPROBE : BPF_PROG_TYPE_TRACEPOINT;
	} else if (o->etype == 6 || o->etype == 7) {
		want = BPF_PROG_TYPE_KPROBE;
	} else {
		want = BPF_PROG_TYPE_PERF_EVENT;
	}
	if (prog->ptype != (uint32_t)want) return fail(EINVAL);
	prog->refs++;
	o->prog = prog;
	return 0;
}

/* ---- bpf(2): maps ---- */

static int map_is_percpu(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static int map_is_array(uint32_t t)
{
	return t == BPF_MAP_TYPE_ARRAY || t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PROG_ARRAY ||
	       t == BPF_MAP_TYPE_PERF_EVENT_ARRAY || t == BPF_MAP_TYPE_ARRAY_OF_MAPS;
}

static int map_is_hash(uint32_t t)
{
	return t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_HASH ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH || t == BPF_MAP_TYPE_HASH_OF_MAPS;
}

/* Slots whose values are descriptors of other objects. */
static int map_holds_fds(uint32_t t)
{
	return t == BPF_MAP_TYPE_PROG_ARRAY || t == BPF_MAP_TYPE_PERF_EVENT_ARRAY ||
	       t == BPF_MAP_TYPE_ARRAY_OF_MAPS || t == BPF_MAP_TYPE_HASH_OF_MAPS;
}

static struct obj *want_fd(int fd, int kind, int *err)
{
	struct obj *o = fd_obj(fd);
	if (!o) { *err = EBADF; return NULL; }
	if (o->kind != kind) { *err = EINVAL; return NULL; }
	return o;
}

static int map_create(union bpf_attr *a)
{
	uint32_t t = a->map_type, ks = a->key_size, vs = a->value_size, max = a->max_entries;
	int err;
	if (a->map_flags & ~0xffffu) return fail(EINVAL);
	if (!memchr(a->map_name, 0, sizeof(a->map_name))) return fail(EINVAL);
	if (!max) return fail(EINVAL);
	switch (t) {
	case BPF_MAP_TYPE_HASH: case BPF_MAP_TYPE_PERCPU_HASH: case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		if (!ks || ks > 512 || !vs || vs > 65536) return fail(EINVAL);
		break;
	case BPF_MAP_TYPE_ARRAY: case BPF_MAP_TYPE_PERCPU_ARRAY:
		if (ks != 4 || !vs || vs > 65536) return fail(EINVAL);
		break;
	case BPF_MAP_TYPE_PROG_ARRAY: case BPF_MAP_TYPE_PERF_EVENT_ARRAY: case BPF_MAP_TYPE_ARRAY_OF_MAPS:
		if (ks != 4 || vs != 4) return fail(EINVAL);
		break;
	case BPF_MAP_TYPE_HASH_OF_MAPS:
		if (!ks || ks > 512 || vs != 4) return fail(EINVAL);
		break;
	case BPF_MAP_TYPE_QUEUE: case BPF_MAP_TYPE_STACK:
		if (ks || !vs || vs > 65536) return fail(EINVAL);
		break;
	case BPF_MAP_TYPE_RINGBUF:
		if (ks || vs || max % PAGE || (max & (max - 1))) return fail(EINVAL);
		if (max > MAP_BYTES_MAX) return fail(ENOMEM);
		break;
	default:
		return fail(EINVAL);
	}
	if (t == BPF_MAP_TYPE_ARRAY_OF_MAPS || t == BPF_MAP_TYPE_HASH_OF_MAPS) {
		struct obj *in = want_fd((int)a->inner_map_fd, O_MAP, &err);
		if (!in) return fail(err);
		if (map_holds_fds(in->mtype)) return fail(EINVAL);
	}
	if (a->btf_key_type_id || a->btf_value_type_id) {
		if (!want_fd((int)a->btf_fd, O_BTF, &err)) return fail(err);
		if (!a->btf_value_type_id) return fail(EINVAL);
	}
	uint32_t vsk = map_is_percpu(t) ? ((vs + 7) & ~7u) * NCPU_POSSIBLE : vs;
	uint32_t slots = t == BPF_MAP_TYPE_RINGBUF ? 0 : map_is_array(t) ? max : max < HASH_SLOTS_MAX ? max : HASH_SLOTS_MAX;
	if ((uint64_t)slots * (ks + vsk) > MAP_BYTES_MAX) return fail(ENOMEM);
	struct obj *o = obj_new(O_MAP);
	o->mtype = t; o->ks = ks; o->vs = vs; o->vsk = vsk; o->max = max; o->nslots = slots;
	o->used = xcalloc(slots, 1);
	o->keys = xcalloc((size_t)slots, ks);
	o->vals = xcalloc((size_t)slots, vsk);
	if (map_holds_fds(t)) o->held = xcalloc(slots, sizeof(*o->held));
	if (map_is_array(t))
		for (uint32_t i = 0; i < slots; i++) { o->used[i] = 1; put_u32(o->keys + (size_t)i * ks, i); }
	return fd_install(o, 3);
}

/* The slot holding key, or -1; for arrays the key is the index. */
static long map_find(struct obj *m, const uint8_t *key)
{
	if (map_is_array(m->mtype)) {
		uint32_t i;
		memcpy(&i, key, 4);
		return i < m->nslots ? (long)i : -1;
	}
	for (uint32_t i = 0; i < m->nslots; i++)
		if (m->used[i] && !memcmp(m->keys + (size_t)i * m->ks, key, m->ks)) return i;
	return -1;
}

/* The map a command names, with its key copied in as the kernel does. */
static struct obj *map_arg(union bpf_attr *a, uint8_t *key, int need_key, int *err)
{
	struct obj *m = want_fd((int)a->map_fd, O_MAP, err);
	if (!m) return NULL;
	if (m->mtype == BPF_MAP_TYPE_RINGBUF) { *err = ENOTSUPP_KERNEL; return NULL; }
	if (a->key) memcpy(key, (const void *)(uintptr_t)a->key, m->ks);
	else if (need_key && m->ks) { *err = EFAULT; return NULL; }
	return m;
}

static int map_lookup(union bpf_attr *a)
{
	uint8_t key[512];
	int err;
	struct obj *m = map_arg(a, key, 1, &err);
	if (!m) return fail(err);
	if (a->flags & ~(uint64_t)BPF_F_LOCK) return fail(EINVAL);
	uint8_t *out = (uint8_t *)(uintptr_t)a->value;
	if (!out) return fail(EFAULT);
	if (m->mtype == BPF_MAP_TYPE_QUEUE || m->mtype == BPF_MAP_TYPE_STACK) {
		for (uint32_t i = 0; i < m->nslots; i++)
			if (m->used[i]) { memcpy(out, m->vals + (size_t)i * m->vsk, m->vsk); return 0; }
		return fail(ENOENT);
	}
	if (m->mtype == BPF_MAP_TYPE_PERF_EVENT_ARRAY) return fail(EOPNOTSUPP);
	long i = map_find(m, key);
	if (i < 0 || !m->used[i]) return fail(ENOENT);
	if (m->held && !m->held[i]) return fail(ENOENT);
	memcpy(out, m->vals + (size_t)i * m->vsk, m->vsk);
	return 0;
}

static int map_update_value(struct obj *m, const uint8_t *key, uint64_t fl, const uint8_t *v);

static int map_update(union bpf_attr *a)
{
	uint8_t key[512];
	int err;
	struct obj *m = map_arg(a, key, 1, &err);
	if (!m) return fail(err);
	uint64_t fl = a->flags & ~(uint64_t)BPF_F_LOCK;
	if (fl > BPF_EXIST) return fail(EINVAL);
	const uint8_t *val = (const uint8_t *)(uintptr_t)a->value;
	if (!val) return fail(EFAULT);
	uint8_t *v = xcalloc(m->vsk, 1);
	memcpy(v, val, m->vsk);   /* the kernel copies the whole value in */
	int e = map_update_value(m, key, fl, v);
	free(v);
	return e ? fail(e) : 0;
}

/* 0 or an errno. */
static int map_update_value(struct obj *m, const uint8_t *key, uint64_t fl, const uint8_t *v)
{
	int err;
	if (m->frozen) return EPERM;
	struct obj *target = NULL;
	if (fl == BPF_NOEXIST && map_is_array(m->mtype)) return EEXIST;
	if (map_holds_fds(m->mtype)) {
		int fd;
		memcpy(&fd, v, 4);
		int kind = m->mtype == BPF_MAP_TYPE_PROG_ARRAY ? O_PROG : m->mtype == BPF_MAP_TYPE_PERF_EVENT_ARRAY ? O_PERF : O_MAP;
		if (!(target = want_fd(fd, kind, &err))) return err;
		if (kind == O_MAP && map_holds_fds(target->mtype)) return EINVAL;
	}
	long i;
	if (m->mtype == BPF_MAP_TYPE_QUEUE || m->mtype == BPF_MAP_TYPE_STACK) {
		i = -1;
	} else {
		i = map_find(m, key);
		if (map_is_array(m->mtype) && i < 0) return E2BIG;
	}
	if (i >= 0 && !map_is_array(m->mtype) && fl == BPF_NOEXIST) return EEXIST;
	if (i < 0 && fl == BPF_EXIST) return ENOENT;
	if (i < 0) {
		for (uint32_t k = 0; k < m->nslots; k++)
			if (!m->used[k]) { i = k; break; }
		if (i < 0) return E2BIG;
		m->used[i] = 1;
		memcpy(m->keys + (size_t)i * m->ks, key, m->ks);
	}
	memcpy(m->vals + (size_t)i * m->vsk, v, m->vsk);
	if (m->held) {
		if (m->held[i]) obj_put(m->held[i]);
		target->refs++;
		m->held[i] = target;
	}
	return 0;
}

static int map_delete(union bpf_attr *a)
{
	uint8_t key[512];
	int err;
	struct obj *m = map_arg(a, key, 1, &err);
	if (!m) return fail(err);
	if (m->frozen) return fail(EPERM);
	if (m->mtype == BPF_MAP_TYPE_QUEUE || m->mtype == BPF_MAP_TYPE_STACK) return fail(EINVAL);
	long i = map_find(m, key);
	if (map_is_array(m->mtype) && !m->held) return fail(EINVAL);
	if (i < 0 || !m->used[i]) return fail(ENOENT);
	if (m->held) {
		if (!m->held[i]) return fail(ENOENT);
		obj_put(m->held[i]);
		m->held[i] = NULL;
		return 0;
	}
	m->used[i] = 0;
	return 0;
}

static int map_next(union bpf_attr *a)
{
	uint8_t key[512];
	int err;
	struct obj *m = map_arg(a, key, 0, &err);
	if (!m) return fail(err);
	if (m->mtype == BPF_MAP_TYPE_QUEUE || m->mtype == BPF_MAP_TYPE_STACK) return fail(EINVAL);
	uint8_t *out = (uint8_t *)(uintptr_t)a->next_key;
	if (!out) return fail(EFAULT);
	long i = a->key ? map_find(m, key) : -1;
	if (i >= 0 && !m->used[i]) i = -1;
	/* from the start when the key is absent, as the kernel does */
	for (uint32_t k = i < 0 ? 0 : (uint32_t)i + 1; k < m->nslots; k++)
		if (m->used[k]) { memcpy(out, m->keys + (size_t)k * m->ks, m->ks); return 0; }
	return fail(ENOENT);
}

/* Hash maps hand out whole buckets of 4 slots; arrays any number of entries. */
static int map_batch(union bpf_attr *a, int del)
{
	int err;
	struct obj *m = want_fd((int)a->batch.map_fd, O_MAP, &err);
	if (!m) return fail(err);
	if (a->batch.elem_flags || a->batch.flags) return fail(EINVAL);
	int arr = map_is_array(m->mtype) && !m->held;
	if (!(arr && !del) && !(map_is_hash(m->mtype) && m->mtype != BPF_MAP_TYPE_HASH_OF_MAPS))
		return fail(ENOTSUPP_KERNEL);
	if (del && m->frozen) return fail(EPERM);
	uint32_t count = a->batch.count, pos = 0, got = 0;
	uint8_t *keys = (uint8_t *)(uintptr_t)a->batch.keys, *vals = (uint8_t *)(uintptr_t)a->batch.values;
	uint8_t *in = (uint8_t *)(uintptr_t)a->batch.in_batch, *out = (uint8_t *)(uintptr_t)a->batch.out_batch;
	if (!count || !out || !keys || !vals) return fail(EINVAL);
	if (in) memcpy(&pos, in, 4);
	a->batch.count = 0;
	int ret = 0;
	if (arr) {
		if (pos >= m->nslots) return fail(ENOENT);
		while (got < count && pos < m->nslots) {
			memcpy(keys + (size_t)got * m->ks, m->keys + (size_t)pos * m->ks, m->ks);
			memcpy(vals + (size_t)got * m->vsk, m->vals + (size_t)pos * m->vsk, m->vsk);
			got++;
			pos++;
		}
		if (pos >= m->nslots) ret = ENOENT;
	} else {
		if (pos % 4) return fail(EINVAL);
		for (;;) {
			if (pos >= m->nslots) { ret = ENOENT; break; }
			uint32_t in_bucket = 0;
			for (uint32_t k = pos; k < pos + 4 && k < m->nslots; k++) in_bucket += m->used[k];
			if (got + in_bucket > count) {
				if (!got) ret = ENOSPC;
				break;
			}
			for (uint32_t k = pos; k < pos + 4 && k < m->nslots; k++) {
				if (!m->used[k]) continue;
				memcpy(keys + (size_t)got * m->ks, m->keys + (size_t)k * m->ks, m->ks);
				memcpy(vals + (size_t)got * m->vsk, m->vals + (size_t)k * m->vsk, m->vsk);
				if (del) m->used[k] = 0;
				got++;
			}
			pos += 4;
		}
	}
	put_u32(out, pos);
	a->batch.count = got;
	return ret ? fail(ret) : 0;
}

static int map_freeze(union bpf_attr *a)
{
	int err;
	struct obj *m = want_fd((int)a->map_fd, O_MAP, &err);
	if (!m) return fail(err);
	if (m->frozen) return fail(EBUSY);
	m->frozen = 1;
	return 0;
}

/* ---- bpf(2): BTF and programs ---- */

/* The kernel's log rules; *buf and *cap when a log was asked for. */
static int log_args(uint32_t level, uint64_t ubuf, uint32_t size, char **buf, uint32_t *cap)
{
	*buf = NULL;
	*cap = 0;
	if (!level) return ubuf || size ? EINVAL : 0;
	if (level > 7 || !ubuf || size < 128) return EINVAL;
	*buf = (char *)(uintptr_t)ubuf;
	*cap = size;
	return 0;
}

/* Write a log as the kernel does: always NUL-terminated; ENOSPC when cut. */
static int log_put(char *buf, uint32_t cap, const char *text)
{
	if (!buf) return 0;
	size_t n = strlen(text);
	if (n + 1 > cap) {
		memcpy(buf, text, cap - 1);
		buf[cap - 1] = 0;
		return ENOSPC;
	}
	memcpy(buf, text, n + 1);
	return 0;
}

static int btf_load(union bpf_attr *a)
{
	char *log;
	uint32_t cap, n = a->btf_size;
	int e = log_args(a->btf_log_level, a->btf_log_buf, a->btf_log_size, &log, &cap);
	if (e) return fail(e);
	if (!n || n > (16u << 20)) return fail(E2BIG);
	uint8_t *b = xcalloc(n, 1);
	memcpy(b, (const void *)(uintptr_t)a->btf, n);
	uint16_t magic = 0;
	uint32_t hdr = 0, toff = 0, tlen = 0, soff = 0, slen = 0;
	if (n >= 24) {
		memcpy(&magic, b, 2);
		memcpy(&hdr, b + 4, 4);
		memcpy(&toff, b + 8, 4);
		memcpy(&tlen, b + 12, 4);
		memcpy(&soff, b + 16, 4);
		memcpy(&slen, b + 20, 4);
	}
	free(b);
	const char *why = NULL;
	if (magic != 0xeB9F) why = "Invalid magic\n";
	else if (hdr < 24 || hdr > n) why = "Unsupported btf_header\n";
	else if ((uint64_t)hdr + toff + tlen > n || (uint64_t)hdr + soff + slen > n) why = "Invalid section offset\n";
	if (why) {
		log_put(log, cap, why);
		return fail(EINVAL);
	}
	if ((e = log_put(log, cap, "btf_load: all types are fine\n"))) return fail(e);
	return fd_install(obj_new(O_BTF), 3);
}

static int prog_load(union bpf_attr *a)
{
	char *log;
	uint32_t cap, cnt = a->insn_cnt;
	int err, e = log_args(a->log_level, a->log_buf, a->log_size, &log, &cap);
	if (e) return fail(e);
	if (!a->prog_type || a->prog_type > BPF_PROG_TYPE_SYSCALL) return fail(EINVAL);
	if (!cnt) return fail(EINVAL);
	if (cnt > (1u << 20)) return fail(E2BIG);
	if (a->prog_flags & ~0x3fu) return fail(EINVAL);
	if (!memchr(a->prog_name, 0, sizeof(a->prog_name))) return fail(EINVAL);
	struct bpf_insn *in = xcalloc(cnt, sizeof(*in));
	memcpy(in, (const void *)(uintptr_t)a->insns, (size_t)cnt * sizeof(*in));
	const char *lic = (const char *)(uintptr_t)a->license;
	size_t licn = lic ? strlen(lic) : 0;
	if (a->func_info_cnt || a->line_info_cnt) {
		if (!want_fd((int)a->prog_btf_fd, O_BTF, &err)) { free(in); return fail(err); }
	}
	if (a->func_info_cnt) {
		if (a->func_info_rec_size != 8) { free(in); return fail(EINVAL); }
		uint8_t *fi = xcalloc(a->func_info_cnt, 8);
		memcpy(fi, (const void *)(uintptr_t)a->func_info, (size_t)a->func_info_cnt * 8);
		free(fi);
	}
	if (a->line_info_cnt) {
		if (a->line_info_rec_size != 16) { free(in); return fail(EINVAL); }
		uint8_t *li = xcalloc(a->line_info_cnt, 16);
		memcpy(li, (const void *)(uintptr_t)a->line_info, (size_t)a->line_info_cnt * 16);
		free(li);
	}
	uint32_t t = a->prog_type;
	if ((t == BPF_PROG_TYPE_TRACING || t == BPF_PROG_TYPE_LSM || t == BPF_PROG_TYPE_EXT) && !a->attach_btf_id) {
		free(in);
		return fail(EINVAL);
	}
	char *text = NULL;
	size_t tn = 0;
	FILE *m = open_memstream(&text, &tn);
	if (!m) fake_fail("open_memstream");
	fprintf(m, "func#0 @0\n");
	int verdict = 0;
	for (uint32_t i = 0; i < cnt && !verdict; i++) {
		if (i < 64) fprintf(m, "%u: (%02x) r%d = r%d\n", i, in[i].code, in[i].dst_reg, in[i].src_reg);
		if (in[i].code == (BPF_LD | BPF_IMM | BPF_DW)) {
			if (i + 1 >= cnt) { fprintf(m, "invalid bpf_ld_imm64 insn\n"); verdict = EINVAL; break; }
			if (in[i].src_reg == BPF_PSEUDO_MAP_FD || in[i].src_reg == BPF_PSEUDO_MAP_VALUE) {
				if (!want_fd(in[i].imm, O_MAP, &err)) { fprintf(m, "fd %d is not pointing to valid bpf_map\n", in[i].imm); verdict = err; }
			}
			i++;
		} else if (in[i].code == 0) {
			fprintf(m, "unknown opcode 00\n");
			verdict = EINVAL;
		}
	}
	if (!verdict && in[cnt - 1].code != (BPF_JMP | BPF_EXIT)) {
		fprintf(m, "last insn is not an exit or jmp\n");
		verdict = EINVAL;
	}
	if (!verdict && !licn) verdict = EINVAL;
	fprintf(m, "processed %u insns\n", cnt);
	fclose(m);
	e = log_put(log, cap, text);
	free(text);
	free(in);
	if (verdict) return fail(verdict);
	if (e) return fail(e);
	struct obj *o = obj_new(O_PROG);
	o->ptype = t;
	o->attach_btf_id = a->attach_btf_id;
	return fd_install(o, 3);
}

static int raw_tp_open(union bpf_attr *a)
{
	int err;
	struct obj *prog = want_fd((int)a->raw_tracepoint.prog_fd, O_PROG, &err);
	if (!prog) return fail(err);
	const char *name = (const char *)(uintptr_t)a->raw_tracepoint.name;
	if (name) {
		size_t n = strlen(name);
		int known = 0;
		for (size_t i = 0; i < sizeof(raw_tp_known) / sizeof(raw_tp_known[0]); i++)
			known |= strlen(raw_tp_known[i]) == n && !strcmp(raw_tp_known[i], name);
		if (prog->ptype != BPF_PROG_TYPE_RAW_TRACEPOINT && prog->ptype != BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE)
			return fail(EINVAL);
		if (!known) return fail(ENOENT);
	} else if (prog->ptype != BPF_PROG_TYPE_TRACING && prog->ptype != BPF_PROG_TYPE_LSM) {
		return fail(EINVAL);
	}
	struct obj *l = obj_new(O_LINK);
	prog->refs++;
	l->prog = prog;
	return fd_install(l, 3);
}

static long sys_bpf_fake(int cmd, union bpf_attr *a, unsigned size)
{
	if (fault()) return -1;
	if (size > sizeof(*a)) return fail(E2BIG);
	union bpf_attr at;
	memset(&at, 0, sizeof(at));
	memcpy(&at, a, size);   /* the kernel copies attr in, and some of it back */
	long rc;
	switch (cmd) {
	case BPF_MAP_CREATE: return map_create(&at);
	case BPF_MAP_LOOKUP_ELEM: return map_lookup(&at);
	case BPF_MAP_UPDATE_ELEM: return map_update(&at);
	case BPF_MAP_DELETE_ELEM: return map_delete(&at);
	case BPF_MAP_GET_NEXT_KEY: return map_next(&at);
	case BPF_MAP_FREEZE: return map_freeze(&at);
	case BPF_MAP_LOOKUP_BATCH:
	case BPF_MAP_LOOKUP_AND_DELETE_BATCH:
		rc = map_batch(&at, cmd == BPF_MAP_LOOKUP_AND_DELETE_BATCH);
		a->batch.count = at.batch.count;
		return rc;
	case BPF_BTF_LOAD: return btf_load(&at);
	case BPF_PROG_LOAD: return prog_load(&at);
	case BPF_RAW_TRACEPOINT_OPEN: return raw_tp_open(&at);
	case BPF_LINK_CREATE: return fail(at.link_create.prog_fd == (uint32_t)-1 ? EBADF : EINVAL);
	default: return fail(EINVAL);
	}
}

long fuzz_syscall(long nr, ...)
{
	va_list ap;
	va_start(ap, nr);
	long rc;
	if (nr == __NR_bpf) {
		int cmd = va_arg(ap, int);
		union bpf_attr *a = va_arg(ap, union bpf_attr *);
		unsigned size = va_arg(ap, unsigned);
		rc = sys_bpf_fake(cmd, a, size);
	} else if (nr == __NR_perf_event_open) {
		const struct perf_event_attr *pa = va_arg(ap, const struct perf_event_attr *);
		int pid = va_arg(ap, int), cpu = va_arg(ap, int), group = va_arg(ap, int);
		unsigned long flags = va_arg(ap, unsigned long);
		rc = perf_event_open(pa, pid, cpu, group, flags);
	} else {
		rc = fail(ENOSYS);
	}
	va_end(ap);
	return rc;
}

/* ---- the harness's side ---- */

void fake_reset(const struct fake_config *cfg)
{
	if (S.ready) fake_check_released();
	memset(&S, 0, sizeof(S));
	S.cfg = *cfg;
	S.next_tp_id = TP_ID_FIRST_PROBE;
	S.ready = 1;
	/* left behind by a bpfd that died: bpfd sweeps probes of dead pids */
	struct probe *p = &S.probes[S.nprobes++];
	snprintf(p->name, sizeof(p->name), "kprobes/bpfd_999_1");
	p->id = S.next_tp_id++;
}

int fake_output_fd(void (*sink)(const uint8_t *p, size_t n))
{
	struct obj *o = obj_new(O_OUT);
	o->sink = sink;
	return fd_install(o, 3);
}

void fake_check_released(void)
{
	if (!S.ready) return;
	S.ready = 0;
	int live = 0;
	for (int fd = 0; fd < MAXFD; fd++) {
		struct obj *o = S.fd[fd];
		if (!o) continue;
		if (o->kind != O_OUT) fake_fail("descriptor %d (kind %d%s%s) still open after the connection ended",
						fd, o->kind, o->path ? ", " : "", o->path ? o->path : "");
		S.fd[fd] = NULL;
		obj_put(o);
	}
	live = S.nobj;
	if (live) fake_fail("%d kernel objects still alive after the connection ended", live);
	if (S.nmaps) fake_fail("%d memory mappings still mapped after the connection ended", S.nmaps);
	if (S.ndirs || S.nfiles) fake_fail("%d directories and %d files still open", S.ndirs, S.nfiles);
	char mine[32];
	snprintf(mine, sizeof(mine), "bpfd_%d_", PID);
	for (int i = 0; i < S.nprobes; i++)
		if (strstr(S.probes[i].name, mine)) fake_fail("tracefs probe %s still registered", S.probes[i].name);
}
