/* SPDX-License-Identifier: Apache-2.0 */
/* The maps of relay_xdp.bpf.c. Userspace finds them by these names. */
#ifndef RELAY_MAPS_H
#define RELAY_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "relay_structs.h"

/*
 * The binding maps are updated by userspace while the program reads them. BPF_F_NO_PREALLOC frees replaced and
 * deleted elements only after an RCU grace period, so a lookup in flight never sees another binding's value (a
 * preallocated hash map recycles elements at once). It also keeps memory proportional to the bindings in use.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, RELAY_MAX_BINDINGS);
	__type(key, struct client_channel_key);
	__type(value, struct client_channel_value);
} client_channels SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, RELAY_MAX_BINDINGS);
	__type(key, struct peer_binding_key);
	__type(value, struct peer_binding_value);
} peer_bindings SEC(".maps");

/* Indexed by UDP port: RELAY_LIVE_* bits while an allocation's socket is bound on it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} live_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct relay_config);
} relay_config SEC(".maps");

/* Indexed by allocation port: the bandwidth cap's buckets (untouched when relay_config.max_bps is 0). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct port_budget);
} port_budgets SEC(".maps");

/* Per-CPU, so counting needs no atomic instruction; no perf-event stream (it loses samples under load). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct relay_stats);
} relay_stats SEC(".maps");

#endif /* RELAY_MAPS_H */
