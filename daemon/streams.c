/* Event streams: BPF ring buffers, perf buffers and the trace pipe, as ev frames. */
#include "bpfd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define BATCH_DEFAULT (256u << 10)
#define PIPE_LINE_MAX (64u << 10)  /* a longer trace line is cut into records */
#define MAX_CPUS 4096

enum { S_RING, S_PERF, S_PIPE };

struct pcpu {
	int cpu, fd;
	uint8_t *base;             /* control page, then the data pages */
};

struct stream {
	int kind, fd, pending;
	size_t batch;
	uint64_t lost;
	/* ring buffer */
	uint8_t *cons_pg, *prod_pg;
	size_t rsize;
	/* perf buffer */
	int mapfd, ncpu, rr;
	struct pcpu *cpus;
	size_t dsize;
	/* trace pipe */
	struct buf part;
};

static inline uint64_t ptr(const void *p) { return (uint64_t)(uintptr_t)p; }

int stream_pending(struct stream *s) { return s->pending; }

void stream_free(struct stream *s)
{
	if (!s) return;
	if (s->cons_pg) munmap(s->cons_pg, (size_t)g_page_size);
	if (s->prod_pg) munmap(s->prod_pg, (size_t)g_page_size + 2 * s->rsize);
	for (int i = 0; i < s->ncpu; i++) {
		struct pcpu *p = &s->cpus[i];
		if (s->mapfd >= 0 && p->fd >= 0) {
			/* Drop the map's reference so the event really goes away. */
			union bpf_attr a;
			uint32_t key = (uint32_t)p->cpu;
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)s->mapfd;
			a.key = ptr(&key);
			sys_bpf(BPF_MAP_DELETE_ELEM, &a, sizeof(a));
		}
		if (p->base) munmap(p->base, (size_t)g_page_size + s->dsize);
		if (p->fd >= 0) close(p->fd);
	}
	free(s->cpus);
	if (s->mapfd >= 0) close(s->mapfd);
	buf_free(&s->part);
	free(s);
}

static struct stream *stream_new(int kind)
{
	struct stream *s = calloc(1, sizeof(*s));
	if (!s) return NULL;
	s->kind = kind;
	s->fd = -1;
	s->mapfd = -1;
	s->batch = BATCH_DEFAULT;
	return s;
}

/* Register s under its fd and reply; frees s on failure. */
static void stream_reply(struct conn *c, struct req *r, struct stream *s)
{
	struct handle *h = h_add(c, s->fd, H_STREAM);
	if (!h) {
		int fd = s->fd;
		stream_free(s);
		close(fd);
		r_syserr(c, r->id, ENOMEM, r->op->name);
		return;
	}
	h->stream = s;
	r_ok(c, r->id);
	r_int(c, "h", s->fd);
	r_end(c);
}

static void stream_fail(struct conn *c, struct req *r, struct stream *s, int e, const char *ctx)
{
	int fd = s->fd;
	stream_free(s);
	if (fd >= 0) close(fd);
	r_syserr(c, r->id, e, ctx);
}

/* ---- frames ---- */

/* Room for one u32-LE-length-prefixed record of n bytes in the frame. */
static uint8_t *frame_slot(struct conn *c, size_t n)
{
	if (buf_reserve(&c->scratch, 4 + n) < 0) return NULL;
	uint8_t *o = c->scratch.p + c->scratch.len;
	o[0] = (uint8_t)n;
	o[1] = (uint8_t)(n >> 8);
	o[2] = (uint8_t)(n >> 16);
	o[3] = (uint8_t)(n >> 24);
	c->scratch.len += 4 + n;
	return o + 4;
}

static int frame_add(struct conn *c, const void *p, size_t n)
{
	uint8_t *o = frame_slot(c, n);
	if (!o) return -1;
	if (n) memcpy(o, p, n);
	return 0;
}

static void frame_emit(struct conn *c, struct stream *s, unsigned n)
{
	out_fmt(c, "ev %d", s->fd);
	r_uint(c, "n", n);
	r_uint(c, "lost", s->lost);
	r_b64(c, "data", c->scratch.p, c->scratch.len);
	r_end(c);
	s->lost = 0;
}

/* ---- BPF ring buffer ---- */

void op_ringbuf_open(struct conn *c, struct req *r)
{
	struct handle *m = h_want(c, r, "map", H_MAP);
	if (!m) return;
	if (m->map.type != BPF_MAP_TYPE_RINGBUF) {
		r_err(c, r->id, EINVAL, "map: handle is not a BPF_MAP_TYPE_RINGBUF map");
		return;
	}
	struct stream *s = stream_new(S_RING);
	if (!s) { r_syserr(c, r->id, ENOMEM, "ringbuf_open"); return; }
	s->batch = (size_t)arg_u(r, "batch_bytes", BATCH_DEFAULT);
	s->rsize = m->map.max_entries;
	/* Our own fd: polled, mapped, and alive even if the map handle is closed. */
	s->fd = fcntl((int)arg_i(r, "map", -1), F_DUPFD_CLOEXEC, 3);
	if (s->fd < 0) return stream_fail(c, r, s, errno, "ringbuf_open: dup");
	void *p = mmap(NULL, (size_t)g_page_size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (p == MAP_FAILED) return stream_fail(c, r, s, errno, "ringbuf_open: mmap consumer page");
	s->cons_pg = p;
	/* The kernel maps the data area twice in a row, so records never wrap. */
	p = mmap(NULL, (size_t)g_page_size + 2 * s->rsize, PROT_READ, MAP_SHARED, s->fd, g_page_size);
	if (p == MAP_FAILED) return stream_fail(c, r, s, errno, "ringbuf_open: mmap data pages");
	s->prod_pg = p;
	stream_reply(c, r, s);
}

static void ring_drain(struct conn *c, struct stream *s)
{
	uint64_t *cp = (uint64_t *)s->cons_pg, *pp = (uint64_t *)s->prod_pg;
	uint8_t *data = s->prod_pg + g_page_size;
	uint64_t mask = s->rsize - 1;
	uint64_t cons = __atomic_load_n(cp, __ATOMIC_ACQUIRE);
	uint64_t prod = __atomic_load_n(pp, __ATOMIC_ACQUIRE);
	unsigned n = 0;

	c->scratch.len = 0;
	s->pending = 0;
	while (cons < prod) {
		uint8_t *rec = data + (cons & mask);
		uint32_t hdr = __atomic_load_n((uint32_t *)rec, __ATOMIC_ACQUIRE);
		if (hdr & BPF_RINGBUF_BUSY_BIT) break;  /* committing it wakes us */
		uint32_t len = hdr & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		if (len > s->rsize) break;              /* never trust it past the ring */
		if (!(hdr & BPF_RINGBUF_DISCARD_BIT)) {
			if (n && c->scratch.len + 4 + len > s->batch) { s->pending = 1; break; }
			if (frame_add(c, rec + BPF_RINGBUF_HDR_SZ, len) < 0) { s->pending = 1; break; }
			n++;
		}
		cons += (len + BPF_RINGBUF_HDR_SZ + 7) & ~7ull;
	}
	__atomic_store_n(cp, cons, __ATOMIC_RELEASE);
	if (n) frame_emit(c, s, n);
}

/* ---- perf buffer ---- */

static int online_cpus(int *cpus)
{
	char txt[4096];
	int n = read_small("/sys/devices/system/cpu/online", txt, sizeof(txt));
	if (n <= 0) return -1;
	return parse_cpu_list(txt, (size_t)n, cpus, MAX_CPUS);
}

void op_perfbuf_open(struct conn *c, struct req *r)
{
	struct handle *m = h_want(c, r, "map", H_MAP);
	if (!m) return;
	if (m->map.type != BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
		r_err(c, r->id, EINVAL, "map: handle is not a BPF_MAP_TYPE_PERF_EVENT_ARRAY map");
		return;
	}
	uint64_t pages = arg_u(r, "pages", 64);
	if (pages & (pages - 1)) {
		r_err(c, r->id, EINVAL, "pages must be a power of two");
		return;
	}
	int *cpus = malloc(MAX_CPUS * sizeof(int)), ncpu;
	if (!cpus) { r_syserr(c, r->id, ENOMEM, "perfbuf_open"); return; }
	size_t ln;
	const uint8_t *list = arg_bytes(r, "cpus", &ln);
	if (list) {
		ncpu = parse_cpu_list((const char *)list, ln, cpus, MAX_CPUS);
		if (ncpu <= 0) {
			free(cpus);
			r_err(c, r->id, EINVAL, "cpus: expected a list of CPU numbers");
			return;
		}
		for (int i = 0; i < ncpu; i++)
			if ((uint32_t)cpus[i] >= m->map.max_entries) {
				r_err(c, r->id, EINVAL, "cpus: CPU %d is beyond the map's %u entries",
				      cpus[i], m->map.max_entries);
				free(cpus);
				return;
			}
	} else {
		ncpu = online_cpus(cpus);
		if (ncpu <= 0) {
			free(cpus);
			r_err(c, r->id, EIO, "cannot read /sys/devices/system/cpu/online");
			return;
		}
		int k = 0;
		for (int i = 0; i < ncpu; i++)
			if ((uint32_t)cpus[i] < m->map.max_entries) cpus[k++] = cpus[i];
		ncpu = k;
	}
	struct stream *s = stream_new(S_PERF);
	if (!s || !(s->cpus = calloc((size_t)ncpu ? (size_t)ncpu : 1, sizeof(*s->cpus)))) {
		free(s);
		free(cpus);
		r_syserr(c, r->id, ENOMEM, "perfbuf_open");
		return;
	}
	s->batch = (size_t)arg_u(r, "batch_bytes", BATCH_DEFAULT);
	s->dsize = (size_t)pages * (size_t)g_page_size;
	s->fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->fd < 0) { free(cpus); return stream_fail(c, r, s, errno, "perfbuf_open: epoll_create1"); }
	s->mapfd = fcntl((int)arg_i(r, "map", -1), F_DUPFD_CLOEXEC, 3);
	if (s->mapfd < 0) { free(cpus); return stream_fail(c, r, s, errno, "perfbuf_open: dup"); }
	for (int i = 0; i < ncpu; i++) {
		struct pcpu *p = &s->cpus[i];
		char ctx[96];
		p->cpu = cpus[i];
		p->fd = -1;
		s->ncpu = i + 1;
		struct perf_event_attr pa;
		memset(&pa, 0, sizeof(pa));
		pa.type = PERF_TYPE_SOFTWARE;
		pa.size = sizeof(pa);
		pa.config = PERF_COUNT_SW_BPF_OUTPUT;
		pa.sample_type = PERF_SAMPLE_RAW;
		pa.sample_period = 1;
		pa.wakeup_events = 1;
		p->fd = sys_perf_event_open(&pa, -1, p->cpu, -1, PERF_FLAG_FD_CLOEXEC);
		snprintf(ctx, sizeof(ctx), "perfbuf_open: perf_event_open(cpu %d)", p->cpu);
		if (p->fd < 0) { free(cpus); return stream_fail(c, r, s, errno, ctx); }
		void *b = mmap(NULL, (size_t)g_page_size + s->dsize, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
		snprintf(ctx, sizeof(ctx), "perfbuf_open: mmap(cpu %d)", p->cpu);
		if (b == MAP_FAILED) { free(cpus); return stream_fail(c, r, s, errno, ctx); }
		p->base = b;
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		if (epoll_ctl(s->fd, EPOLL_CTL_ADD, p->fd, &ev) < 0) {
			free(cpus);
			return stream_fail(c, r, s, errno, "perfbuf_open: epoll_ctl");
		}
		union bpf_attr a;
		uint32_t key = (uint32_t)p->cpu, val = (uint32_t)p->fd;
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)s->mapfd;
		a.key = ptr(&key);
		a.value = ptr(&val);
		snprintf(ctx, sizeof(ctx), "perfbuf_open: bpf(BPF_MAP_UPDATE_ELEM, cpu %d)", p->cpu);
		if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a, sizeof(a)) < 0) {
			/* not stored: nothing to delete on the way out */
			int e = errno;
			close(p->fd);
			munmap(p->base, (size_t)g_page_size + s->dsize);
			p->fd = -1;
			p->base = NULL;
			free(cpus);
			return stream_fail(c, r, s, e, ctx);
		}
		if (ioctl(p->fd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
			free(cpus);
			return stream_fail(c, r, s, errno, "perfbuf_open: enable");
		}
	}
	free(cpus);
	stream_reply(c, r, s);
}

/* Copy n bytes at ring offset off, which may wrap past the end. */
static void ring_copy(void *dst, const uint8_t *data, size_t size, uint64_t off, size_t n)
{
	size_t o = (size_t)(off % size);
	size_t first = size - o < n ? size - o : n;
	memcpy(dst, data + o, first);
	if (n > first) memcpy((uint8_t *)dst + first, data, n - first);
}

static void perf_drain(struct conn *c, struct stream *s, int readable)
{
	if (readable) {
		/* Reset epoll's readiness; the buffers are checked directly below. */
		struct epoll_event evs[64];
		while (epoll_wait(s->fd, evs, 64, 0) == 64) {}
	}
	unsigned n = 0;
	int full = 0;
	c->scratch.len = 0;
	s->pending = 0;
	for (int k = 0; k < s->ncpu && !full; k++) {
		int i = (s->rr + k) % s->ncpu;
		struct perf_event_mmap_page *mp = (void *)s->cpus[i].base;
		uint8_t *data = s->cpus[i].base + g_page_size;
		uint64_t head = __atomic_load_n(&mp->data_head, __ATOMIC_ACQUIRE);
		uint64_t tail = mp->data_tail;
		while (tail < head) {
			struct perf_event_header eh;
			ring_copy(&eh, data, s->dsize, tail, sizeof(eh));
			if (eh.size < sizeof(eh) || eh.size > head - tail) { tail = head; break; }
			if (eh.type == PERF_RECORD_SAMPLE && eh.size >= sizeof(eh) + 4) {
				uint32_t rs;
				ring_copy(&rs, data, s->dsize, tail + sizeof(eh), 4);
				if (rs <= eh.size - sizeof(eh) - 4) {
					if (n && c->scratch.len + 4 + rs > s->batch) { full = 1; break; }
					uint8_t *o = frame_slot(c, rs);
					if (!o) { full = 1; break; }
					ring_copy(o, data, s->dsize, tail + sizeof(eh) + 4, rs);
					n++;
				}
			} else if (eh.type == PERF_RECORD_LOST && eh.size >= sizeof(eh) + 16) {
				uint64_t lost;
				ring_copy(&lost, data, s->dsize, tail + sizeof(eh) + 8, 8);
				s->lost += lost;
			}
			tail += eh.size;
		}
		__atomic_store_n(&mp->data_tail, tail, __ATOMIC_RELEASE);
		if (full) {
			/* continue with this CPU next time, then the others */
			s->pending = 1;
			s->rr = i;
		}
	}
	if (n || s->lost) frame_emit(c, s, n);
}

/* ---- trace pipe ---- */

void op_trace_pipe_open(struct conn *c, struct req *r)
{
	const char *tf = tracefs_dir();
	char path[4096];
	if (!*tf) {
		r_err(c, r->id, ENOENT, "trace_pipe_open: tracefs is not available");
		return;
	}
	struct stream *s = stream_new(S_PIPE);
	if (!s) { r_syserr(c, r->id, ENOMEM, "trace_pipe_open"); return; }
	snprintf(path, sizeof(path), "%s/trace_pipe", tf);
	s->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (s->fd < 0) return stream_fail(c, r, s, errno, "open trace_pipe");
	stream_reply(c, r, s);
}

static void pipe_drain(struct conn *c, struct stream *s)
{
	size_t room = s->batch > s->part.len ? s->batch - s->part.len : 4096;
	unsigned n = 0;
	c->scratch.len = 0;
	s->pending = 0;
	if (buf_reserve(&s->part, room) == 0) {
		ssize_t got = read(s->fd, s->part.p + s->part.len, room);
		if (got > 0) {
			s->part.len += (size_t)got;
			if ((size_t)got == room) s->pending = 1;
		}
	}
	/* No buffer yet (its first allocation failed): nothing to split. */
	if (!s->part.p) return;
	size_t st = 0;
	for (;;) {
		uint8_t *nl = memchr(s->part.p + st, '\n', s->part.len - st);
		size_t end = nl ? (size_t)(nl - s->part.p) : s->part.len;
		if (!nl && end - st < PIPE_LINE_MAX) break;
		if (!nl) end = st + PIPE_LINE_MAX;
		if (frame_add(c, s->part.p + st, end - st) < 0) break;
		n++;
		st = nl ? end + 1 : end;
	}
	memmove(s->part.p, s->part.p + st, s->part.len - st);
	s->part.len -= st;
	if (n) frame_emit(c, s, n);
}

void stream_drain(struct conn *c, struct stream *s, int readable)
{
	switch (s->kind) {
	case S_RING: ring_drain(c, s); break;
	case S_PERF: perf_drain(c, s, readable); break;
	default: pipe_drain(c, s); break;
	}
}
