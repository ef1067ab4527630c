/* The connection's handle table: every fd bpfd creates, its kind, its cleanup. */
#include "bpfd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *kind_name(int k)
{
	switch (k) {
	case H_MAP: return "map";
	case H_PROG: return "prog";
	case H_BTF: return "btf";
	case H_PERF: return "perf event";
	case H_LINK: return "link";
	case H_STREAM: return "stream";
	default: return "nothing";
	}
}

/* Record fd; on failure the caller still owns (and closes) the fd. */
struct handle *h_add(struct conn *c, int fd, int kind)
{
	if (fd < 0) return NULL;
	if (fd >= c->nh) {
		int n = c->nh ? c->nh : 64;
		while (n <= fd) n *= 2;
		struct handle *h = realloc(c->h, (size_t)n * sizeof(*h));
		if (!h) return NULL;
		memset(h + c->nh, 0, (size_t)(n - c->nh) * sizeof(*h));
		c->h = h;
		c->nh = n;
	}
	memset(&c->h[fd], 0, sizeof(c->h[fd]));
	c->h[fd].kind = (uint8_t)kind;
	return &c->h[fd];
}

struct handle *h_get(struct conn *c, long long fd)
{
	if (fd < 0 || fd >= c->nh || c->h[fd].kind == H_NONE) return NULL;
	return &c->h[fd];
}

/* The handle named by key, of the wanted kind; otherwise replies EBADF. */
struct handle *h_want(struct conn *c, struct req *r, const char *key, int kind)
{
	long long fd = arg_i(r, key, -1);
	struct handle *h = h_get(c, fd);
	if (!h) {
		/* "h" needs no naming; other keys (prog=, map=, ...) do */
		r_err(c, r->id, EBADF, "%s%shandle %lld is not owned by this connection",
		      strcmp(key, "h") ? key : "", strcmp(key, "h") ? ": " : "", fd);
		return NULL;
	}
	if (h->kind != kind) {
		r_err(c, r->id, EBADF, "%s: handle %lld is a %s, not a %s", key, fd,
		      kind_name(h->kind), kind_name(kind));
		return NULL;
	}
	return h;
}

void h_close(struct conn *c, int fd)
{
	struct handle *h = h_get(c, fd);
	if (!h) return;
	switch (h->kind) {
	case H_STREAM:
		stream_free(h->stream);
		break;
	case H_PERF:
		/* The probe is busy until its perf event is gone. */
		close(fd);
		if (h->probe) {
			probe_remove(h->probe, h->probe_uprobe);
			free(h->probe);
		}
		memset(h, 0, sizeof(*h));
		return;
	default:
		break;
	}
	close(fd);
	memset(h, 0, sizeof(*h));
}

void h_close_all(struct conn *c)
{
	/* Attachments first so probes and programs go before what they use. */
	for (int pass = 0; pass < 2; pass++)
		for (int fd = 0; fd < c->nh; fd++) {
			int k = c->h[fd].kind;
			if (k == H_NONE) continue;
			if (pass == 0 && k != H_PERF && k != H_LINK && k != H_STREAM) continue;
			h_close(c, fd);
		}
	free(c->h);
	c->h = NULL;
	c->nh = 0;
}

void op_close(struct conn *c, struct req *r)
{
	long long fd = arg_i(r, "h", -1);
	if (!h_get(c, fd)) {
		r_err(c, r->id, EBADF, "handle %lld is not owned by this connection", fd);
		return;
	}
	h_close(c, (int)fd);
	r_ok(c, r->id);
	r_end(c);
}
