/* bpfd: command line, listeners, and the per-connection poll loop with its buffers. */
#include "bpfd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (256u << 10)
#define FLUSH_AT (4u << 20)     /* flush mid-batch once this much output waits */
#define AUTH_TIMEOUT_MS 10000   /* time a client has to authenticate */

volatile int g_stop;

/* ---- buffers ---- */

int buf_reserve(struct buf *b, size_t extra)
{
	if (b->cap - b->len > extra) return 0;
	if (extra > ((size_t)1 << 40)) return -1;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->len <= extra) cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p) return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int buf_put(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0) return -1;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Give back memory a big request left behind. */
static void buf_trim(struct buf *b, size_t keep)
{
	if (b->cap > keep && b->len < keep / 2) {
		uint8_t *p = realloc(b->p, keep);
		if (p) { b->p = p; b->cap = keep; }
	}
}

/* ---- connection ---- */

/* Write all pending output; blocking, also on a non-blocking fd. */
void conn_flush(struct conn *c)
{
	size_t off = 0;
	if (c->out_failed) {
		/* Output was lost mid-frame; the peer can no longer trust the stream. */
		c->done = 1;
		c->out.len = 0;
		return;
	}
	while (off < c->out.len) {
		/* A signal during a blocked write that had sent some bytes returns
		 * the partial count, not EINTR: look for it before blocking again. */
		if (g_stop) { c->done = 1; break; }
		ssize_t n = write(c->out_fd, c->out.p + off, c->out.len - off);
		if (n > 0) { off += (size_t)n; continue; }
		if (n < 0 && errno == EINTR && !g_stop) continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = c->out_fd, .events = POLLOUT };
			if (poll(&p, 1, -1) >= 0 || errno == EINTR) continue;
		}
		c->done = 1;
		break;
	}
	c->out.len = 0;
	buf_trim(&c->out, 1u << 20);
	buf_trim(&c->scratch, 1u << 20);
}

static void line_too_long(struct conn *c)
{
	if (c->need_auth) {
		r_err(c, 0, EACCES, "authentication required");
		c->done = 1;
	} else {
		r_err(c, 0, E2BIG, "line too long");
	}
}

/* Handle every complete line in the input buffer. */
static void process_input(struct conn *c, int eof)
{
	size_t limit = c->need_auth ? PREAUTH_LINE_MAX : LINE_MAX_BYTES;
	size_t start = 0;
	while (!c->done) {
		uint8_t *nl = memchr(c->in.p + c->in_scan, '\n', c->in.len - c->in_scan);
		size_t end;
		if (nl) {
			end = (size_t)(nl - c->in.p);
		} else if (eof && c->in.len > start && !c->discarding) {
			end = c->in.len;   /* the last line lacks its newline */
		} else {
			c->in_scan = c->in.len;
			break;
		}
		if (c->discarding) {
			c->discarding = 0;   /* counted and answered when it began */
		} else if (end - start > limit) {
			c->lineno++;
			line_too_long(c);
		} else {
			c->lineno++;
			handle_line(c, c->in.p + start, end - start);
			limit = c->need_auth ? PREAUTH_LINE_MAX : LINE_MAX_BYTES;
		}
		start = end + (nl ? 1 : 0);
		c->in_scan = start;
		if (c->out.len >= FLUSH_AT) conn_flush(c);
	}
	if (start > c->in.len) start = c->in.len;
	if (start) memmove(c->in.p, c->in.p + start, c->in.len - start);
	c->in.len -= start;
	c->in_scan -= start < c->in_scan ? start : c->in_scan;
	if (!c->done && c->in.len > limit) {
		/* An overlong line: drop what we have and the rest up to its newline. */
		if (!c->discarding) {
			c->lineno++;
			line_too_long(c);
		}
		c->discarding = 1;
		c->in.len = 0;
		c->in_scan = 0;
	}
	if (c->discarding) { c->in.len = 0; c->in_scan = 0; }
	buf_trim(&c->in, 4u << 20);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* After a drain that produced events, streams are left alone this long so the
 * next frame carries a batch: under a storm the kernel wakes us for nearly
 * every record, and a frame per record costs both ends far more than the
 * wait. 1 ms was shorter than the gap between events of an exec storm
 * (~0.7 ms), so frames still carried one or two records each and the host
 * paid a wakeup per exec; 5 ms is still far below what a reader notices. A
 * lone event after a quiet spell still goes out at once, and a full batch
 * does not wait. */
#define STREAM_HOLDOFF_NS 5000000LL

/* Serve one connection until it ends, then free everything it owned. */
static void serve(int in_fd, int out_fd, const char *token)
{
	struct conn c;
	memset(&c, 0, sizeof(c));
	c.in_fd = in_fd;
	c.out_fd = out_fd;
	c.token = token;
	c.need_auth = token != NULL;
	struct pollfd *pfd = NULL;
	struct stream **ps = NULL;
	int npfd = 0;
	long started = now_ms();
	long long holdoff = 0;

	while (!c.done && !g_stop) {
		int n = 0, pending = 0;
		int want = 2;
		for (int fd = 0; fd < c.nh; fd++) want += c.h[fd].kind == H_STREAM;
		if (want > npfd) {
			struct pollfd *np = realloc(pfd, (size_t)want * sizeof(*np));
			if (np) pfd = np;
			struct stream **nps = realloc(ps, (size_t)want * sizeof(*nps));
			if (nps) ps = nps;
			if (!np || !nps) break;
			npfd = want;
		}
		pfd[n++] = (struct pollfd){ .fd = in_fd, .events = POLLIN };
		/* A pipe's write end reports POLLERR once its reader is gone. */
		if (out_fd != in_fd) pfd[n++] = (struct pollfd){ .fd = out_fd, .events = 0 };
		int first_stream = n;
		for (int fd = 0; fd < c.nh; fd++) {
			if (c.h[fd].kind != H_STREAM) continue;
			ps[n] = c.h[fd].stream;
			pending |= stream_pending(ps[n]);
			pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
		}
		int timeout = pending ? 0 : -1;
		if (c.need_auth) {
			/* An idle unauthenticated client must not hold the listener. */
			long left = AUTH_TIMEOUT_MS - (now_ms() - started);
			if (left <= 0) break;
			timeout = (int)left;
		}
		/* During a hold-off only the host is listened to, until it ends. */
		int npoll = n;
		long long wait_ns = -1;
		long long left = holdoff - now_ns();
		if (left > 0 && !pending) {
			npoll = first_stream;
			for (int i = first_stream; i < n; i++) pfd[i].revents = 0;
			wait_ns = left;
		}
		if (timeout >= 0 && (wait_ns < 0 || (long long)timeout * 1000000LL < wait_ns)) wait_ns = (long long)timeout * 1000000LL;
		struct timespec ts = { .tv_sec = wait_ns / 1000000000LL, .tv_nsec = wait_ns % 1000000000LL };
		int rc = ppoll(pfd, (nfds_t)npoll, wait_ns < 0 ? NULL : &ts, NULL);
		if (rc < 0) {
			if (errno == EINTR) continue;
			break;
		}
		if (pfd[0].revents) {
			if (buf_reserve(&c.in, READ_CHUNK + 1) < 0) break;
			ssize_t got = read(in_fd, c.in.p + c.in.len, READ_CHUNK);
			if (got > 0) {
				c.in.len += (size_t)got;
				process_input(&c, 0);
			} else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
				process_input(&c, 1);
				c.done = 1;
			}
		}
		if (out_fd != in_fd && (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL))) c.done = 1;
		/* Streams closed by a request above are no longer in the table. */
		size_t before = c.out.len;
		int drained = 0;
		for (int i = first_stream; i < n && !c.done; i++) {
			struct handle *h = h_get(&c, pfd[i].fd);
			if (!h || h->kind != H_STREAM || h->stream != ps[i]) continue;
			int readable = (pfd[i].revents & POLLIN) != 0;
			if (readable || stream_pending(ps[i])) {
				stream_drain(&c, ps[i], readable);
				drained = 1;
			}
		}
		if (drained && c.out.len != before) holdoff = now_ns() + STREAM_HOLDOFF_NS;
		conn_flush(&c);
	}
	conn_flush(&c);
	h_close_all(&c);
	free(pfd);
	free(ps);
	buf_free(&c.in);
	buf_free(&c.out);
	buf_free(&c.scratch);
}

/* ---- listeners ---- */

static void usage(FILE *f)
{
	fputs("usage: bpfd [--listen [HOST:]PORT | --listen unix:PATH] [--token-file FILE]\n"
	      "       bpfd --version | --help\n"
	      "\n"
	      "Serves the bpftools protocol: on stdin/stdout when run without --listen,\n"
	      "else on a tcp or unix socket, one client at a time.\n"
	      "\n"
	      "  --listen PORT          tcp on 127.0.0.1:PORT (0 picks a free port)\n"
	      "  --listen HOST:PORT     tcp on an IPv4 address, [IPv6] or localhost\n"
	      "  --listen unix:PATH     unix socket (unix:@NAME for the abstract namespace)\n"
	      "  --token-file FILE      clients must first send 'auth token=...' with FILE's\n"
	      "                         contents; required off loopback\n"
	      "  --version              print the version and protocol\n", f);
}

static int parse_port(const char *s, int *port)
{
	char *e;
	long v = strtol(s, &e, 10);
	if (!*s || *e || v < 0 || v > 65535) return -1;
	*port = (int)v;
	return 0;
}

/* Parse a --listen spec into an address; sets *loopback. -1 after a message. */
static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *sl, int *loopback)
{
	memset(ss, 0, sizeof(*ss));
	*loopback = 1;
	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		const char *p = spec + 5;
		size_t n = strlen(p);
		if (!n || n >= sizeof(un->sun_path)) {
			fprintf(stderr, "bpfd: bad unix socket path '%s'\n", p);
			return -1;
		}
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, p, n);
		if (p[0] == '@') un->sun_path[0] = 0;  /* abstract namespace */
		*sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (p[0] == '@' ? 0 : 1));
		return 0;
	}
	char host[256];
	int port;
	const char *colon = strrchr(spec, ':');
	if (!colon) {
		snprintf(host, sizeof(host), "127.0.0.1");
		if (parse_port(spec, &port)) goto bad;
	} else {
		size_t hn = (size_t)(colon - spec);
		if (hn >= sizeof(host) || parse_port(colon + 1, &port)) goto bad;
		memcpy(host, spec, hn);
		host[hn] = 0;
	}
	if (!strcmp(host, "localhost")) snprintf(host, sizeof(host), "127.0.0.1");
	size_t hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		host[hl - 1] = 0;
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1) goto bad;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*s6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
			    (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && s6->sin6_addr.s6_addr[12] == 127);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) goto bad;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*s4);
		*loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	return 0;
bad:
	fprintf(stderr, "bpfd: cannot parse --listen '%s' (want PORT, HOST:PORT, [IPV6]:PORT or unix:PATH)\n", spec);
	return -1;
}

static int open_listener(const char *spec, struct sockaddr_storage *ss, socklen_t sl)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "bpfd: socket: %s\n", strerror(errno));
		return -1;
	}
	int one = 1;
	mode_t old = 0;
	if (ss->ss_family == AF_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		struct stat st;
		/* replace a stale socket from an earlier run, nothing else */
		if (un->sun_path[0] && lstat(un->sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(un->sun_path);
		old = umask(077);   /* only our user may connect */
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	int rc = bind(fd, (struct sockaddr *)ss, sl);
	if (ss->ss_family == AF_UNIX) umask(old);
	if (rc < 0 || listen(fd, 8) < 0) {
		fprintf(stderr, "bpfd: cannot listen on %s: %s\n", spec, strerror(errno));
		close(fd);
		return -1;
	}
	char shown[300];
	if (ss->ss_family == AF_UNIX) {
		snprintf(shown, sizeof(shown), "%s", spec);
	} else {
		struct sockaddr_storage b;
		socklen_t bl = sizeof(b);
		char a[INET6_ADDRSTRLEN] = "?";
		getsockname(fd, (struct sockaddr *)&b, &bl);
		if (b.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&b;
			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
			snprintf(shown, sizeof(shown), "[%s]:%d", a, ntohs(s6->sin6_port));
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&b;
			inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
			snprintf(shown, sizeof(shown), "%s:%d", a, ntohs(s4->sin_port));
		}
	}
	fprintf(stderr, "bpfd: listening on %s\n", shown);
	return fd;
}

static void set_tcp_options(int fd)
{
	int one = 1, idle = 30, intvl = 10, cnt = 3;
	/* Replies are small and pipelined; a vanished peer must end the session. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static int read_token(const char *path, char **out)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "bpfd: cannot read token file %s: %s\n", path, strerror(errno));
		return -1;
	}
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t')) buf[--n] = 0;
	if (!n || memchr(buf, 0, n)) {
		fprintf(stderr, "bpfd: token file %s is empty\n", path);
		return -1;
	}
	*out = strdup(buf);
	return *out ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *listen_spec = NULL, *token_file = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--version")) {
			printf("bpfd %s protocol %d\n", BPFD_VERSION, PROTO_VERSION);
			return 0;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--listen") && i + 1 < argc) {
			listen_spec = argv[++i];
		} else if (!strncmp(a, "--listen=", 9)) {
			listen_spec = a + 9;
		} else if (!strcmp(a, "--token-file") && i + 1 < argc) {
			token_file = argv[++i];
		} else if (!strncmp(a, "--token-file=", 13)) {
			token_file = a + 13;
		} else {
			fprintf(stderr, "bpfd: unknown argument '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (token_file && !listen_spec) {
		fprintf(stderr, "bpfd: --token-file needs --listen\n");
		return 2;
	}

	/* Keep 0-2 taken so no kernel object fd is ever mistaken for stdio. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0) return 1;

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* No SA_RESTART: poll and writes return EINTR so the loop can clean up. */
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	/* Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK. */
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	setrlimit(RLIMIT_MEMLOCK, &rl);
	hello_init();

	if (!listen_spec) {
		serve(0, 1, NULL);
		return 0;
	}

	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int loopback;
	if (parse_listen(listen_spec, &ss, &sl, &loopback)) return 2;
	if (!loopback && !token_file) {
		fprintf(stderr, "bpfd: refusing to listen on non-loopback %s without --token-file\n", listen_spec);
		return 2;
	}
	char *token = NULL;
	if (token_file && read_token(token_file, &token)) return 2;
	int lfd = open_listener(listen_spec, &ss, sl);
	if (lfd < 0) return 2;
	while (!g_stop) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
				if (errno == EMFILE || errno == ENFILE) sleep(1);
				continue;
			}
			fprintf(stderr, "bpfd: accept: %s\n", strerror(errno));
			break;
		}
		if (ss.ss_family != AF_UNIX) set_tcp_options(cfd);
		serve(cfd, cfd, token);
		close(cfd);
	}
	close(lfd);
	if (ss.ss_family == AF_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;
		if (un->sun_path[0]) unlink(un->sun_path);
	}
	free(token);
	return 0;
}
