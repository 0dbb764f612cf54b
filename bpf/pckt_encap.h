/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one rewrite every route shares: given a parsed frame and what it should become (family, addresses, ports,
 * with or without a ChannelData header), compute the UDP checksum incrementally, move the frame's start so the
 * new headers fit in front of the unchanged payload, write Ethernet/IP/UDP(/ChannelData) and trim what follows
 * the payload. Every check that can refuse the packet runs before the frame is touched, so a refused packet
 * reaches the stack exactly as it arrived.
 */
#ifndef PCKT_ENCAP_H
#define PCKT_ENCAP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "csum_helpers.h"
#include "pckt_parsing.h"
#include "relay_structs.h"

/* Outcomes beyond the pass reasons (which are 0..RELAY_PASS_REASONS-1). */
#define RELAY_TX 0x100
#define RELAY_DROP_BASE 0x200

/* What a frame becomes. */
struct relay_rewrite {
	struct relay_addr src;
	struct relay_addr dst;
	__be16 sport;
	__be16 dport;
	__be16 channel;      /* the ChannelData number when with_channel */
	__u16 payload_len;   /* host order */
	__u8 family;
	__u8 with_channel;   /* the output carries a ChannelData header */
};

/*
 * The source address of a rewritten packet: the address the packet arrived on when the family stays, else the
 * interface address configured for the new family. Returns 0, or -1 when that family has none.
 */
static __always_inline int choose_source(const struct relay_config *cfg, const struct relay_packet *in, struct relay_rewrite *out)
{
	if (out->family == in->family) {
		out->src = in->dst;
		return 0;
	}
	if (out->family == RELAY_FAMILY_V4) {
		if (!(cfg->flags & RELAY_CFG_INTERFACE_V4))
			return -1;
		addr_map_v4(&out->src, cfg->interface_v4);
		return 0;
	}
	if (!(cfg->flags & RELAY_CFG_INTERFACE_V6))
		return -1;
	out->src = cfg->interface_v6;
	return 0;
}

static __always_inline void write_ipv4(struct iphdr *ip, const struct relay_packet *in, const struct relay_rewrite *out, __u16 udp_len)
{
	ip->version = 4;
	ip->ihl = 5;
	ip->tos = in->tos;
	ip->tot_len = bpf_htons(IPV4_HLEN + udp_len);
	/* From IPv6 there is no identification to keep; DF because IPv6 is never fragmented on the path. */
	ip->id = in->ip_id;
	ip->frag_off = in->dont_fragment ? bpf_htons(IPV4_DF) : 0;
	ip->ttl = in->ttl - 1;
	ip->protocol = IPPROTO_UDP;
	ip->check = 0;
	ip->saddr = out->src.word[3];
	ip->daddr = out->dst.word[3];
	ip->check = csum_ipv4_header(ip);
}

static __always_inline void write_ipv6(struct ipv6hdr *ip6, const struct relay_packet *in, const struct relay_rewrite *out, __u16 udp_len)
{
	__u8 *first = (__u8 *)ip6;

	first[0] = 0x60 | (in->tos >> 4);
	first[1] = (__u8)((in->tos << 4) | ((in->flow_label >> 16) & 0x0f));
	first[2] = (__u8)(in->flow_label >> 8);
	first[3] = (__u8)in->flow_label;
	ip6->payload_len = bpf_htons(udp_len);
	ip6->nexthdr = IPPROTO_UDP;
	ip6->hop_limit = in->ttl - 1;
	__builtin_memcpy(&ip6->saddr, &out->src, 16);
	__builtin_memcpy(&ip6->daddr, &out->dst, 16);
}

static __always_inline int write_udp(struct udphdr *udp, void *end, const struct relay_rewrite *out, __u16 udp_len, __be16 check)
{
	if ((void *)(udp + 1) > end)
		return -1;
	udp->source = out->sport;
	udp->dest = out->dport;
	udp->len = bpf_htons(udp_len);
	udp->check = check;
	if (out->with_channel) {
		__be16 *channel = (void *)(udp + 1);
		if ((void *)(channel + 2) > end)
			return -1;
		channel[0] = out->channel;
		channel[1] = bpf_htons(out->payload_len);
	}
	return 0;
}

/*
 * Rewrites the frame `in` was parsed from into `out`. `in_channel` says whether the input carries a ChannelData
 * header; `dropped_sum` is the checksum contribution of input bytes that do not reach the output (that header and
 * any padding after the payload). Returns RELAY_TX, a pass reason (frame untouched) or RELAY_DROP_BASE + reason.
 */
static __always_inline int relay_rewrite(struct xdp_md *ctx, const struct relay_config *cfg, const struct relay_packet *in,
					 int in_channel, __u64 dropped_sum, const struct relay_rewrite *out)
{
	__u32 in_ip = in->family == RELAY_FAMILY_V4 ? IPV4_HLEN : IPV6_HLEN;
	__u32 out_ip = out->family == RELAY_FAMILY_V4 ? IPV4_HLEN : IPV6_HLEN;
	__u32 in_headers = in_ip + UDP_HLEN + (in_channel ? CHANNEL_HLEN : 0);
	__u32 out_headers = out_ip + UDP_HLEN + (out->with_channel ? CHANNEL_HLEN : 0);
	__u16 out_udp_len = (__u16)(out_headers - out_ip + out->payload_len);

	if (in->ttl <= 1)
		return RELAY_PASS_TTL;
	if (out_ip + (__u32)out_udp_len > cfg->mtu)
		return RELAY_PASS_MTU;

	/* IPv4 may leave the UDP checksum out (0); IPv6 may not, and computing it would mean reading the payload. */
	int no_checksum = in->family == RELAY_FAMILY_V4 && in->udp_check == 0;
	if (no_checksum && out->family == RELAY_FAMILY_V6)
		return RELAY_PASS_ZERO_CHECKSUM;

	__be16 check = 0;
	if (!no_checksum) {
		/* Protocol and payload words are the same on both sides (the payload keeps an even offset). */
		__u64 old_sum = csum_addr(&in->src, in->family) + csum_addr(&in->dst, in->family) + 2 * (__u64)bpf_htons(in->udp_len) +
				in->sport + in->dport + dropped_sum;
		__u64 new_sum = csum_addr(&out->src, out->family) + csum_addr(&out->dst, out->family) + 2 * (__u64)bpf_htons(out_udp_len) +
				out->sport + out->dport;
		if (out->with_channel)
			new_sum += (__u64)out->channel + bpf_htons(out->payload_len);
		check = csum_replace(in->udp_check, old_sum, new_sum);
		if (check == 0)
			check = 0xffff; /* 0 means "no checksum" */
	}

	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return RELAY_PASS_MALFORMED;
	/* Back to the neighbour the frame came from (the relay's gateway), as the reference does. */
	__u8 macs[2 * ETH_ALEN];
	__builtin_memcpy(macs, eth->h_source, ETH_ALEN);
	__builtin_memcpy(macs + ETH_ALEN, eth->h_dest, ETH_ALEN);

	int delta = (int)in_headers - (int)out_headers;
	if (delta != 0 && bpf_xdp_adjust_head(ctx, delta))
		return RELAY_PASS_ADJUST_FAILED;

	/* From here the frame is changed: failures drop. */
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > end)
		return RELAY_DROP_BASE + RELAY_DROP_BOUNDS;
	__builtin_memcpy(eth->h_dest, macs, 2 * ETH_ALEN);

	struct udphdr *udp;
	if (out->family == RELAY_FAMILY_V4) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return RELAY_DROP_BASE + RELAY_DROP_BOUNDS;
		eth->h_proto = bpf_htons(ETH_P_IP);
		write_ipv4(ip, in, out, out_udp_len);
		udp = (void *)(ip + 1);
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return RELAY_DROP_BASE + RELAY_DROP_BOUNDS;
		eth->h_proto = bpf_htons(ETH_P_IPV6);
		write_ipv6(ip6, in, out, out_udp_len);
		udp = (void *)(ip6 + 1);
	}
	if (write_udp(udp, end, out, out_udp_len, check))
		return RELAY_DROP_BASE + RELAY_DROP_BOUNDS;

	/* Whatever followed the payload (ChannelData padding, Ethernet padding of short frames) goes. */
	__u32 frame_len = (__u32)(end - data);
	__u32 wanted = ETH_HLEN + out_ip + out_udp_len;
	if (frame_len < wanted)
		return RELAY_DROP_BASE + RELAY_DROP_BOUNDS;
	if (frame_len > wanted && bpf_xdp_adjust_tail(ctx, -(int)(frame_len - wanted)))
		return RELAY_DROP_BASE + RELAY_DROP_ADJUST_TAIL;
	return RELAY_TX;
}

#endif /* PCKT_ENCAP_H */
