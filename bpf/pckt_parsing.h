/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsing of an Ethernet/IP/UDP frame into struct relay_packet. Only the shapes XDP relays are accepted: no VLAN
 * tag, IPv4 without options and not fragmented, IPv6 with UDP as the first next header, lengths consistent with
 * the frame. Everything else gets a pass reason and goes to the kernel's stack untouched.
 */
#ifndef PCKT_PARSING_H
#define PCKT_PARSING_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "csum_helpers.h"
#include "relay_consts.h"
#include "relay_structs.h"

/* Parsing found nothing to object to: go on relaying. Pass reasons are >= 0. */
#define RELAY_CONTINUE (-1)

#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define UDP_HLEN 8
#define CHANNEL_HLEN 4

#define IPV4_MF 0x2000
#define IPV4_DF 0x4000
#define IPV4_OFFSET 0x1fff

/* What the rewrite needs of an incoming frame; pointers into it would not survive bpf_xdp_adjust_head. */
struct relay_packet {
	struct relay_addr src; /* IPv4-mapped for IPv4 */
	struct relay_addr dst;
	__u32 flow_label;   /* IPv6 flow label, host order; 0 for IPv4 */
	__be16 ip_id;       /* IPv4 identification; 0 for IPv6 */
	__be16 sport;
	__be16 dport;
	__be16 udp_check;
	__u16 udp_len;      /* host order, header included */
	__u8 family;        /* RELAY_FAMILY_V4 or RELAY_FAMILY_V6 */
	__u8 ttl;           /* TTL or hop limit */
	__u8 tos;           /* IPv4 TOS or IPv6 traffic class: DSCP and ECN */
	__u8 dont_fragment; /* IPv4 DF bit */
};

static __always_inline void addr_map_v4(struct relay_addr *dst, __be32 v4)
{
	dst->word[0] = 0;
	dst->word[1] = 0;
	dst->word[2] = bpf_htonl(0xffff);
	dst->word[3] = v4;
}

static __always_inline int addr_is_v4_mapped(const struct relay_addr *addr)
{
	return addr->word[0] == 0 && addr->word[1] == 0 && addr->word[2] == bpf_htonl(0xffff);
}

static __always_inline int addr_eq(const struct relay_addr *a, const struct relay_addr *b)
{
	return a->word[0] == b->word[0] && a->word[1] == b->word[1] && a->word[2] == b->word[2] && a->word[3] == b->word[3];
}

static __always_inline int parse_ipv4(void *l3, void *end, __u32 frame_len, struct relay_packet *pkt)
{
	struct iphdr *ip = l3;

	if ((void *)(ip + 1) > end)
		return RELAY_PASS_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return RELAY_PASS_MALFORMED;
	if (ip->ihl != 5)
		return RELAY_PASS_IP_OPTIONS;
	if (ip->frag_off & bpf_htons(IPV4_MF | IPV4_OFFSET))
		return RELAY_PASS_FRAGMENT;
	if (ip->protocol != IPPROTO_UDP)
		return RELAY_PASS_NOT_UDP;

	/* A corrupt header is the stack's to drop; rewriting it would give it a valid checksum. */
	const __u16 *w = (const __u16 *)ip;
	__u64 sum = 0;
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	if (csum_fold(sum) != 0xffff)
		return RELAY_PASS_MALFORMED;

	__u16 total = bpf_ntohs(ip->tot_len);
	if (total < IPV4_HLEN + UDP_HLEN || ETH_HLEN + (__u32)total > frame_len)
		return RELAY_PASS_MALFORMED;

	struct udphdr *udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end)
		return RELAY_PASS_MALFORMED;
	pkt->udp_len = bpf_ntohs(udp->len);
	if (pkt->udp_len < UDP_HLEN || pkt->udp_len > total - IPV4_HLEN)
		return RELAY_PASS_MALFORMED;

	pkt->family = RELAY_FAMILY_V4;
	addr_map_v4(&pkt->src, ip->saddr);
	addr_map_v4(&pkt->dst, ip->daddr);
	pkt->ttl = ip->ttl;
	pkt->tos = ip->tos;
	pkt->ip_id = ip->id;
	pkt->dont_fragment = (ip->frag_off & bpf_htons(IPV4_DF)) != 0;
	pkt->flow_label = 0;
	pkt->sport = udp->source;
	pkt->dport = udp->dest;
	pkt->udp_check = udp->check;
	return RELAY_CONTINUE;
}

static __always_inline int ipv6_is_extension(__u8 next)
{
	switch (next) {
	case 0:   /* hop-by-hop options */
	case 43:  /* routing */
	case 50:  /* ESP */
	case 51:  /* AH */
	case 60:  /* destination options */
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
	case 253:
	case 254: /* experimental */
		return 1;
	}
	return 0;
}

static __always_inline int parse_ipv6(void *l3, void *end, __u32 frame_len, struct relay_packet *pkt)
{
	struct ipv6hdr *ip6 = l3;

	if ((void *)(ip6 + 1) > end)
		return RELAY_PASS_MALFORMED;
	if (ip6->version != 6)
		return RELAY_PASS_MALFORMED;
	if (ip6->nexthdr == IPPROTO_FRAGMENT)
		return RELAY_PASS_FRAGMENT;
	if (ipv6_is_extension(ip6->nexthdr))
		return RELAY_PASS_IPV6_EXTENSION;
	if (ip6->nexthdr != IPPROTO_UDP)
		return RELAY_PASS_NOT_UDP;

	__u16 payload = bpf_ntohs(ip6->payload_len);
	if (payload < UDP_HLEN || ETH_HLEN + IPV6_HLEN + (__u32)payload > frame_len)
		return RELAY_PASS_MALFORMED;

	struct udphdr *udp = (void *)(ip6 + 1);
	if ((void *)(udp + 1) > end)
		return RELAY_PASS_MALFORMED;
	pkt->udp_len = bpf_ntohs(udp->len);
	if (pkt->udp_len < UDP_HLEN || pkt->udp_len > payload)
		return RELAY_PASS_MALFORMED;

	pkt->family = RELAY_FAMILY_V6;
	__builtin_memcpy(&pkt->src, &ip6->saddr, 16);
	__builtin_memcpy(&pkt->dst, &ip6->daddr, 16);
	/* IPv4-mapped addresses are not valid on an IPv6 wire, and would alias IPv4 keys. */
	if (addr_is_v4_mapped(&pkt->src) || addr_is_v4_mapped(&pkt->dst))
		return RELAY_PASS_MALFORMED;
	pkt->ttl = ip6->hop_limit;
	pkt->tos = (__u8)((ip6->priority << 4) | (ip6->flow_lbl[0] >> 4));
	pkt->flow_label = ((__u32)(ip6->flow_lbl[0] & 0x0f) << 16) | ((__u32)ip6->flow_lbl[1] << 8) | ip6->flow_lbl[2];
	pkt->ip_id = 0;
	pkt->dont_fragment = 1;
	pkt->sport = udp->source;
	pkt->dport = udp->dest;
	pkt->udp_check = udp->check;
	return RELAY_CONTINUE;
}

/* Fills pkt from the frame; returns RELAY_CONTINUE or the reason to pass it. */
static __always_inline int parse_packet(struct xdp_md *ctx, struct relay_packet *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 frame_len = (__u32)(end - data);
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return RELAY_PASS_MALFORMED;
	switch (eth->h_proto) {
	case bpf_htons(ETH_P_IP):
		return parse_ipv4(eth + 1, end, frame_len, pkt);
	case bpf_htons(ETH_P_IPV6):
		return parse_ipv6(eth + 1, end, frame_len, pkt);
	case bpf_htons(ETH_P_8021Q):
	case bpf_htons(ETH_P_8021AD):
		return RELAY_PASS_VLAN;
	default:
		return RELAY_PASS_NOT_IP;
	}
}

#endif /* PCKT_PARSING_H */
