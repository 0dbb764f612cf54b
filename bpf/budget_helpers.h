/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-allocation bandwidth cap (--max-bps) in the kernel, as GCRA: one number per allocation port and direction
 * in port_budgets, the time at which the allocation will have sent everything admitted so far at max_bps. A payload
 * is admitted while that time stays within burst_ns of now, which is a token bucket of burst bytes refilled at
 * max_bps (the same rule as userspace's ByteBudget), without a lock: an atomic add moves the time forward. Two CPUs
 * admitting at the same instant may each pass the check before either adds, so the cap can be exceeded by one packet
 * per CPU at a time; a lock would cost more than the rest of the program (a spin lock's IRQ save/restore is
 * expensive under virtualisation). Time is the kernel's coarse clock (a cached value updated every tick, far cheaper
 * than reading the clock source); the bucket of at least 64 KiB absorbs a tick's granularity.
 */
#ifndef BUDGET_HELPERS_H
#define BUDGET_HELPERS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "relay_consts.h"
#include "relay_structs.h"
#include "relay_maps.h"

/* Admits payload_len bytes on (port, direction); 0 when they are over the cap (nothing is charged then). */
static __always_inline int take_budget(const struct relay_config *cfg, __u16 port, __u32 direction, __u64 payload_len, __u64 now_ns)
{
	__u32 index = port;
	struct port_budget *budget = bpf_map_lookup_elem(&port_budgets, &index);
	if (!budget)
		return 1; /* cannot happen for a 16-bit index; never drop for want of bookkeeping */
	direction &= RELAY_DIRECTIONS - 1;

	__u64 cost_ns = (payload_len * cfg->ns_per_byte_q16) >> 16;
	__u64 next = *(volatile __u64 *)&budget->next_ns[direction];
	if (next < now_ns) {
		/* Idle: the bucket is full. Racing CPUs may both reset; each then adds its own cost below. */
		budget->next_ns[direction] = now_ns;
		next = now_ns;
	}
	if (next + cost_ns - now_ns > cfg->burst_ns) {
		__sync_fetch_and_add(&budget->over_bandwidth, 1);
		return 0;
	}
	__sync_fetch_and_add(&budget->next_ns[direction], cost_ns);
	return 1;
}

#endif /* BUDGET_HELPERS_H */
