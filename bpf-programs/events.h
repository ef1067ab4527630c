/* The ring buffer an event tool sends its records through, and the count of
 * records it had no room for, which the host reads back and reports.
 * Included by one .bpf.c per tool; the host sizes the ring with -b. */
#ifndef BPFTOOLS_EVENTS_H
#define BPFTOOLS_EVENTS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 lost_events = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

static __always_inline void send_event(void *record, __u64 size)
{
	if (bpf_ringbuf_output(&events, record, size, 0))
		__sync_fetch_and_add(&lost_events, 1);
}

#endif
