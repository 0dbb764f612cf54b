// SPDX-License-Identifier: Apache-2.0
/*
 * xdp_reflect: the ceiling of XDP_TX on an interface, for the benchmark. ChannelData arriving on UDP port 3478 is
 * sent straight back to where it came from (MACs, addresses and ports swapped; swapping leaves every checksum
 * valid), everything else is passed. With a TURN relay behind it handling STUN, relay-loadtest then measures how
 * many packets/s one XDP_TX per echo can carry on that interface, with the same traffic the relay sees.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define LISTEN_PORT 3478

static __always_inline int reflect_udp(struct udphdr *udp, void *end)
{
	if ((void *)(udp + 1) > end || udp->dest != bpf_htons(LISTEN_PORT))
		return 0;
	__u8 *first = (void *)(udp + 1);
	if ((void *)(first + 1) > end || (*first & 0xc0) != 0x40)
		return 0; /* STUN goes to the relay */
	__be16 port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	return 1;
}

SEC("xdp")
int xdp_reflect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_UDP || !reflect_udp((void *)(ip + 1), end))
			return XDP_PASS;
		__be32 address = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = address;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_UDP || !reflect_udp((void *)(ip6 + 1), end))
			return XDP_PASS;
		struct in6_addr address = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = address;
	} else {
		return XDP_PASS;
	}

	__u8 mac[ETH_ALEN];
	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
