// SPDX-License-Identifier: Apache-2.0
/*
 * relay_xdp: the TURN relay's fast path. ChannelData from a client becomes UDP to its peer, UDP from a peer
 * becomes ChannelData to its client, and relay-to-relay traffic between two allocations of this relay (hairpin)
 * goes straight from one client to the other, for every pair of address families. Bindings, live allocation
 * ports and addresses come from userspace (src/Relay.Xdp); what is not a bound channel's data on one of the
 * relay's ports is passed to the kernel's stack untouched, where the userspace relay handles it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "relay_consts.h"
#include "relay_structs.h"
#include "relay_maps.h"
#include "csum_helpers.h"
#include "pckt_parsing.h"
#include "pckt_encap.h"
#include "budget_helpers.h"

/* Frames larger than this cannot be one XDP buffer; capping offsets keeps them provable to the verifier. */
#define MAX_FRAME 0x3fff

/* How a frame is relayed. */
struct relay_route {
	__u64 dropped_sum; /* checksum words of the input that the output does not carry */
	__u8 peer_family;
	__u8 in_channel;   /* the input carries a ChannelData header */
};

/* The bindings a frame is relayed through, whose counters it adds to; both are set for hairpin traffic. */
struct relay_bindings {
	struct client_channel_value *from_client; /* counts client -> peer */
	struct peer_binding_value *to_client;     /* counts peer -> client */
};

/*
 * Working memory for one frame, on the stack. The routing functions below take it by pointer and are not inlined:
 * inlined, the compiler splits these structs into scalars whose spills exceed the 512-byte BPF stack.
 */
struct relay_scratch {
	struct relay_packet pkt;
	struct relay_rewrite out;
	struct relay_route route;
	struct relay_bindings bindings;
};

static __always_inline __u32 route_index(__u8 first, __u8 second)
{
	return ((first == RELAY_FAMILY_V6) << 1 | (second == RELAY_FAMILY_V6)) & (RELAY_ROUTES - 1);
}

/* One of the relay's own addresses (public or interface) of that family? */
static __always_inline int is_own_address(const struct relay_config *cfg, __u8 family, const struct relay_addr *addr)
{
	if (family == RELAY_FAMILY_V4)
		return ((cfg->flags & RELAY_CFG_PUBLIC_V4) && addr->word[3] == cfg->public_v4) ||
		       ((cfg->flags & RELAY_CFG_INTERFACE_V4) && addr->word[3] == cfg->interface_v4);
	return ((cfg->flags & RELAY_CFG_PUBLIC_V6) && addr_eq(addr, &cfg->public_v6)) ||
	       ((cfg->flags & RELAY_CFG_INTERFACE_V6) && addr_eq(addr, &cfg->interface_v6));
}

static __always_inline int load_byte(struct xdp_md *ctx, __u32 offset)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (offset > MAX_FRAME)
		return -1;
	__u8 *p = data + offset;
	if ((void *)(p + 1) > end)
		return -1;
	return *p;
}

/* The output is ChannelData from the listen port to the binding's client, on the binding's channel. */
static __always_inline void to_client(const struct relay_config *cfg, const struct peer_binding_value *binding, struct relay_rewrite *out)
{
	out->family = binding->client_family;
	out->dst = binding->client_addr;
	out->dport = binding->client_port;
	out->sport = bpf_htons(cfg->listen_port);
	out->channel = binding->channel;
	out->with_channel = 1;
}

/* A datagram on the listen port: ChannelData on a bound channel goes to its peer, or hairpins to another client. */
static __noinline int route_from_client(struct xdp_md *ctx, const struct relay_config *cfg, struct relay_scratch *s)
{
	const struct relay_packet *pkt = &s->pkt;
	struct relay_rewrite *out = &s->out;
	struct relay_route *route = &s->route;
	struct relay_bindings *bindings = &s->bindings;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 l4 = ETH_HLEN + (pkt->family == RELAY_FAMILY_V4 ? IPV4_HLEN : IPV6_HLEN);
	__be16 *header = pkt->family == RELAY_FAMILY_V4 ? data + ETH_HLEN + IPV4_HLEN + UDP_HLEN : data + ETH_HLEN + IPV6_HLEN + UDP_HLEN;

	if (pkt->udp_len < UDP_HLEN + CHANNEL_HLEN || (void *)(header + 2) > end)
		return RELAY_PASS_NOT_CHANNEL_DATA;
	__u8 first = *(__u8 *)header;
	if ((first & 0xc0) != 0x40)
		return RELAY_PASS_NOT_CHANNEL_DATA; /* STUN starts with 0b00; 0x4000-0x7FFF are channel numbers */

	__be16 channel = header[0];
	__be16 length_field = header[1];
	__u32 length = bpf_ntohs(length_field);
	__u32 room = pkt->udp_len - UDP_HLEN - CHANNEL_HLEN;
	/* Up to 3 bytes of padding may follow (RFC 8656 §12.5); more is left to userspace. */
	if (length > room || room - length > 3 || length > MAX_FRAME)
		return RELAY_PASS_CHANNEL_LENGTH;

	struct client_channel_key key = { .client_port = pkt->sport, .channel = channel };
	key.client_addr = pkt->src;
	struct client_channel_value *binding = bpf_map_lookup_elem(&client_channels, &key);
	if (!binding)
		return RELAY_PASS_NO_BINDING;

	/* The header and padding leave the checksummed data. Padding should be zero but need not be. */
	route->in_channel = 1;
	route->dropped_sum = (__u64)channel + length_field;
	__u32 pad_at = l4 + UDP_HLEN + CHANNEL_HLEN + length;
#pragma unroll
	for (__u32 i = 0; i < 3; i++) {
		if (i < room - length) {
			int byte = load_byte(ctx, pad_at + i);
			if (byte < 0)
				return RELAY_PASS_MALFORMED;
			route->dropped_sum += csum_byte((__u8)byte, UDP_HLEN + CHANNEL_HLEN + length + i);
		}
	}

	bindings->from_client = binding;
	route->peer_family = binding->peer_family;
	out->payload_len = (__u16)length;
	if (!is_own_address(cfg, binding->peer_family, &binding->peer_addr)) {
		out->family = binding->peer_family;
		out->dst = binding->peer_addr;
		out->dport = binding->peer_port;
		out->sport = binding->allocation_port;
		return RELAY_CONTINUE;
	}

	/* The peer is another allocation of this relay: XDP_TX cannot reach the host, so deliver to its client. */
	struct peer_binding_key other = { .peer_port = binding->allocation_port, .allocation_port = binding->peer_port };
	other.peer_addr = binding->peer_addr;
	struct peer_binding_value *hairpin = bpf_map_lookup_elem(&peer_bindings, &other);
	if (!hairpin)
		return RELAY_PASS_HAIRPIN_NO_BINDING;
	bindings->to_client = hairpin;
	to_client(cfg, hairpin, out);
	return RELAY_CONTINUE;
}

/* A datagram on a live allocation port: a bound channel's peer gets its data to the client as ChannelData. */
static __noinline int route_from_peer(const struct relay_config *cfg, struct relay_scratch *s)
{
	const struct relay_packet *pkt = &s->pkt;
	struct relay_rewrite *out = &s->out;
	struct relay_route *route = &s->route;
	struct relay_bindings *bindings = &s->bindings;
	struct peer_binding_key key = { .peer_port = pkt->sport, .allocation_port = pkt->dport };
	key.peer_addr = pkt->src;
	struct peer_binding_value *binding = bpf_map_lookup_elem(&peer_bindings, &key);
	if (!binding)
		return RELAY_PASS_NO_BINDING; /* userspace sends a Data indication if a permission exists */

	bindings->to_client = binding;
	route->peer_family = pkt->family;
	to_client(cfg, binding, out);
	out->payload_len = pkt->udp_len - UDP_HLEN;
	return RELAY_CONTINUE;
}

/*
 * The bandwidth cap, once the frame is rewritten (so that a packet passed to userspace is never charged twice):
 * the sending allocation's client-to-peer bucket and the receiving allocation's peer-to-client bucket; hairpin
 * traffic is charged to both.
 */
static __always_inline int within_budget(const struct relay_config *cfg, const struct relay_packet *pkt,
					 const struct relay_bindings *bindings, __u64 bytes)
{
	if (!cfg->max_bps)
		return 1;
	__u64 now = bpf_ktime_get_coarse_ns();
	if (bindings->from_client &&
	    !take_budget(cfg, bpf_ntohs(bindings->from_client->allocation_port), RELAY_DIR_CLIENT_TO_PEER, bytes, now))
		return 0;
	if (bindings->to_client) {
		/* Hairpin: the receiving allocation's port is the peer port of the sender's binding. */
		__be16 port = bindings->from_client ? bindings->from_client->peer_port : pkt->dport;
		if (!take_budget(cfg, bpf_ntohs(port), RELAY_DIR_PEER_TO_CLIENT, bytes, now))
			return 0;
	}
	return 1;
}

/* After XDP_TX: the bindings' counters (atomic: bindings are shared by CPUs) and the per-CPU route counters. */
static __always_inline void count_relayed(struct relay_stats *stats, const struct relay_packet *pkt, const struct relay_route *route,
					  const struct relay_bindings *bindings, __u64 bytes)
{
	if (bindings->from_client) {
		__sync_fetch_and_add(&bindings->from_client->packets, 1);
		__sync_fetch_and_add(&bindings->from_client->bytes, bytes);
		struct relay_count *count = &stats->relayed[RELAY_DIR_CLIENT_TO_PEER][route_index(pkt->family, route->peer_family)];
		count->packets++;
		count->bytes += bytes;
	}
	if (bindings->to_client) {
		__sync_fetch_and_add(&bindings->to_client->packets, 1);
		__sync_fetch_and_add(&bindings->to_client->bytes, bytes);
		struct relay_count *count = &stats->relayed[RELAY_DIR_PEER_TO_CLIENT][route_index(bindings->to_client->client_family, route->peer_family)];
		count->packets++;
		count->bytes += bytes;
	}
	if (bindings->from_client && bindings->to_client) {
		struct relay_count *count = &stats->hairpin[route_index(pkt->family, bindings->to_client->client_family)];
		count->packets++;
		count->bytes += bytes;
	}
}

static __always_inline int relay_frame(struct xdp_md *ctx, const struct relay_config *cfg, struct relay_stats *stats,
				       struct relay_scratch *scratch)
{
	struct relay_packet *pkt = &scratch->pkt;
	struct relay_rewrite *out = &scratch->out;
	struct relay_route *route = &scratch->route;

	__builtin_memset(scratch, 0, sizeof(*scratch));
	int reason = parse_packet(ctx, pkt);
	if (reason != RELAY_CONTINUE)
		return reason;

	/* Only the relay's own ports are touched: replies to other local sockets (DNS, QUIC...) always pass. */
	__u16 port = bpf_ntohs(pkt->dport);
	int to_listen_port = port == cfg->listen_port && port != 0;
	if (!to_listen_port) {
		if (port < cfg->lowest_port || port > cfg->highest_port)
			return RELAY_PASS_NOT_RELAY_PORT;
		__u32 index = port;
		__u32 *live = bpf_map_lookup_elem(&live_ports, &index);
		__u32 bit = pkt->family == RELAY_FAMILY_V4 ? RELAY_LIVE_V4 : RELAY_LIVE_V6;
		if (!live || !(*live & bit))
			return RELAY_PASS_NOT_RELAY_PORT;
	}
	/* A relay host may also route traffic for others: act only on what is addressed to the relay. */
	if (!is_own_address(cfg, pkt->family, &pkt->dst))
		return RELAY_PASS_NOT_LOCAL;

	reason = to_listen_port ? route_from_client(ctx, cfg, scratch) : route_from_peer(cfg, scratch);
	if (reason != RELAY_CONTINUE)
		return reason;
	if (choose_source(cfg, pkt, out))
		return RELAY_PASS_NO_SOURCE_ADDRESS;

	int outcome = relay_rewrite(ctx, cfg, pkt, route->in_channel, route->dropped_sum, out);
	if (outcome != RELAY_TX)
		return outcome;
	if (!within_budget(cfg, pkt, &scratch->bindings, out->payload_len))
		return RELAY_DROP_BASE + RELAY_DROP_OVER_BANDWIDTH;
	count_relayed(stats, pkt, route, &scratch->bindings, out->payload_len);
	return outcome;
}

SEC("xdp")
int relay_xdp(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct relay_stats *stats = bpf_map_lookup_elem(&relay_stats, &zero);
	const struct relay_config *cfg = bpf_map_lookup_elem(&relay_config, &zero);
	if (!stats || !cfg)
		return XDP_PASS;

	struct relay_scratch scratch;
	int outcome = relay_frame(ctx, cfg, stats, &scratch);
	if (outcome == RELAY_TX)
		return XDP_TX;
	if (outcome >= RELAY_DROP_BASE) {
		__u32 drop = (__u32)(outcome - RELAY_DROP_BASE);
		if (drop < RELAY_DROP_REASONS)
			stats->dropped[drop]++;
		return XDP_DROP;
	}
	if (outcome >= 0 && outcome < RELAY_PASS_REASONS)
		stats->passed[outcome]++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
