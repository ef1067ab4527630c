// Block I/O latency from the block tracepoints: a request is timed from
// block_rq_issue (or block_rq_insert with -Q) to block_rq_complete, matched
// by (device, sector), since that is what all three records carry.
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include "biolatency.h"

/* Options, set by the host before load. */
const volatile __u8 targ_queued = 0;
const volatile __u8 targ_ms = 0;
const volatile __u8 targ_per_disk = 0;
const volatile __u8 targ_per_flag = 0;
const volatile __u8 targ_extended = 0;
const volatile __u32 targ_dev = 0; /* only this disk when not 0 */

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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct rq_id);
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
	__u64 ts = bpf_ktime_get_ns();

	if (read_id(ctx, rq_off_dev, rq_off_sector, &id))
		return 0;
	/* With -Q a request already timed from its insertion keeps that start. */
	bpf_map_update_elem(&start, &id, &ts, issued && targ_queued ? BPF_NOEXIST : BPF_ANY);
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
	struct hist_key key = {};
	__u64 *tsp, delta, one = 1, *n;
	__u32 zero = 0;

	if (read_id(ctx, done_off_dev, done_off_sector, &id))
		return 0;
	tsp = bpf_map_lookup_elem(&start, &id);
	if (!tsp)
		return 0;
	delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &id);
	if ((__s64)delta < 0)
		return 0;

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
		key.dev = id.dev;
	if (targ_per_flag)
		bpf_probe_read_kernel(key.rwbs, sizeof(key.rwbs), ctx + done_off_rwbs);

	n = bpf_map_lookup_elem(&hists, &key);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return 0;
	}
	if (bpf_map_update_elem(&hists, &key, &one, BPF_NOEXIST)) {
		n = bpf_map_lookup_elem(&hists, &key);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
