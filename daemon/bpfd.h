/* bpfd: shared types and the interfaces between its parts. */
#ifndef BPFD_H
#define BPFD_H

#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define BPFD_VERSION "0.1.0"
#define PROTO_VERSION 1

#define LINE_MAX_BYTES (64u << 20)   /* longest request line */
#define PREAUTH_LINE_MAX 4096        /* longest line before auth succeeds */
#define MAX_ARGS 20                  /* most keys any operation takes */

/* Growable byte buffer. */
struct buf {
	uint8_t *p;
	size_t len, cap;
};
int buf_reserve(struct buf *b, size_t extra);
int buf_put(struct buf *b, const void *p, size_t n);
void buf_free(struct buf *b);

enum hkind { H_NONE, H_MAP, H_PROG, H_BTF, H_PERF, H_LINK, H_STREAM };

struct mapinfo {
	uint32_t type, key_size, value_size, max_entries;
	uint32_t vsize;         /* bytes of one value as lookups return it */
};

struct stream;

struct handle {
	uint8_t kind;
	struct mapinfo map;     /* H_MAP */
	char *probe;            /* H_PERF: tracefs probe "group/name" to remove */
	uint8_t probe_uprobe;   /* ... registered in uprobe_events, not kprobe_events */
	struct stream *stream;  /* H_STREAM */
};

struct conn {
	int in_fd, out_fd;
	int done;               /* connection ends after this iteration */
	int need_auth;          /* first request must be a good auth */
	const char *token;
	struct buf in;
	size_t in_scan;         /* bytes of in already searched for '\n' */
	int discarding;         /* dropping the rest of a too-long line */
	uint64_t lineno;        /* lines received, for errors that have no ID */
	struct buf out;
	int out_failed;         /* out of memory building output */
	struct buf scratch;     /* event frame assembly */
	struct handle *h;       /* indexed by fd */
	int nh;
};

/* One parsed request. */
enum akind { A_INT, A_STR, A_CSTR, A_B64, A_LIST };
struct argspec {
	const char *name;
	uint8_t kind, req;
	long long lo;
	unsigned long long hi;
};
struct argval {
	uint8_t present;
	__int128 i;
	uint8_t *p;             /* decoded bytes (NUL-terminated for str) */
	size_t n;
};
struct req;
struct opdef {
	const char *name;
	void (*fn)(struct conn *c, struct req *r);
	const struct argspec *args;
};
struct req {
	uint64_t id;
	const struct opdef *op;
	struct argval v[MAX_ARGS];
};

/* Globals set once at start. */
extern long g_page_size;
extern int g_ncpus;         /* possible CPUs */
extern int g_no_batch;      /* BPFD_NO_BATCH=1: test-only, forces map_dump fallback */
extern int g_no_pmu;        /* BPFD_NO_PMU=1: test-only, forces tracefs k/uprobes */
extern volatile int g_stop; /* a terminating signal arrived */

/* main.c */
void conn_flush(struct conn *c);

/* proto.c: requests in, frames out */
void handle_line(struct conn *c, uint8_t *line, size_t n);
int arg_has(struct req *r, const char *name);
long long arg_i(struct req *r, const char *name, long long dflt);
unsigned long long arg_u(struct req *r, const char *name, unsigned long long dflt);
const uint8_t *arg_bytes(struct req *r, const char *name, size_t *n);
const char *arg_s(struct req *r, const char *name);
int parse_cpu_list(const char *s, size_t n, int *out, int max); /* count or -1 */
void out_raw(struct conn *c, const void *p, size_t n);
void out_str(struct conn *c, const void *p, size_t n); /* percent-encoded */
void out_fmt(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void r_ok(struct conn *c, uint64_t id);
void r_err_begin(struct conn *c, uint64_t id, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void r_err(struct conn *c, uint64_t id, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void r_syserr(struct conn *c, uint64_t id, int err, const char *ctx);
void r_int(struct conn *c, const char *k, long long v);
void r_uint(struct conn *c, const char *k, unsigned long long v);
void r_str(struct conn *c, const char *k, const void *p, size_t n);
void r_cstr(struct conn *c, const char *k, const char *s);
void r_b64(struct conn *c, const char *k, const void *p, size_t n);
void r_end(struct conn *c);

/* errnames.c */
const char *errname(int e);
const char *errtext(int e);

/* handles.c */
struct handle *h_add(struct conn *c, int fd, int kind);
struct handle *h_get(struct conn *c, long long fd);
struct handle *h_want(struct conn *c, struct req *r, const char *key, int kind);
void h_close(struct conn *c, int fd);
void h_close_all(struct conn *c);
void op_close(struct conn *c, struct req *r);

/* bpfops.c */
long sys_bpf(int cmd, void *attr, unsigned size);
void op_map_create(struct conn *c, struct req *r);
void op_map_lookup(struct conn *c, struct req *r);
void op_map_update(struct conn *c, struct req *r);
void op_map_delete(struct conn *c, struct req *r);
void op_map_freeze(struct conn *c, struct req *r);
void op_map_next(struct conn *c, struct req *r);
void op_map_dump(struct conn *c, struct req *r);
void op_btf_load(struct conn *c, struct req *r);
void op_prog_load(struct conn *c, struct req *r);

/* attach.c */
int sys_perf_event_open(void *attr, int pid, int cpu, int group, unsigned long flags);
void op_attach_tracepoint(struct conn *c, struct req *r);
void op_attach_raw_tracepoint(struct conn *c, struct req *r);
void op_attach_kprobe(struct conn *c, struct req *r);
void op_attach_uprobe(struct conn *c, struct req *r);
void op_attach_perf_event(struct conn *c, struct req *r);
void op_attach_tracing(struct conn *c, struct req *r);
void probe_remove(const char *probe, int uprobe);

/* streams.c */
void op_ringbuf_open(struct conn *c, struct req *r);
void op_perfbuf_open(struct conn *c, struct req *r);
void op_trace_pipe_open(struct conn *c, struct req *r);
int stream_pending(struct stream *s);
void stream_drain(struct conn *c, struct stream *s, int readable);
void stream_free(struct stream *s);

/* files.c */
void op_read(struct conn *c, struct req *r);
void op_list(struct conn *c, struct req *r);
void op_readlink(struct conn *c, struct req *r);
void op_stat(struct conn *c, struct req *r);
int read_small(const char *path, char *dst, size_t cap); /* bytes or -errno */

/* hello.c */
void hello_init(void);
const char *tracefs_dir(void);   /* "" when unavailable */
void op_hello(struct conn *c, struct req *r);

#endif
