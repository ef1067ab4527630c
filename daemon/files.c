/* File operations on the target: read, list, readlink, stat. */
#include "bpfd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define READ_DEFAULT (1u << 20)

/* Read a small file into dst (NUL-terminated); bytes read or -errno. */
int read_small(const char *path, char *dst, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -errno;
	size_t got = 0;
	while (got + 1 < cap) {
		ssize_t n = read(fd, dst + got, cap - 1 - got);
		if (n < 0) {
			if (errno == EINTR) continue;
			int e = errno;
			close(fd);
			return -e;
		}
		if (n == 0) break;
		got += (size_t)n;
	}
	close(fd);
	dst[got] = 0;
	return (int)got;
}

/* Absolute, and no ".." component. */
static int check_path(struct conn *c, struct req *r, const char *p)
{
	if (p[0] != '/') {
		r_err(c, r->id, EINVAL, "path must be absolute");
		return -1;
	}
	for (const char *s = p; *s;) {
		while (*s == '/') s++;
		const char *e = s;
		while (*e && *e != '/') e++;
		if (e - s == 2 && s[0] == '.' && s[1] == '.') {
			r_err(c, r->id, EINVAL, "path must not contain a '..' component");
			return -1;
		}
		s = e;
	}
	return 0;
}

void op_read(struct conn *c, struct req *r)
{
	const char *path = arg_s(r, "path");
	long long off = arg_i(r, "offset", 0);
	size_t len = (size_t)arg_u(r, "len", READ_DEFAULT);
	if (check_path(c, r, path)) return;
	/* O_NONBLOCK: a FIFO or device with no data must not stall bpfd. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) { r_syserr(c, r->id, errno, "open"); return; }
	struct stat st;
	if (fstat(fd, &st) < 0) {
		r_syserr(c, r->id, errno, "fstat");
		close(fd);
		return;
	}
	if (off && lseek(fd, off, SEEK_SET) < 0) {
		r_syserr(c, r->id, errno, "lseek");
		close(fd);
		return;
	}
	/* Size the buffer by the file where it tells; pseudo-files grow it. */
	size_t cap = 64 << 10;
	if (S_ISREG(st.st_mode) && st.st_size > 0)
		cap = st.st_size > off ? (size_t)(st.st_size - off) + 1 : 1;
	if (cap > len) cap = len;
	uint8_t *b = malloc(cap ? cap : 1);
	if (!b) {
		close(fd);
		r_syserr(c, r->id, ENOMEM, "read");
		return;
	}
	size_t got = 0;
	int eof = 0, e = 0;
	while (got < len) {
		if (got == cap) {
			size_t nc = cap * 2 > len ? len : cap * 2;
			uint8_t *nb = realloc(b, nc);
			if (!nb) { e = ENOMEM; break; }
			b = nb;
			cap = nc;
		}
		ssize_t n = read(fd, b + got, cap - got);
		if (n < 0) {
			if (errno == EINTR) continue;
			if (errno != EAGAIN) e = errno;
			break;
		}
		if (n == 0) { eof = 1; break; }
		got += (size_t)n;
	}
	/* A regular file that ends exactly here needs no further round trip. */
	if (!eof && !e && S_ISREG(st.st_mode) && st.st_size > 0 && (long long)got + off >= st.st_size)
		eof = 1;
	close(fd);
	if (e && !got) {
		r_syserr(c, r->id, e, "read");
	} else {
		r_ok(c, r->id);
		r_int(c, "eof", eof);
		r_b64(c, "data", b, got);
		r_end(c);
	}
	free(b);
}

void op_list(struct conn *c, struct req *r)
{
	const char *path = arg_s(r, "path");
	if (check_path(c, r, path)) return;
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) { r_syserr(c, r->id, errno, "open"); return; }
	DIR *d = fdopendir(dfd);
	if (!d) {
		r_syserr(c, r->id, errno, "fdopendir");
		close(dfd);
		return;
	}
	r_ok(c, r->id);
	out_raw(c, " entries=", 9);
	int first = 1;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *nm = de->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, "..")) continue;
		int t = de->d_type;
		if (t == DT_UNKNOWN) {
			struct stat st;
			if (fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0)
				t = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : S_ISLNK(st.st_mode) ? DT_LNK : DT_FIFO;
		}
		char ty = t == DT_DIR ? 'd' : t == DT_REG ? 'f' : t == DT_LNK ? 'l' : 'o';
		/* Each entry is a str: its own ',' and '%' get escaped. */
		char ent[260];
		size_t nl = strlen(nm);
		if (nl > 255) nl = 255;
		ent[0] = ty;
		ent[1] = ':';
		memcpy(ent + 2, nm, nl);
		if (!first) out_raw(c, ",", 1);
		first = 0;
		out_str(c, ent, nl + 2);
	}
	closedir(d);
	r_end(c);
}

void op_readlink(struct conn *c, struct req *r)
{
	const char *path = arg_s(r, "path");
	if (check_path(c, r, path)) return;
	size_t cap = 256;
	for (;;) {
		char *b = malloc(cap);
		if (!b) { r_syserr(c, r->id, ENOMEM, "readlink"); return; }
		ssize_t n = readlink(path, b, cap);
		if (n < 0) {
			r_syserr(c, r->id, errno, "readlink");
			free(b);
			return;
		}
		if ((size_t)n < cap) {
			r_ok(c, r->id);
			r_str(c, "target", b, (size_t)n);
			r_end(c);
			free(b);
			return;
		}
		free(b);
		if (cap >= (1u << 20)) { r_syserr(c, r->id, ENAMETOOLONG, "readlink"); return; }
		cap *= 2;
	}
}

/* What the host needs to tell whether a file changed since it last read it,
 * without reading it: identity (device, inode), size and times. Follows
 * symbolic links, as open() in op_read does. */
void op_stat(struct conn *c, struct req *r)
{
	const char *path = arg_s(r, "path");
	if (check_path(c, r, path)) return;
	struct stat st;
	if (stat(path, &st) < 0) { r_syserr(c, r->id, errno, "stat"); return; }
	char ty = S_ISDIR(st.st_mode) ? 'd' : S_ISREG(st.st_mode) ? 'f' : 'o';
	r_ok(c, r->id);
	r_str(c, "type", &ty, 1);
	r_uint(c, "mode", st.st_mode & 07777);
	r_uint(c, "major", major(st.st_dev));
	r_uint(c, "minor", minor(st.st_dev));
	r_uint(c, "ino", st.st_ino);
	r_int(c, "size", st.st_size);
	r_int(c, "mtime_ns", (long long)st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec);
	r_int(c, "ctime_ns", (long long)st.st_ctim.tv_sec * 1000000000ll + st.st_ctim.tv_nsec);
	r_end(c);
}
