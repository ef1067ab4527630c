/* libFuzzer target: the bytes a client sends to bpfd, through the
 * connection's input handling (main.c), the request parser and dispatcher
 * (proto.c) and every operation, against the fake system in fakesys.c.
 *
 * Input: byte 0 picks the harness options below; the rest is the client's
 * byte stream. Beyond the sanitizers, a run fails when bpfd
 *   - answers a request line with other than exactly one ok/err frame, or
 *     with another ID than the request's (0 when it had none);
 *   - sends a frame that breaks docs/protocol.md's grammar;
 *   - leaves a descriptor, kernel object, mapping or tracefs probe behind
 *     when the connection ends (fakesys.c). */

/* main.c's statics (process_input) are what a connection runs; take them
 * whole, with its main() out of libFuzzer's way and each request line
 * passing through the checks below. */
#define main bpfd_main
#define handle_line checked_handle_line
#include "main.c"   /* from -I$(DAEMON) */
#undef handle_line
#undef main

#include <stdint.h>

void handle_line(struct conn *c, uint8_t *line, size_t n);

enum {
	OPT_AUTH = 1 << 0,        /* listener with a token: the first line must be auth */
	OPT_NOT_ROOT = 1 << 1,
	OPT_NO_TRACEFS = 1 << 2,  /* not mounted (bpfd mounts it when root) */
	OPT_NO_PMU = 1 << 3,      /* BPFD_NO_PMU=1 */
	OPT_NO_BATCH = 1 << 4,    /* BPFD_NO_BATCH=1 */
	OPT_CHUNK_SHIFT = 5,      /* 2 bits: how the stream is cut into reads */
	OPT_FAULTS = 1 << 7,      /* every 7th fallible system call fails */
};
#define TOKEN "s3cret"

/* ---- the frame grammar of docs/protocol.md ---- */

static int is_digits(const char *s, size_t n)
{
	if (!n) return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9') return 0;
	return 1;
}

static int in_set(const char *k, size_t kn, const char *const *set)
{
	for (; *set; set++)
		if (strlen(*set) == kn && !memcmp(*set, k, kn)) return 1;
	return 0;
}

static int b64v(int ch)
{
	if (ch >= 'A' && ch <= 'Z') return ch - 'A';
	if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9') return ch - '0' + 52;
	if (ch == '+') return 62;
	if (ch == '/') return 63;
	return -1;
}

/* Strict base64; decoded length, or -1. Decodes into dst when given. */
static long b64_check(const char *s, size_t n, uint8_t *dst)
{
	if (n % 4) return -1;
	size_t pad = 0;
	if (n && s[n - 1] == '=') pad = (n > 1 && s[n - 2] == '=') ? 2 : 1;
	size_t o = 0;
	uint32_t acc = 0;
	for (size_t i = 0; i < n - pad; i++) {
		int v = b64v((unsigned char)s[i]);
		if (v < 0) return -1;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			if (dst) { dst[o] = (uint8_t)(acc >> 16); dst[o + 1] = (uint8_t)(acc >> 8); dst[o + 2] = (uint8_t)acc; }
			o += 3;
			acc = 0;
		}
	}
	if (pad == 1) {
		if (dst) { dst[o] = (uint8_t)(acc >> 10); dst[o + 1] = (uint8_t)(acc >> 2); }
		o += 2;
	} else if (pad == 2) {
		if (dst) dst[o] = (uint8_t)(acc >> 4);
		o += 1;
	}
	return (long)o;
}

static int is_hex(int ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F');
}

/* A str value (or one list item): printable, %XX escapes, no bare % = ,. */
static int str_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 >= n) return 0;
			if (!is_hex(s[i + 1]) || !is_hex(s[i + 2])) return 0;
			i += 2;
		} else if (s[i] == '=' || s[i] == ',') {
			return 0;
		}
	}
	return 1;
}

static const char *const b64_keys[] = { "value", "key", "keys", "values", "log", "data", NULL };
static const char *const str_keys[] = {
	"msg", "bpfd", "release", "machine", "cpus_possible", "cpus_online", "tracefs", "boot_id",
	"kprobe", "uprobe", "via", "target", "type", NULL };
static const char *const list_keys[] = { "entries", NULL };

static void bad_frame(const char *why, const char *l, size_t n)
{
	fake_fail("bpfd sent a malformed frame (%s): '%.*s'", why, (int)(n > 300 ? 300 : n), l);
}

static void check_frame(const char *l, size_t n)
{
	const char *tok[64];
	size_t tn[64];
	int nt = 0;
	if (!n) bad_frame("empty line", l, n);
	for (size_t i = 0; i < n; i++)
		if ((l[i] < '!' || l[i] > '~') && l[i] != ' ') bad_frame("byte outside the printable range", l, n);
	if (l[0] == ' ' || l[n - 1] == ' ') bad_frame("leading or trailing space", l, n);
	for (size_t i = 0; i < n;) {
		size_t st = i;
		while (i < n && l[i] != ' ') i++;
		if (i == st) bad_frame("two spaces in a row", l, n);
		if (nt == 64) bad_frame("more than 64 tokens", l, n);
		tok[nt] = l + st;
		tn[nt++] = i - st;
		if (i < n) i++;
	}
	int ok = tn[0] == 2 && !memcmp(tok[0], "ok", 2);
	int err = tn[0] == 3 && !memcmp(tok[0], "err", 3);
	int ev = tn[0] == 2 && !memcmp(tok[0], "ev", 2);
	if (!ok && !err && !ev) bad_frame("not ok/err/ev", l, n);
	if (nt < 2 || !is_digits(tok[1], tn[1]) || tn[1] > 16 || (tok[1][0] == '0' && tn[1] > 1))
		bad_frame("bad ID", l, n);
	int first = 2;
	if (err) {
		if (nt < 5 || tn[2] < 2 || tok[2][0] != 'E') bad_frame("bad errno name", l, n);
		for (size_t i = 1; i < tn[2]; i++)
			if (!((tok[2][i] >= 'A' && tok[2][i] <= 'Z') || (tok[2][i] >= '0' && tok[2][i] <= '9')))
				bad_frame("bad errno name", l, n);
		if (!is_digits(tok[3], tn[3])) bad_frame("bad errno number", l, n);
		if (tn[4] < 4 || memcmp(tok[4], "msg=", 4)) bad_frame("err without msg first", l, n);
		first = 4;
	}
	long ev_n = -1;
	const char *ev_data = NULL;
	size_t ev_dn = 0;
	for (int t = first; t < nt; t++) {
		const char *eq = memchr(tok[t], '=', tn[t]);
		if (!eq || eq == tok[t]) bad_frame("token is not key=value", l, n);
		size_t kn = (size_t)(eq - tok[t]);
		for (size_t i = 0; i < kn; i++)
			if (!((tok[t][i] >= 'a' && tok[t][i] <= 'z') || tok[t][i] == '_')) bad_frame("bad key", l, n);
		for (int u = first; u < t; u++)
			if (tn[u] > kn && tok[u][kn] == '=' && !memcmp(tok[u], tok[t], kn)) bad_frame("repeated key", l, n);
		const char *v = eq + 1;
		size_t vn = tn[t] - kn - 1;
		if (in_set(tok[t], kn, b64_keys)) {
			if (b64_check(v, vn, NULL) < 0) bad_frame("bad base64", l, n);
		} else if (in_set(tok[t], kn, str_keys)) {
			if (!str_ok(v, vn)) bad_frame("bad str", l, n);
		} else if (in_set(tok[t], kn, list_keys)) {
			for (size_t i = 0, st = 0; i <= vn; i++)
				if (i == vn || v[i] == ',') {
					if (vn && (i == st || !str_ok(v + st, i - st))) bad_frame("bad list item", l, n);
					st = i + 1;
				}
		} else {
			size_t s = vn && v[0] == '-';
			if (!is_digits(v + s, vn - s)) bad_frame("bad int", l, n);
		}
		if (ev && kn == 1 && tok[t][0] == 'n') ev_n = strtol(v, NULL, 10);
		if (ev && kn == 4 && !memcmp(tok[t], "data", 4)) { ev_data = v; ev_dn = vn; }
	}
	if (ev) {
		if (ev_n < 0 || !ev_data) bad_frame("ev without n or data", l, n);
		uint8_t *d = (malloc)(ev_dn + 1);
		long dn = b64_check(ev_data, ev_dn, d);
		size_t off = 0;
		for (long i = 0; i < ev_n; i++) {
			uint32_t len;
			if (off + 4 > (size_t)dn) { free(d); bad_frame("ev data shorter than n records", l, n); }
			memcpy(&len, d + off, 4);
			off += 4;
			if (len > (size_t)dn - off) { free(d); bad_frame("ev record runs past data", l, n); }
			off += len;
		}
		free(d);
		if (off != (size_t)dn) bad_frame("ev data longer than n records", l, n);
	}
}

/* ---- the connection's output ---- */

/* Frames written so far, up to a partial line; grown with the real realloc,
 * which fault injection leaves alone. */
static struct buf pending;
static int echo;             /* FUZZ_BPFD_ECHO=1: show the conversation on stderr */

static void out_sink(const uint8_t *p, size_t n)
{
	if (pending.cap - pending.len < n) {
		size_t cap = (pending.len + n) * 2;
		uint8_t *np = (realloc)(pending.p, cap);
		if (!np) fake_fail("harness out of memory");
		pending.p = np;
		pending.cap = cap;
	}
	memcpy(pending.p + pending.len, p, n);
	pending.len += n;
	size_t st = 0;
	for (size_t i = 0; i < pending.len; i++)
		if (pending.p[i] == '\n') {
			if (echo) fprintf(stderr, "<- %.*s\n", (int)(i - st), pending.p + st);
			check_frame((const char *)pending.p + st, i - st);
			st = i + 1;
		}
	memmove(pending.p, pending.p + st, pending.len - st);
	pending.len -= st;
}

/* Every request line gets exactly one reply, with its ID. */
void checked_handle_line(struct conn *c, uint8_t *line, size_t n)
{
	size_t m = n, i = 0;
	if (m && line[m - 1] == '\r') m--;
	while (i < m && line[i] == ' ') i++;
	int has_tokens = i < m;
	size_t st = i;
	while (i < m && line[i] != ' ') i++;
	uint64_t want = 0;
	if (i - st <= 16 && line[st] != '0' && is_digits((const char *)line + st, i - st)) {
		uint64_t v = 0;
		for (size_t k = st; k < i; k++) v = v * 10 + (uint64_t)(line[k] - '0');
		if (v < (1ull << 53)) want = v;
	}
	size_t before = c->out.len;
	int failed = c->out_failed;
	if (echo) fprintf(stderr, "-> %.*s\n", (int)n, line);
	handle_line(c, line, n);
	if (failed || c->out_failed) return;
	int frames = 0;
	for (size_t k = before; k < c->out.len; k++) frames += c->out.p[k] == '\n';
	if (!has_tokens) {
		if (frames) fake_fail("an empty line was answered");
		return;
	}
	if (frames != 1) fake_fail("a request line got %d replies: '%.*s'", frames, (int)(m > 200 ? 200 : m), line);
	const char *r = (const char *)c->out.p + before;
	size_t skip = !strncmp(r, "ok ", 3) ? 3 : !strncmp(r, "err ", 4) ? 4 : 0;
	if (!skip) fake_fail("a request was answered with '%.20s'", r);
	char *end;
	unsigned long long got = strtoull(r + skip, &end, 10);
	if (got != want) fake_fail("request %llu was answered as %llu", (unsigned long long)want, got);
}

/* ---- one connection per input ---- */

static void drain_streams(struct conn *c)
{
	for (int fd = 0; fd < c->nh && !c->done; fd++)
		if (c->h[fd].kind == H_STREAM) stream_drain(c, c->h[fd].stream, 1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	const char *e = getenv("FUZZ_BPFD_ECHO");
	echo = e && !strcmp(e, "1");
	struct fake_config cfg = { .root = 1, .tracefs = 1 };
	fake_reset(&cfg);
	hello_init();
	fake_check_released();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[] = { SIZE_MAX, 3, 64, 4093 };
	if (size < 1) return 0;
	uint8_t opt = data[0];
	data++;
	size--;
	struct fake_config cfg = {
		.root = !(opt & OPT_NOT_ROOT),
		.tracefs = !(opt & OPT_NO_TRACEFS),
		.fault_every = (opt & OPT_FAULTS) ? 7 : 0,
	};
	fake_reset(&cfg);
	g_no_pmu = !!(opt & OPT_NO_PMU);
	g_no_batch = !!(opt & OPT_NO_BATCH);
	size_t chunk = chunks[(opt >> OPT_CHUNK_SHIFT) & 3];
	pending.len = 0;

	struct conn c;
	memset(&c, 0, sizeof(c));
	c.in_fd = c.out_fd = fake_output_fd(out_sink);
	if (opt & OPT_AUTH) {
		c.token = TOKEN;
		c.need_auth = 1;
	}
	size_t off = 0;
	while (!c.done) {
		if (off >= size) {
			if (!c.in.p && !(c.in.p = (malloc)(c.in.cap = 1))) break;
			process_input(&c, 1);
			break;
		}
		size_t n = size - off < chunk ? size - off : chunk;
		/* Exactly the one spare byte bpfd's reader promises after the data. */
		uint8_t *p = (realloc)(c.in.p, c.in.len + n + 1);
		if (!p) break;
		c.in.p = p;
		c.in.cap = c.in.len + n + 1;
		memcpy(c.in.p + c.in.len, data + off, n);
		c.in.len += n;
		off += n;
		process_input(&c, 0);
		drain_streams(&c);
		conn_flush(&c);
	}
	conn_flush(&c);
	h_close_all(&c);
	buf_free(&c.in);
	buf_free(&c.out);
	buf_free(&c.scratch);
	if (pending.len) fake_fail("the connection ended inside a frame: '%.*s'", (int)(pending.len > 200 ? 200 : pending.len), pending.p);
	close(c.out_fd);
	fake_check_released();
	return 0;
}
