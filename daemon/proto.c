/* Request lines in (tokens, keys, value decoding), reply frames out. */
#include "bpfd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_TOKENS (2 + MAX_ARGS)

static void op_auth(struct conn *c, struct req *r);
static void op_quit(struct conn *c, struct req *r);

#define INT(n, req, lo, hi) { n, A_INT, req, lo, hi }
#define U32(n, req) INT(n, req, 0, 0xffffffffull)
#define S32(n, req) INT(n, req, -2147483648ll, 2147483647ull)
#define HND(n, req) INT(n, req, 0, 2147483647ull)
#define BOOL(n) INT(n, 0, 0, 1)
#define STR(n, req) { n, A_STR, req, 0, 0 }
#define CSTR(n, req) { n, A_CSTR, req, 0, 0 }
#define B64(n, req) { n, A_B64, req, 0, 0 }
#define LIST(n, req) { n, A_LIST, req, 0, 0 }
#define END { NULL, 0, 0, 0, 0 }

static const struct argspec a_hello[] = { INT("proto", 1, 0, 0xffffffffull), END };
static const struct argspec a_auth[] = { CSTR("token", 1), END };
static const struct argspec a_none[] = { END };
static const struct argspec a_close[] = { HND("h", 1), END };
static const struct argspec a_map_create[] = {
	U32("type", 1), U32("key", 1), U32("value", 1), U32("max", 1), U32("flags", 0),
	CSTR("name", 0), HND("btf", 0), U32("btf_key", 0), U32("btf_value", 0),
	HND("inner", 0), U32("ifindex", 0), END };
static const struct argspec a_map_lookup[] = { HND("h", 1), B64("key", 1), INT("flags", 0, 0, ~0ull), END };
static const struct argspec a_map_update[] = {
	HND("h", 1), B64("key", 1), B64("value", 1), INT("flags", 0, 0, ~0ull), END };
static const struct argspec a_map_delete[] = { HND("h", 1), B64("key", 1), END };
static const struct argspec a_map_next[] = { HND("h", 1), B64("key", 0), END };
static const struct argspec a_map_dump[] = { HND("h", 1), U32("max", 0), BOOL("delete"), END };
static const struct argspec a_btf_load[] = { B64("data", 1), U32("log_level", 0), END };
static const struct argspec a_prog_load[] = {
	U32("type", 1), B64("insns", 1), CSTR("license", 1), CSTR("name", 0),
	U32("attach_type", 0), HND("btf", 0), B64("func_info", 0), U32("func_info_rec", 0),
	B64("line_info", 0), U32("line_info_rec", 0), U32("attach_btf_id", 0),
	U32("kern_version", 0), U32("log_level", 0), U32("log_size", 0), U32("flags", 0), END };
static const struct argspec a_attach_tp[] = { HND("prog", 1), CSTR("category", 1), CSTR("name", 1), END };
static const struct argspec a_attach_raw_tp[] = { HND("prog", 1), CSTR("name", 1), END };
static const struct argspec a_attach_kprobe[] = {
	HND("prog", 1), CSTR("func", 1), INT("offset", 0, 0, ~0ull), BOOL("ret"),
	INT("maxactive", 0, 0, 4096), END };
static const struct argspec a_attach_uprobe[] = {
	HND("prog", 1), CSTR("path", 1), INT("offset", 1, 0, ~0ull), BOOL("ret"),
	S32("pid", 0), END };
static const struct argspec a_attach_perf[] = {
	HND("prog", 1), U32("type", 1), INT("config", 1, 0, ~0ull), S32("cpu", 1), S32("pid", 0),
	INT("period", 0, 1, ~0ull), INT("freq", 0, 1, ~0ull), END };
static const struct argspec a_attach_tracing[] = { HND("prog", 1), END };
static const struct argspec a_ringbuf_open[] = {
	HND("map", 1), INT("batch_bytes", 0, 64, 64u << 20), END };
static const struct argspec a_perfbuf_open[] = {
	HND("map", 1), INT("pages", 0, 1, 1u << 20), LIST("cpus", 0),
	INT("batch_bytes", 0, 64, 64u << 20), END };
static const struct argspec a_read[] = {
	CSTR("path", 1), INT("offset", 0, 0, 0x7fffffffffffffffull), INT("len", 0, 0, 16u << 20), END };
static const struct argspec a_path[] = { CSTR("path", 1), END };

static const struct opdef ops[] = {
	{ "hello", op_hello, a_hello },
	{ "auth", op_auth, a_auth },
	{ "quit", op_quit, a_none },
	{ "close", op_close, a_close },
	{ "map_create", op_map_create, a_map_create },
	{ "map_lookup", op_map_lookup, a_map_lookup },
	{ "map_update", op_map_update, a_map_update },
	{ "map_delete", op_map_delete, a_map_delete },
	{ "map_freeze", op_map_freeze, a_close },
	{ "map_next", op_map_next, a_map_next },
	{ "map_dump", op_map_dump, a_map_dump },
	{ "btf_load", op_btf_load, a_btf_load },
	{ "prog_load", op_prog_load, a_prog_load },
	{ "attach_tracepoint", op_attach_tracepoint, a_attach_tp },
	{ "attach_raw_tracepoint", op_attach_raw_tracepoint, a_attach_raw_tp },
	{ "attach_kprobe", op_attach_kprobe, a_attach_kprobe },
	{ "attach_uprobe", op_attach_uprobe, a_attach_uprobe },
	{ "attach_perf_event", op_attach_perf_event, a_attach_perf },
	{ "attach_tracing", op_attach_tracing, a_attach_tracing },
	{ "ringbuf_open", op_ringbuf_open, a_ringbuf_open },
	{ "perfbuf_open", op_perfbuf_open, a_perfbuf_open },
	{ "trace_pipe_open", op_trace_pipe_open, a_none },
	{ "read", op_read, a_read },
	{ "list", op_list, a_path },
	{ "readlink", op_readlink, a_path },
	{ "stat", op_stat, a_path },
};

/* ---- value decoding (in place: decoded bytes never outgrow the text) ---- */

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9') return ch - '0';
	if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
	return -1;
}

/* 0 ok, -EINVAL bad syntax, -ERANGE beyond 64 bits */
static int parse_int(const uint8_t *s, size_t n, __int128 *out)
{
	int neg = 0;
	unsigned __int128 v = 0;
	const unsigned __int128 lim = (unsigned __int128)1 << 64;

	if (n && s[0] == '-') { neg = 1; s++; n--; }
	if (!n) return -EINVAL;
	if (!neg && n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (size_t i = 2; i < n; i++) {
			int d = hexval(s[i]);
			if (d < 0) return -EINVAL;
			v = v * 16 + d;
			if (v >= lim) return -ERANGE;
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			if (s[i] < '0' || s[i] > '9') return -EINVAL;
			v = v * 10 + (s[i] - '0');
			if (v >= lim) return -ERANGE;
		}
	}
	*out = neg ? -(__int128)v : (__int128)v;
	return 0;
}

/* Percent-decode in place; returns decoded length or -1. */
static long pct_decode(uint8_t *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;
			if (i + 2 >= n) return -1;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0) return -1;
			s[o++] = (uint8_t)(hi * 16 + lo);
			i += 2;
		} else {
			s[o++] = s[i];
		}
	}
	return (long)o;
}

static int b64val(int ch)
{
	if (ch >= 'A' && ch <= 'Z') return ch - 'A';
	if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9') return ch - '0' + 52;
	if (ch == '+') return 62;
	if (ch == '/') return 63;
	return -1;
}

/* Strict standard base64 with padding, decoded in place; length or -1. */
static long b64_decode(uint8_t *s, size_t n)
{
	size_t o = 0;
	if (n % 4) return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		for (int j = 0; j < 4; j++) {
			if (s[i + j] == '=') {
				/* padding only in the last quantum's last two places */
				if (i + 4 != n || j < 2) return -1;
				pad++;
				v[j] = 0;
			} else {
				if (pad) return -1;
				v[j] = b64val(s[i + j]);
				if (v[j] < 0) return -1;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		s[o++] = (uint8_t)(w >> 16);
		if (pad < 2) s[o++] = (uint8_t)(w >> 8);
		if (pad < 1) s[o++] = (uint8_t)w;
	}
	return (long)o;
}

int parse_cpu_list(const char *s, size_t n, int *out, int max)
{
	int cnt = 0;
	size_t i = 0;
	while (i < n) {
		long a = 0, b;
		size_t st = i;
		while (i < n && s[i] >= '0' && s[i] <= '9' && a < 1000000) a = a * 10 + (s[i++] - '0');
		if (i == st) return -1;
		b = a;
		if (i < n && s[i] == '-') {
			i++;
			st = i;
			b = 0;
			while (i < n && s[i] >= '0' && s[i] <= '9' && b < 1000000) b = b * 10 + (s[i++] - '0');
			if (i == st || b < a) return -1;
		}
		for (long x = a; x <= b; x++) {
			if (cnt >= max) return -1;
			out[cnt++] = (int)x;
		}
		if (i < n) {
			if (s[i] == '\n' && i + 1 == n) break;
			if (s[i] != ',') return -1;
			i++;
			if (i == n) return -1;
		}
	}
	return cnt;
}

/* ---- argument access for handlers ---- */

static struct argval *arg_find(struct req *r, const char *name)
{
	for (int i = 0; r->op->args[i].name; i++)
		if (!strcmp(r->op->args[i].name, name))
			return r->v[i].present ? &r->v[i] : NULL;
	return NULL;
}

int arg_has(struct req *r, const char *name) { return arg_find(r, name) != NULL; }

long long arg_i(struct req *r, const char *name, long long dflt)
{
	struct argval *v = arg_find(r, name);
	return v ? (long long)v->i : dflt;
}

unsigned long long arg_u(struct req *r, const char *name, unsigned long long dflt)
{
	struct argval *v = arg_find(r, name);
	return v ? (unsigned long long)v->i : dflt;
}

const uint8_t *arg_bytes(struct req *r, const char *name, size_t *n)
{
	struct argval *v = arg_find(r, name);
	if (!v) { *n = 0; return NULL; }
	*n = v->n;
	return v->p;
}

const char *arg_s(struct req *r, const char *name)
{
	struct argval *v = arg_find(r, name);
	return v ? (const char *)v->p : NULL;
}

/* ---- output ---- */

void out_raw(struct conn *c, const void *p, size_t n)
{
	if (c->out_failed) return;
	if (buf_put(&c->out, p, n) < 0) c->out_failed = 1;
}

void out_fmt(struct conn *c, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) return;
	if ((size_t)n >= sizeof(tmp)) n = sizeof(tmp) - 1;
	out_raw(c, tmp, (size_t)n);
}

void out_str(struct conn *c, const void *src, size_t n)
{
	const uint8_t *p = src;
	static const char hex[] = "0123456789ABCDEF";
	if (c->out_failed) return;
	if (buf_reserve(&c->out, n * 3) < 0) { c->out_failed = 1; return; }
	uint8_t *o = c->out.p + c->out.len;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];
		if (ch < '!' || ch > '~' || ch == '%' || ch == '=' || ch == ',') {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		} else {
			*o++ = ch;
		}
	}
	c->out.len = (size_t)(o - c->out.p);
}

static void out_b64(struct conn *c, const uint8_t *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (c->out_failed) return;
	if (buf_reserve(&c->out, (n + 2) / 3 * 4) < 0) { c->out_failed = 1; return; }
	uint8_t *o = c->out.p + c->out.len;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = tab[w >> 18];
		*o++ = tab[(w >> 12) & 63];
		*o++ = tab[(w >> 6) & 63];
		*o++ = tab[w & 63];
	}
	if (n - i == 1) {
		uint32_t w = (uint32_t)p[i] << 16;
		*o++ = tab[w >> 18];
		*o++ = tab[(w >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		uint32_t w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = tab[w >> 18];
		*o++ = tab[(w >> 12) & 63];
		*o++ = tab[(w >> 6) & 63];
		*o++ = '=';
	}
	c->out.len = (size_t)(o - c->out.p);
}

void r_ok(struct conn *c, uint64_t id) { out_fmt(c, "ok %llu", (unsigned long long)id); }

static void r_err_v(struct conn *c, uint64_t id, int err, const char *fmt, va_list ap)
{
	char msg[1024];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0) n = 0;
	if ((size_t)n >= sizeof(msg)) n = sizeof(msg) - 1;
	out_fmt(c, "err %llu %s %d msg=", (unsigned long long)id, errname(err), err);
	out_str(c, (const uint8_t *)msg, (size_t)n);
	if (id == 0) r_uint(c, "line", c->lineno);
}

void r_err_begin(struct conn *c, uint64_t id, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	r_err_v(c, id, err, fmt, ap);
	va_end(ap);
}

void r_err(struct conn *c, uint64_t id, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	r_err_v(c, id, err, fmt, ap);
	va_end(ap);
	r_end(c);
}

void r_syserr(struct conn *c, uint64_t id, int err, const char *ctx)
{
	r_err(c, id, err, "%s: %s", ctx, errtext(err));
}

void r_int(struct conn *c, const char *k, long long v) { out_fmt(c, " %s=%lld", k, v); }
void r_uint(struct conn *c, const char *k, unsigned long long v) { out_fmt(c, " %s=%llu", k, v); }

void r_str(struct conn *c, const char *k, const void *p, size_t n)
{
	out_fmt(c, " %s=", k);
	out_str(c, p, n);
}

void r_cstr(struct conn *c, const char *k, const char *s) { r_str(c, k, s, strlen(s)); }

void r_b64(struct conn *c, const char *k, const void *p, size_t n)
{
	out_fmt(c, " %s=", k);
	out_b64(c, p, n);
}

void r_end(struct conn *c) { out_raw(c, "\n", 1); }

/* ---- session operations that only touch the connection ---- */

static void op_auth(struct conn *c, struct req *r)
{
	/* Authentication itself happens in handle_line; here it is a no-op. */
	(void)arg_s(r, "token");
	r_ok(c, r->id);
	r_end(c);
}

/* Everything is freed before the reply, so a host that sees the reply may
 * drop the connection at once: some byte streams (a qemu chardev) never
 * report the end of the bpfd behind them. */
static void op_quit(struct conn *c, struct req *r)
{
	h_close_all(c);
	r_ok(c, r->id);
	r_end(c);
	c->done = 1;
}

/* Compare without an early exit so timing does not reveal a prefix. */
static int token_equal(const uint8_t *a, size_t an, const char *b)
{
	size_t bn = strlen(b);
	unsigned diff = (unsigned)(an ^ bn);
	for (size_t i = 0; i < bn; i++)
		diff |= (unsigned)(b[i] ^ (i < an ? a[i] : 0));
	return diff == 0;
}

/* A short printable rendering of untrusted text for messages. */
static const char *shown(const uint8_t *p, size_t n, char *dst, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 4 < cap; i++)
		dst[o++] = (p[i] >= ' ' && p[i] <= '~') ? (char)p[i] : '?';
	if (n && o + 4 >= cap) { dst[o++] = '.'; dst[o++] = '.'; dst[o++] = '.'; }
	dst[o] = 0;
	return dst;
}

/* Decode one key=value token against the operation's spec. 0 or an errno. */
static int parse_arg(struct conn *c, struct req *r, uint8_t *t, size_t n)
{
	char sk[72];
	uint8_t *eq = memchr(t, '=', n);
	if (!eq) {
		r_err(c, r->id, EINVAL, "argument '%s' is not key=value", shown(t, n, sk, 40));
		return EINVAL;
	}
	size_t kn = (size_t)(eq - t);
	int idx = -1;
	const struct argspec *as = r->op->args;
	for (int i = 0; as[i].name; i++)
		if (strlen(as[i].name) == kn && !memcmp(as[i].name, t, kn)) { idx = i; break; }
	if (idx < 0) {
		r_err(c, r->id, EINVAL, "unknown key '%s' for %s", shown(t, kn, sk, 40), r->op->name);
		return EINVAL;
	}
	struct argval *v = &r->v[idx];
	const struct argspec *s = &as[idx];
	if (v->present) {
		r_err(c, r->id, EINVAL, "repeated key '%s'", s->name);
		return EINVAL;
	}
	uint8_t *val = eq + 1;
	size_t vn = n - kn - 1;
	long dn;
	switch (s->kind) {
	case A_INT: {
		int e = parse_int(val, vn, &v->i);
		if (e == -EINVAL) {
			r_err(c, r->id, EINVAL, "bad int for key '%s'", s->name);
			return EINVAL;
		}
		if (e == -ERANGE || v->i < (__int128)s->lo || v->i > (__int128)s->hi) {
			r_err(c, r->id, ERANGE, "value of key '%s' out of range %lld..%llu", s->name, s->lo, s->hi);
			return ERANGE;
		}
		break;
	}
	case A_STR:
	case A_CSTR:
		dn = pct_decode(val, vn);
		if (dn < 0) {
			r_err(c, r->id, EINVAL, "bad percent-encoding in key '%s'", s->name);
			return EINVAL;
		}
		if (s->kind == A_CSTR && memchr(val, 0, (size_t)dn)) {
			r_err(c, r->id, EINVAL, "key '%s' contains a NUL byte", s->name);
			return EINVAL;
		}
		val[dn] = 0;
		v->p = val;
		v->n = (size_t)dn;
		break;
	case A_B64:
		dn = b64_decode(val, vn);
		if (dn < 0) {
			r_err(c, r->id, EINVAL, "bad base64 in key '%s'", s->name);
			return EINVAL;
		}
		v->p = val;
		v->n = (size_t)dn;
		break;
	default: /* A_LIST: parsed by the handler */
		v->p = val;
		v->n = vn;
		break;
	}
	v->present = 1;
	return 0;
}

void handle_line(struct conn *c, uint8_t *line, size_t n)
{
	struct { uint8_t *p; size_t n; } tok[MAX_TOKENS];
	int nt = 0;
	struct req r;
	char sk[72];

	if (n && line[n - 1] == '\r') n--;
	for (size_t i = 0; i < n;) {
		while (i < n && line[i] == ' ') i++;
		if (i >= n) break;
		size_t st = i;
		while (i < n && line[i] != ' ') i++;
		if (nt == MAX_TOKENS) { nt = MAX_TOKENS + 1; break; }
		tok[nt].p = line + st;
		tok[nt].n = i - st;
		nt++;
	}
	if (nt == 0) return;

	/* Values are decoded in place and NUL-terminated; the byte after a
	   token is its separator or the spare byte the reader keeps. */
	__int128 id = 0;
	if (tok[0].n > 16 || parse_int(tok[0].p, tok[0].n, &id) || id < 1 ||
	    id > (((__int128)1 << 53) - 1) || tok[0].p[0] == '-' || tok[0].p[0] == '0') {
		if (c->need_auth) {
			r_err(c, 0, EACCES, "authentication required");
			c->done = 1;
			return;
		}
		r_err(c, 0, EINVAL, "a request starts with a decimal ID from 1 to 2^53-1");
		return;
	}
	memset(&r, 0, sizeof(r));
	r.id = (uint64_t)id;
	if (nt < 2) {
		r_err(c, r.id, c->need_auth ? EACCES : EINVAL, "missing operation");
		if (c->need_auth) c->done = 1;
		return;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strlen(ops[i].name) == tok[1].n && !memcmp(ops[i].name, tok[1].p, tok[1].n))
			r.op = &ops[i];
	if (c->need_auth && (!r.op || r.op->fn != op_auth)) {
		r_err(c, r.id, EACCES, "authentication required: the first request must be auth");
		c->done = 1;
		return;
	}
	if (!r.op) {
		r_err(c, r.id, ENOSYS, "unknown operation '%s'", shown(tok[1].p, tok[1].n, sk, 40));
		return;
	}
	if (nt > MAX_TOKENS) {
		r_err(c, r.id, c->need_auth ? EACCES : EINVAL, "too many arguments");
		if (c->need_auth) c->done = 1;
		return;
	}
	for (int i = 2; i < nt; i++) {
		if (parse_arg(c, &r, tok[i].p, tok[i].n)) {
			if (c->need_auth) c->done = 1;
			return;
		}
	}
	for (int i = 0; r.op->args[i].name; i++) {
		if (r.op->args[i].req && !r.v[i].present) {
			r_err(c, r.id, c->need_auth ? EACCES : EINVAL, "missing key '%s'", r.op->args[i].name);
			if (c->need_auth) c->done = 1;
			return;
		}
	}
	if (c->need_auth) {
		size_t tn;
		const uint8_t *t = arg_bytes(&r, "token", &tn);
		if (!token_equal(t, tn, c->token)) {
			r_err(c, r.id, EACCES, "bad token");
			c->done = 1;
			return;
		}
		c->need_auth = 0;
	}
	r.op->fn(c, &r);
}
