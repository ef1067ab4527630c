/* bpf(2) operations: maps (incl. batched dumps), BTF and program loading. */
#include "bpfd.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ENOTSUPP_KERNEL 524
#define DUMP_MAX_BYTES (256ull << 20)   /* keys + values of one map_dump */
#define LOG_DEFAULT ((16u << 20) - 1)  /* older kernels cap logs below 16 MiB */
#define LOG_MAX (256u << 20)
#define INSNS_MAX (1u << 20)           /* the kernel's own instruction limit */

static inline uint64_t ptr(const void *p) { return (uint64_t)(uintptr_t)p; }

long sys_bpf(int cmd, void *attr, unsigned size)
{
	return syscall(__NR_bpf, cmd, attr, size);
}

static int is_percpu(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

/* Plain arrays: entries exist for every index and cannot be deleted. */
static int is_array(uint32_t t)
{
	return t == BPF_MAP_TYPE_ARRAY || t == BPF_MAP_TYPE_PERCPU_ARRAY;
}

void op_map_create(struct conn *c, struct req *r)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = (uint32_t)arg_u(r, "type", 0);
	a.key_size = (uint32_t)arg_u(r, "key", 0);
	a.value_size = (uint32_t)arg_u(r, "value", 0);
	a.max_entries = (uint32_t)arg_u(r, "max", 0);
	a.map_flags = (uint32_t)arg_u(r, "flags", 0);
	a.map_ifindex = (uint32_t)arg_u(r, "ifindex", 0);
	const char *name = arg_s(r, "name");
	if (name) strncpy(a.map_name, name, sizeof(a.map_name) - 1);
	if (arg_has(r, "btf")) {
		if (!h_want(c, r, "btf", H_BTF)) return;
		a.btf_fd = (uint32_t)arg_i(r, "btf", 0);
		a.btf_key_type_id = (uint32_t)arg_u(r, "btf_key", 0);
		a.btf_value_type_id = (uint32_t)arg_u(r, "btf_value", 0);
	} else if (arg_has(r, "btf_key") || arg_has(r, "btf_value")) {
		r_err(c, r->id, EINVAL, "btf_key/btf_value need btf");
		return;
	}
	if (arg_has(r, "inner")) {
		if (!h_want(c, r, "inner", H_MAP)) return;
		a.inner_map_fd = (uint32_t)arg_i(r, "inner", 0);
	}
	int fd = (int)sys_bpf(BPF_MAP_CREATE, &a, sizeof(a));
	if (fd < 0) {
		r_syserr(c, r->id, errno, "bpf(BPF_MAP_CREATE)");
		return;
	}
	struct handle *h = h_add(c, fd, H_MAP);
	if (!h) {
		close(fd);
		r_syserr(c, r->id, ENOMEM, "map_create");
		return;
	}
	h->map.type = a.map_type;
	h->map.key_size = a.key_size;
	h->map.value_size = a.value_size;
	h->map.max_entries = a.max_entries;
	h->map.vsize = is_percpu(a.map_type) ? ((a.value_size + 7) & ~7u) * (uint32_t)g_ncpus : a.value_size;
	r_ok(c, r->id);
	r_int(c, "h", fd);
	r_end(c);
}

static struct handle *want_map_key(struct conn *c, struct req *r, const char *key, int required,
				   const uint8_t **kp)
{
	struct handle *h = h_want(c, r, "h", H_MAP);
	if (!h) return NULL;
	size_t kn;
	*kp = arg_bytes(r, key, &kn);
	if (!*kp && !required) return h;
	if (kn != h->map.key_size) {
		r_err(c, r->id, EINVAL, "%s is %zu bytes, the map's key size is %u", key, kn, h->map.key_size);
		return NULL;
	}
	/* A zero-size key still needs a valid pointer for the kernel. */
	if (!kn) *kp = (const uint8_t *)"";
	return h;
}

void op_map_lookup(struct conn *c, struct req *r)
{
	const uint8_t *key;
	struct handle *h = want_map_key(c, r, "key", 1, &key);
	if (!h) return;
	uint8_t *val = malloc(h->map.vsize ? h->map.vsize : 1);
	if (!val) { r_syserr(c, r->id, ENOMEM, "map_lookup"); return; }
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)arg_i(r, "h", 0);
	a.key = ptr(key);
	a.value = ptr(val);
	a.flags = arg_u(r, "flags", 0);
	if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a, sizeof(a)) < 0) {
		r_syserr(c, r->id, errno, "bpf(BPF_MAP_LOOKUP_ELEM)");
	} else {
		r_ok(c, r->id);
		r_b64(c, "value", val, h->map.vsize);
		r_end(c);
	}
	free(val);
}

/* Maps whose values are fds of other objects must only get our own. */
static int check_fd_value(struct conn *c, struct req *r, struct handle *h, const uint8_t *v, size_t n)
{
	int want;
	switch (h->map.type) {
	case BPF_MAP_TYPE_PROG_ARRAY: want = H_PROG; break;
	case BPF_MAP_TYPE_ARRAY_OF_MAPS:
	case BPF_MAP_TYPE_HASH_OF_MAPS: want = H_MAP; break;
	case BPF_MAP_TYPE_PERF_EVENT_ARRAY: want = H_PERF; break;
	default: return 0;
	}
	uint32_t fd;
	if (n != 4) return 0; /* the kernel rejects the size */
	memcpy(&fd, v, 4);
	struct handle *t = h_get(c, (long long)fd);
	if (!t || t->kind != want) {
		r_err(c, r->id, EBADF, "value: handle %u is not a %s of this connection", fd,
		      want == H_PROG ? "prog" : want == H_MAP ? "map" : "perf event");
		return -1;
	}
	return 0;
}

void op_map_update(struct conn *c, struct req *r)
{
	const uint8_t *key;
	struct handle *h = want_map_key(c, r, "key", 1, &key);
	if (!h) return;
	size_t vn;
	const uint8_t *val = arg_bytes(r, "value", &vn);
	if (vn != h->map.vsize) {
		r_err(c, r->id, EINVAL, "value is %zu bytes, the map's value size is %u%s", vn, h->map.vsize,
		      is_percpu(h->map.type) ? " (per-CPU: rounded to 8 bytes times ncpus)" : "");
		return;
	}
	if (check_fd_value(c, r, h, val, vn)) return;
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)arg_i(r, "h", 0);
	a.key = ptr(key);
	a.value = ptr(vn ? val : (const uint8_t *)"");
	a.flags = arg_u(r, "flags", 0);
	if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a, sizeof(a)) < 0) {
		r_syserr(c, r->id, errno, "bpf(BPF_MAP_UPDATE_ELEM)");
		return;
	}
	r_ok(c, r->id);
	r_end(c);
}

void op_map_delete(struct conn *c, struct req *r)
{
	const uint8_t *key;
	if (!want_map_key(c, r, "key", 1, &key)) return;
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)arg_i(r, "h", 0);
	a.key = ptr(key);
	if (sys_bpf(BPF_MAP_DELETE_ELEM, &a, sizeof(a)) < 0) {
		r_syserr(c, r->id, errno, "bpf(BPF_MAP_DELETE_ELEM)");
		return;
	}
	r_ok(c, r->id);
	r_end(c);
}

/* Frozen maps are read-only to user space, which lets the verifier treat
 * const volatile globals in .rodata as constants. */
void op_map_freeze(struct conn *c, struct req *r)
{
	if (!h_want(c, r, "h", H_MAP)) return;
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)arg_i(r, "h", 0);
	if (sys_bpf(BPF_MAP_FREEZE, &a, sizeof(a)) < 0) {
		r_syserr(c, r->id, errno, "bpf(BPF_MAP_FREEZE)");
		return;
	}
	r_ok(c, r->id);
	r_end(c);
}

void op_map_next(struct conn *c, struct req *r)
{
	const uint8_t *key;
	struct handle *h = want_map_key(c, r, "key", 0, &key);
	if (!h) return;
	uint8_t *next = malloc(h->map.key_size ? h->map.key_size : 1);
	if (!next) { r_syserr(c, r->id, ENOMEM, "map_next"); return; }
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)arg_i(r, "h", 0);
	a.key = ptr(key);
	a.next_key = ptr(next);
	if (sys_bpf(BPF_MAP_GET_NEXT_KEY, &a, sizeof(a)) < 0) {
		r_syserr(c, r->id, errno, "bpf(BPF_MAP_GET_NEXT_KEY)");
	} else {
		r_ok(c, r->id);
		r_b64(c, "key", next, h->map.key_size);
		r_end(c);
	}
	free(next);
}

/* ---- map_dump ---- */

struct dump {
	int fd;
	uint32_t ks, vs;
	uint32_t max, n, cap;
	uint8_t *keys, *vals;
};

/* Make room for at least want entries (never more than max). */
static int dump_grow(struct dump *d, uint32_t want)
{
	if (want <= d->cap) return 0;
	uint64_t cap = d->cap ? d->cap : 1024;
	while (cap < want) cap *= 2;
	if (cap > d->max) cap = d->max;
	uint8_t *k = realloc(d->keys, (size_t)cap * d->ks + 1);
	if (!k) return -1;
	d->keys = k;
	uint8_t *v = realloc(d->vals, (size_t)cap * d->vs + 1);
	if (!v) return -1;
	d->vals = v;
	d->cap = (uint32_t)cap;
	return 0;
}

/* Batched dump; 0 done, -1 fall back (nothing read yet), or an errno. */
static int dump_batch(struct dump *d, int del)
{
	size_t tsz = d->ks + 8;   /* opaque position token: u32 for hash, key for arrays */
	uint8_t *tok = calloc(2, tsz);
	if (!tok) return ENOMEM;
	uint8_t *in = NULL, *out = tok;
	uint32_t chunk = 4096;
	int ret = 0;

	while (d->n < d->max) {
		uint32_t cnt = d->max - d->n;
		if (cnt > chunk) cnt = chunk;
		if (dump_grow(d, d->n + cnt)) { ret = ENOMEM; break; }
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.batch.map_fd = (uint32_t)d->fd;
		a.batch.in_batch = ptr(in);
		a.batch.out_batch = ptr(out);
		a.batch.keys = ptr(d->keys + (size_t)d->n * d->ks);
		a.batch.values = ptr(d->vals + (size_t)d->n * d->vs);
		a.batch.count = cnt;
		long rc = sys_bpf(del ? BPF_MAP_LOOKUP_AND_DELETE_BATCH : BPF_MAP_LOOKUP_BATCH, &a, sizeof(a));
		int e = rc < 0 ? errno : 0;
		/* count is written back on success, ENOENT (the end) and ENOSPC */
		if ((!e || e == ENOENT || e == ENOSPC) && a.batch.count <= cnt) d->n += a.batch.count;
		if (e == ENOENT) break;
		if (e == ENOSPC && a.batch.count == 0) {
			/* one hash bucket holds more than cnt entries */
			if (cnt < d->max - d->n) { chunk = cnt * 2; continue; }
			break;
		}
		if (e) {
			if (!in && d->n == 0 && (e == EINVAL || e == ENOTSUPP_KERNEL || e == EOPNOTSUPP))
				ret = -1;
			else
				ret = e;
			break;
		}
		/* next call continues where this one stopped */
		in = out;
		out = (out == tok) ? tok + tsz : tok;
		if (chunk < (1u << 20)) chunk *= 2;
	}
	free(tok);
	return ret;
}

/* next-key / lookup (/ delete) loop for kernels or maps without batch ops. */
static int dump_loop(struct dump *d, int del)
{
	uint8_t *cur = malloc((size_t)d->ks * 2 + 2);
	if (!cur) return ENOMEM;
	uint8_t *next = cur + d->ks + 1;
	int have = 0, ret = 0;
	union bpf_attr a;

	if (del) {
		/* Find the successor before deleting, or iteration restarts. */
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)d->fd;
		a.next_key = ptr(cur);
		if (sys_bpf(BPF_MAP_GET_NEXT_KEY, &a, sizeof(a)) < 0) {
			ret = errno == ENOENT ? 0 : errno;
			goto out;
		}
		while (d->n < d->max) {
			if (dump_grow(d, d->n + 1)) { ret = ENOMEM; break; }
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)d->fd;
			a.key = ptr(cur);
			a.value = ptr(d->vals + (size_t)d->n * d->vs);
			if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a, sizeof(a)) == 0) {
				memcpy(d->keys + (size_t)d->n * d->ks, cur, d->ks);
				d->n++;
			} else if (errno != ENOENT) {
				ret = errno;
				break;
			}
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)d->fd;
			a.key = ptr(cur);
			a.next_key = ptr(next);
			have = sys_bpf(BPF_MAP_GET_NEXT_KEY, &a, sizeof(a)) == 0;
			if (!have && errno != ENOENT) { ret = errno; break; }
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)d->fd;
			a.key = ptr(cur);
			if (sys_bpf(BPF_MAP_DELETE_ELEM, &a, sizeof(a)) < 0 && errno != ENOENT) {
				ret = errno;
				break;
			}
			if (!have) break;
			memcpy(cur, next, d->ks);
		}
		goto out;
	}
	while (d->n < d->max) {
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)d->fd;
		a.key = have ? ptr(cur) : 0;
		a.next_key = ptr(next);
		if (sys_bpf(BPF_MAP_GET_NEXT_KEY, &a, sizeof(a)) < 0) {
			ret = errno == ENOENT ? 0 : errno;
			break;
		}
		memcpy(cur, next, d->ks);
		have = 1;
		if (dump_grow(d, d->n + 1)) { ret = ENOMEM; break; }
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)d->fd;
		a.key = ptr(cur);
		a.value = ptr(d->vals + (size_t)d->n * d->vs);
		if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a, sizeof(a)) == 0) {
			memcpy(d->keys + (size_t)d->n * d->ks, cur, d->ks);
			d->n++;
		} else if (errno != ENOENT) {
			ret = errno;
			break;
		}
	}
out:
	free(cur);
	return ret;
}

void op_map_dump(struct conn *c, struct req *r)
{
	struct handle *h = h_want(c, r, "h", H_MAP);
	if (!h) return;
	int del = (int)arg_i(r, "delete", 0);
	struct dump d = { .fd = (int)arg_i(r, "h", 0), .ks = h->map.key_size, .vs = h->map.vsize };
	d.max = (uint32_t)arg_u(r, "max", h->map.max_entries);
	if (del && is_array(h->map.type)) {
		r_err(c, r->id, EINVAL, "map_dump delete=1: entries of array maps cannot be deleted; "
		      "overwrite them with map_update instead");
		return;
	}
	if (!d.ks) {
		r_err(c, r->id, EINVAL, "map_dump: map has no keys");
		return;
	}
	if ((uint64_t)d.max * (d.ks + d.vs) > DUMP_MAX_BYTES) {
		r_err(c, r->id, E2BIG, "map_dump: %u entries of %u bytes exceed %llu MiB; pass a smaller max",
		      d.max, d.ks + d.vs, DUMP_MAX_BYTES >> 20);
		return;
	}
	int batch = 0, e = -1;
	if (!g_no_batch && d.max) {
		e = dump_batch(&d, del);
		batch = e != -1;
	}
	if (e == -1) e = dump_loop(&d, del);
	if (e) {
		r_syserr(c, r->id, e, batch ? (del ? "bpf(BPF_MAP_LOOKUP_AND_DELETE_BATCH)" : "bpf(BPF_MAP_LOOKUP_BATCH)")
					    : "map_dump");
	} else {
		r_ok(c, r->id);
		r_uint(c, "n", d.n);
		r_b64(c, "keys", d.keys, (size_t)d.n * d.ks);
		r_b64(c, "values", d.vals, (size_t)d.n * d.vs);
		r_int(c, "batch", batch);
		r_end(c);
	}
	free(d.keys);
	free(d.vals);
}

/* ---- BTF and programs ---- */

static void reply_log_err(struct conn *c, uint64_t id, int e, const char *ctx, const char *log, size_t cap)
{
	r_err_begin(c, id, e, "%s: %s", ctx, errtext(e));
	if (log) r_b64(c, "log", log, strnlen(log, cap));
	r_end(c);
}

void op_btf_load(struct conn *c, struct req *r)
{
	size_t n;
	const uint8_t *data = arg_bytes(r, "data", &n);
	uint32_t level = (uint32_t)arg_u(r, "log_level", 0);
	int asked = level != 0;
	if (!n) { r_err(c, r->id, EINVAL, "data: empty BTF"); return; }
	char *log = NULL;
	union bpf_attr a;
	int fd = -1, e = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		memset(&a, 0, sizeof(a));
		a.btf = ptr(data);
		a.btf_size = (uint32_t)n;
		if (level) {
			if (!log && !(log = calloc(1, LOG_DEFAULT))) { e = ENOMEM; break; }
			a.btf_log_buf = ptr(log);
			a.btf_log_size = LOG_DEFAULT;
			a.btf_log_level = level;
		}
		fd = (int)sys_bpf(BPF_BTF_LOAD, &a, sizeof(a));
		if (fd >= 0) break;
		if (!e) e = errno;
		if (level) break;
		level = 1; /* rejected without a log: once more, with one */
	}
	if (fd < 0) {
		reply_log_err(c, r->id, e, "bpf(BPF_BTF_LOAD)", log, LOG_DEFAULT);
	} else if (!h_add(c, fd, H_BTF)) {
		close(fd);
		r_syserr(c, r->id, ENOMEM, "btf_load");
	} else {
		r_ok(c, r->id);
		r_int(c, "h", fd);
		if (asked && log)
			r_b64(c, "log", log, strnlen(log, LOG_DEFAULT));
		r_end(c);
	}
	free(log);
}

/* Every map reference in the program must be one of this connection's maps. */
static int check_insns(struct conn *c, struct req *r, const uint8_t *p, size_t n)
{
	size_t cnt = n / sizeof(struct bpf_insn);
	for (size_t i = 0; i < cnt; i++) {
		struct bpf_insn in;
		memcpy(&in, p + i * sizeof(in), sizeof(in));
		if (in.code != (BPF_LD | BPF_IMM | BPF_DW)) continue;
		if (in.src_reg == BPF_PSEUDO_MAP_FD || in.src_reg == BPF_PSEUDO_MAP_VALUE) {
			struct handle *h = h_get(c, in.imm);
			if (!h || h->kind != H_MAP) {
				r_err(c, r->id, EBADF, "insns: instruction %zu refers to map handle %d, "
				      "not a map of this connection", i, in.imm);
				return -1;
			}
		}
		i++; /* the second half of the 16-byte load */
	}
	return 0;
}

void op_prog_load(struct conn *c, struct req *r)
{
	size_t n, fin = 0, lin = 0;
	const uint8_t *insns = arg_bytes(r, "insns", &n);
	const uint8_t *finfo = arg_bytes(r, "func_info", &fin);
	const uint8_t *linfo = arg_bytes(r, "line_info", &lin);
	uint32_t frec = (uint32_t)arg_u(r, "func_info_rec", 0);
	uint32_t lrec = (uint32_t)arg_u(r, "line_info_rec", 0);
	uint32_t level = (uint32_t)arg_u(r, "log_level", 0);
	uint32_t lsize = (uint32_t)arg_u(r, "log_size", LOG_DEFAULT);
	int asked = level != 0;

	if (!n || n % sizeof(struct bpf_insn)) {
		r_err(c, r->id, EINVAL, "insns: %zu bytes is not a whole number of 8-byte instructions", n);
		return;
	}
	if (n / sizeof(struct bpf_insn) > INSNS_MAX) {
		r_err(c, r->id, E2BIG, "insns: more than %u instructions", INSNS_MAX);
		return;
	}
	if (lsize < 128 || lsize > LOG_MAX) {
		r_err(c, r->id, ERANGE, "log_size must be 128..%u", LOG_MAX);
		return;
	}
	if ((finfo && (!frec || fin % frec)) || (linfo && (!lrec || lin % lrec))) {
		r_err(c, r->id, EINVAL, "func_info/line_info need a record size that divides them");
		return;
	}
	if ((finfo || linfo) && !arg_has(r, "btf")) {
		r_err(c, r->id, EINVAL, "func_info/line_info need btf");
		return;
	}
	if (arg_has(r, "btf") && !h_want(c, r, "btf", H_BTF)) return;
	if (check_insns(c, r, insns, n)) return;

	union bpf_attr a;
	char *log = NULL;
	int fd = -1, e = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		memset(&a, 0, sizeof(a));
		a.prog_type = (uint32_t)arg_u(r, "type", 0);
		a.insn_cnt = (uint32_t)(n / sizeof(struct bpf_insn));
		a.insns = ptr(insns);
		a.license = ptr(arg_s(r, "license"));
		a.kern_version = (uint32_t)arg_u(r, "kern_version", 0);
		a.prog_flags = (uint32_t)arg_u(r, "flags", 0);
		a.expected_attach_type = (uint32_t)arg_u(r, "attach_type", 0);
		a.attach_btf_id = (uint32_t)arg_u(r, "attach_btf_id", 0);
		const char *name = arg_s(r, "name");
		if (name) strncpy(a.prog_name, name, sizeof(a.prog_name) - 1);
		if (arg_has(r, "btf")) {
			a.prog_btf_fd = (uint32_t)arg_i(r, "btf", 0);
			if (finfo && fin) {
				a.func_info = ptr(finfo);
				a.func_info_rec_size = frec;
				a.func_info_cnt = (uint32_t)(fin / frec);
			}
			if (linfo && lin) {
				a.line_info = ptr(linfo);
				a.line_info_rec_size = lrec;
				a.line_info_cnt = (uint32_t)(lin / lrec);
			}
		}
		if (level) {
			if (!log && !(log = malloc(lsize))) { e = ENOMEM; break; }
			log[0] = 0;
			a.log_level = level;
			a.log_buf = ptr(log);
			a.log_size = lsize;
		}
		/* The verifier can ask to be called again when interrupted. */
		for (int tries = 0; tries < 5; tries++) {
			fd = (int)sys_bpf(BPF_PROG_LOAD, &a, sizeof(a));
			if (fd >= 0 || errno != EAGAIN) break;
		}
		if (fd >= 0) break;
		if (!e) e = errno;
		if (level) break;
		level = 1; /* rejected without a log: once more, with one */
	}
	if (fd < 0) {
		reply_log_err(c, r->id, e, "bpf(BPF_PROG_LOAD)", log, lsize);
	} else {
		struct handle *h = h_add(c, fd, H_PROG);
		if (!h) {
			close(fd);
			r_syserr(c, r->id, ENOMEM, "prog_load");
		} else {
			r_ok(c, r->id);
			r_int(c, "h", fd);
			if (asked && log) r_b64(c, "log", log, strnlen(log, lsize));
			r_end(c);
		}
	}
	free(log);
}
