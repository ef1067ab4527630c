/* The histogram key of biolatency.bpf.c, read by
 * src/tools/biolatency/hist.ts: one count per (disk, flags, bucket). */
#ifndef BPFTOOLS_BIOLATENCY_H
#define BPFTOOLS_BIOLATENCY_H

/* The part of a block tracepoint's rwbs text kept: op and flag letters
 * (with BTF, spelled from the request's cmd_flags the same way). */
#define BIOLATENCY_RWBS_LEN 8

struct hist_key {
	__u32 dev;  /* kernel dev_t (major << 20 | minor) with -D, else 0 */
	__u32 slot; /* log2 bucket as bcc's bpf_log2l: 0 and 1 in 1, 2..3 in 2, ... */
	char rwbs[BIOLATENCY_RWBS_LEN]; /* with -F, else empty */
};

/* -e: every completed request's latency, in nanoseconds, and how many. */
struct ext_val {
	__u64 total_ns;
	__u64 count;
};

#endif
