/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-allocation bandwidth cap (--max-bps) in the kernel: a token bucket per allocation port and direction
 * in port_budgets, refilled from bpf_ktime_get_ns(). The same rule as userspace's: a bucket holds burst_bytes,
 * refills at max_bps, and a packet passes only if its whole payload fits.
 */
#ifndef BUDGET_HELPERS_H
#define BUDGET_HELPERS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "relay_consts.h"
#include "relay_structs.h"
#include "relay_maps.h"

/* Takes payload_len bytes from the bucket of (port, direction); 0 when they do not fit (nothing is taken then). */
static __always_inline int take_budget(const struct relay_config *cfg, __u16 port, __u32 direction, __u64 payload_len, __u64 now_ns)
{
	__u32 index = port;
	struct port_budget *budget = bpf_map_lookup_elem(&port_budgets, &index);
	if (!budget)
		return 1; /* cannot happen for a 16-bit index; never drop for want of bookkeeping */
	direction &= RELAY_DIRECTIONS - 1;

	__u64 capacity = cfg->burst_bytes * RELAY_NS_PER_SECOND;
	__u64 cost = payload_len * RELAY_NS_PER_SECOND;
	__u64 fill_ns = cfg->max_bps ? capacity / cfg->max_bps : 0;
	int fits;

	bpf_spin_lock(&budget->lock);
	__u64 last = budget->refilled_ns[direction];
	__u64 tokens = budget->tokens[direction];
	if (last == 0 || now_ns - last >= fill_ns)
		tokens = capacity; /* new allocation, or quiet long enough to be full (keeps the product below small) */
	else
		tokens += (now_ns - last) * cfg->max_bps;
	if (tokens > capacity)
		tokens = capacity;
	fits = tokens >= cost;
	budget->tokens[direction] = fits ? tokens - cost : tokens;
	budget->refilled_ns[direction] = now_ns;
	bpf_spin_unlock(&budget->lock);

	if (!fits)
		__sync_fetch_and_add(&budget->over_bandwidth, 1);
	return fits;
}

#endif /* BUDGET_HELPERS_H */
