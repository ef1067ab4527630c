// Block I/O latency: a request is timed from block_rq_issue (or
// block_rq_insert with -Q) to block_rq_complete.
//
// Two variants of one program, chosen when the host compiles it:
// - default: BTF tracepoints (tp_btf), which hand over the struct request
//   itself; requests are keyed by its address, and the disk and the I/O
//   flags are read from it with CO-RE against the target's BTF.
// - BIOLATENCY_NO_BTF: the classic tracepoints, whose records carry only
//   dev, sector and the rwbs text at offsets the host reads from tracefs;
//   requests are keyed by (dev, sector).
// Both fill the same histogram key (biolatency.h), flags as rwbs text, so
// the host reads them the same way.
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#ifndef BIOLATENCY_NO_BTF
#include <bpf/bpf_core_read.h>
#endif
#include "biolatency.h"

/* Options, set by the host before load. */
const volatile __u8 targ_queued = 0;
const volatile __u8 targ_ms = 0;
const volatile __u8 targ_per_disk = 0;
const volatile __u8 targ_per_flag = 0;
const volatile __u8 targ_extended = 0;
const volatile __u32 targ_dev = 0; /* only this disk when not 0 */

#ifdef BIOLATENCY_NO_BTF

/* Where the fields are in the tracepoint records, from the target's tracefs
 * format files: they moved between kernel versions. Defaults are 6.x's. */
const volatile __u32 rq_off_dev = 8;
const volatile __u32 rq_off_sector = 16;
const volatile __u32 done_off_dev = 8;
const volatile __u32 done_off_sector = 16;
const volatile __u32 done_off_rwbs = 34;

struct rq_id {
	__u32 dev;
	__u32 pad;
	__u64 sector;
};

#else /* BTF tracepoints */

/* Only the members read; offsets come from the target's BTF. */
struct gendisk {
	int major;
	int first_minor;
} __attribute__((preserve_access_index));

struct request_queue {
	struct gendisk *disk; /* where the disk is from 5.17 */
} __attribute__((preserve_access_index));

struct request {
	struct request_queue *q;
	unsigned int cmd_flags;
} __attribute__((preserve_access_index));

/* Before 5.17 the disk hung off the request itself. */
struct request___rq_disk {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

/* The operation in cmd_flags' low bits: enum req_op from 6.0, req_opf
 * before; values looked up in the target's BTF, not assumed. */
enum req_op {
	REQ_OP_READ = 0,
	REQ_OP_WRITE = 1,
	REQ_OP_FLUSH = 2,
	REQ_OP_DISCARD = 3,
	REQ_OP_SECURE_ERASE = 5,
};

enum req_opf {
	REQ_OP_READ___opf = 0,
	REQ_OP_WRITE___opf = 1,
	REQ_OP_FLUSH___opf = 2,
	REQ_OP_DISCARD___opf = 3,
	REQ_OP_SECURE_ERASE___opf = 5,
};

/* Flag bit numbers above the operation; they moved as flags were added.
 * The first flag's bit is the width of the operation field. */
enum req_flag_bits {
	__REQ_FAILFAST_DEV = 8,
	__REQ_SYNC = 11,
	__REQ_META = 12,
	__REQ_FUA = 17,
	__REQ_PREFLUSH = 18,
	__REQ_RAHEAD = 19,
};

#define REQ_OP_VALUE(op)                                          \
	(bpf_core_enum_value_exists(enum req_op, op)              \
		 ? bpf_core_enum_value(enum req_op, op)           \
		 : bpf_core_enum_value(enum req_opf, op##___opf))
#define REQ_FLAG(bit) (1U << bpf_core_enum_value(enum req_flag_bits, bit))

#endif

#ifdef BIOLATENCY_NO_BTF
typedef struct rq_id start_key_t;
#else
typedef __u64 start_key_t; /* the struct request's address */
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, start_key_t);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct hist_key);
	__type(value, __u64);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ext_val);
} ext SEC(".maps");

static __always_inline __u32 log2_u32(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xFFFF) << 4;
	v >>= r;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2_u32(hi) + 32 : log2_u32(v);
}

static __always_inline void set_start(start_key_t *id, int issued)
{
	__u64 ts = bpf_ktime_get_ns();

	/* With -Q a request already timed from its insertion keeps that start. */
	bpf_map_update_elem(&start, id, &ts, issued && targ_queued ? BPF_NOEXIST : BPF_ANY);
}

/* The latency of the request `id` completing now, removing its start; -1 when it was not timed. */
static __always_inline __s64 take_latency(start_key_t *id)
{
	__u64 *tsp = bpf_map_lookup_elem(&start, id);
	__s64 delta;

	if (!tsp)
		return -1;
	delta = (__s64)(bpf_ktime_get_ns() - *tsp);
	bpf_map_delete_elem(&start, id);
	return delta;
}

/* Counts one completed request: its latency in ns, disk (-D) and rwbs (-F, up to 8 letters). */
static __always_inline void record(__u64 delta, __u32 dev, __u64 rwbs)
{
	struct hist_key key = {};
	__u64 one = 1, *n;
	__u32 zero = 0;

	if (targ_extended) {
		struct ext_val *e = bpf_map_lookup_elem(&ext, &zero);

		if (!e) {
			struct ext_val init = {};

			bpf_map_update_elem(&ext, &zero, &init, BPF_NOEXIST);
			e = bpf_map_lookup_elem(&ext, &zero);
		}
		if (e) {
			__sync_fetch_and_add(&e->total_ns, delta);
			__sync_fetch_and_add(&e->count, 1);
		}
	}

	delta /= targ_ms ? 1000000 : 1000;
	key.slot = log2_u64(delta) + 1;
	if (targ_per_disk)
		key.dev = dev;
	if (targ_per_flag)
		__builtin_memcpy(key.rwbs, &rwbs, sizeof(key.rwbs));

	n = bpf_map_lookup_elem(&hists, &key);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	if (bpf_map_update_elem(&hists, &key, &one, BPF_NOEXIST)) {
		n = bpf_map_lookup_elem(&hists, &key);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
}

#ifdef BIOLATENCY_NO_BTF

static __always_inline int read_id(void *ctx, __u32 off_dev, __u32 off_sector, struct rq_id *id)
{
	if (bpf_probe_read_kernel(&id->dev, sizeof(id->dev), ctx + off_dev))
		return -1;
	if (bpf_probe_read_kernel(&id->sector, sizeof(id->sector), ctx + off_sector))
		return -1;
	if (targ_dev && id->dev != targ_dev)
		return -1;
	return 0;
}

static __always_inline int started(void *ctx, int issued)
{
	struct rq_id id = {};

	if (!read_id(ctx, rq_off_dev, rq_off_sector, &id))
		set_start(&id, issued);
	return 0;
}

SEC("tracepoint/block/block_rq_insert")
int block_rq_insert(void *ctx)
{
	return started(ctx, 0);
}

SEC("tracepoint/block/block_rq_issue")
int block_rq_issue(void *ctx)
{
	return started(ctx, 1);
}

SEC("tracepoint/block/block_rq_complete")
int block_rq_complete(void *ctx)
{
	struct rq_id id = {};
	__u64 rwbs = 0;
	__s64 delta;

	if (read_id(ctx, done_off_dev, done_off_sector, &id))
		return 0;
	delta = take_latency(&id);
	if (delta < 0)
		return 0;
	if (targ_per_flag)
		bpf_probe_read_kernel(&rwbs, sizeof(rwbs), ctx + done_off_rwbs);
	record(delta, id.dev, rwbs);
	return 0;
}

#else /* BTF tracepoints */

/* The whole disk's dev_t as the block tracepoints record it (major << 20 | minor). */
static __always_inline __u32 disk_dev(struct request *rq)
{
	struct request___rq_disk *old = (void *)rq;
	struct gendisk *disk;

	if (bpf_core_field_exists(old->rq_disk))
		disk = BPF_CORE_READ(old, rq_disk);
	else
		disk = BPF_CORE_READ(rq, q, disk);
	if (!disk)
		return 0;
	return ((__u32)BPF_CORE_READ(disk, major) << 20) | (__u32)BPF_CORE_READ(disk, first_minor);
}

/* cmd_flags as the kernel's blk_fill_rwbs spells them for the tracepoints,
 * so -F reads the same in both variants. */
static __always_inline __u64 rwbs_of(__u32 flags)
{
	__u32 op = flags & ((1U << bpf_core_enum_value(enum req_flag_bits, __REQ_FAILFAST_DEV)) - 1);
	__u64 s = 0;
	__u32 at = 0;

#define PUT(c) (s |= (__u64)(c) << at, at += 8)
	if (flags & REQ_FLAG(__REQ_PREFLUSH))
		PUT('F');
	if (op == REQ_OP_VALUE(REQ_OP_WRITE))
		PUT('W');
	else if (op == REQ_OP_VALUE(REQ_OP_DISCARD))
		PUT('D');
	else if (op == REQ_OP_VALUE(REQ_OP_SECURE_ERASE)) {
		PUT('D');
		PUT('E');
	} else if (op == REQ_OP_VALUE(REQ_OP_FLUSH))
		PUT('F');
	else if (op == REQ_OP_VALUE(REQ_OP_READ))
		PUT('R');
	else
		PUT('N');
	if (flags & REQ_FLAG(__REQ_FUA))
		PUT('F');
	if (flags & REQ_FLAG(__REQ_RAHEAD))
		PUT('A');
	if (flags & REQ_FLAG(__REQ_SYNC))
		PUT('S');
	if (flags & REQ_FLAG(__REQ_META))
		PUT('M');
#undef PUT
	return s;
}

static __always_inline int started(struct request *rq, int issued)
{
	start_key_t id = (__u64)rq;

	if (targ_dev && disk_dev(rq) != targ_dev)
		return 0;
	set_start(&id, issued);
	return 0;
}

/* (struct request *rq) */
SEC("tp_btf/block_rq_insert")
int block_rq_insert(__u64 *ctx)
{
	return started((struct request *)ctx[0], 0);
}

SEC("tp_btf/block_rq_issue")
int block_rq_issue(__u64 *ctx)
{
	return started((struct request *)ctx[0], 1);
}

/* (struct request_queue *q, struct request *rq): before 5.11, and 5.10
 * before .137. The host loads these or the ones above, as the target's BTF
 * says; one program choosing at run time would read a second argument the
 * verifier rejects, or a ctx pointer clang has offset. */
SEC("tp_btf/block_rq_insert")
int block_rq_insert_q(__u64 *ctx)
{
	return started((struct request *)ctx[1], 0);
}

SEC("tp_btf/block_rq_issue")
int block_rq_issue_q(__u64 *ctx)
{
	return started((struct request *)ctx[1], 1);
}

/* (struct request *rq, blk_status_t error, unsigned int nr_bytes) */
SEC("tp_btf/block_rq_complete")
int block_rq_complete(__u64 *ctx)
{
	struct request *rq = (struct request *)ctx[0];
	start_key_t id = (__u64)rq;
	__s64 delta = take_latency(&id);

	if (delta < 0)
		return 0;
	record(delta, targ_per_disk ? disk_dev(rq) : 0, targ_per_flag ? rwbs_of(BPF_CORE_READ(rq, cmd_flags)) : 0);
	return 0;
}

#endif

char LICENSE[] SEC("license") = "GPL";
