/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Constants shared by the XDP program and, through the layout test, by src/Relay.Xdp: address families, route
 * indexes and the reasons a packet is passed to userspace or dropped. Keep the enums in step with their C#
 * mirrors (XdpPassReason, XdpDropReason); tests/Relay.Xdp.Tests checks names and order.
 */
#ifndef RELAY_CONSTS_H
#define RELAY_CONSTS_H

#define RELAY_FAMILY_V4 4
#define RELAY_FAMILY_V6 6

/* Bindings each map holds. Updates beyond it fail and the channel stays in userspace (counted by the host). */
#define RELAY_MAX_BINDINGS 65536

/* Directions of relay_stats.relayed_*: [direction][route]. */
#define RELAY_DIR_CLIENT_TO_PEER 0
#define RELAY_DIR_PEER_TO_CLIENT 1
#define RELAY_DIRECTIONS 2

/*
 * Routes are named by family pairs and indexed (first is v6) * 2 + (second is v6): 44 = 0, 46 = 1, 64 = 2, 66 = 3.
 * For relayed traffic the pair is (client family, peer family); for hairpin it is (sending client, receiving
 * client).
 */
#define RELAY_ROUTES 4

/* relay_config.flags: which addresses are configured (an all-zero address is never treated as one). */
#define RELAY_CFG_PUBLIC_V4 (1u << 0)
#define RELAY_CFG_PUBLIC_V6 (1u << 1)
#define RELAY_CFG_INTERFACE_V4 (1u << 2)
#define RELAY_CFG_INTERFACE_V6 (1u << 3)

/* live_ports values: the families on which an allocation's relay socket is bound. */
#define RELAY_LIVE_V4 (1u << 0)
#define RELAY_LIVE_V6 (1u << 1)

/* Why a packet went to the kernel's stack (XDP_PASS), untouched. */
enum relay_pass_reason {
	RELAY_PASS_NOT_IP = 0,         /* not IPv4/IPv6 (ARP, LLDP...) */
	RELAY_PASS_VLAN,               /* 802.1Q/802.1ad tagged */
	RELAY_PASS_NOT_UDP,            /* TCP, ICMP... */
	RELAY_PASS_IP_OPTIONS,         /* IPv4 header longer than 20 bytes */
	RELAY_PASS_IPV6_EXTENSION,     /* an IPv6 extension header before UDP */
	RELAY_PASS_FRAGMENT,           /* an IPv4 fragment or an IPv6 fragment header */
	RELAY_PASS_MALFORMED,          /* lengths that do not add up; userspace (or the stack) decides */
	RELAY_PASS_NOT_LOCAL,          /* destination is not one of the relay's addresses */
	RELAY_PASS_NOT_RELAY_PORT,     /* neither the listen port nor a live allocation port */
	RELAY_PASS_NOT_CHANNEL_DATA,   /* STUN (Allocate, Send indication...) on the listen port */
	RELAY_PASS_CHANNEL_LENGTH,     /* ChannelData longer than its datagram, or followed by more than padding */
	RELAY_PASS_NO_BINDING,         /* no channel bound for this client/channel or peer/allocation */
	RELAY_PASS_HAIRPIN_NO_BINDING, /* peer is the relay itself, but the other allocation has no channel to us */
	RELAY_PASS_TTL,                /* TTL or hop limit of 1 or less: the stack answers with ICMP */
	RELAY_PASS_MTU,                /* would exceed the interface MTU once the headers grow */
	RELAY_PASS_ZERO_CHECKSUM,      /* IPv4 UDP without checksum going to IPv6, where one is mandatory */
	RELAY_PASS_NO_SOURCE_ADDRESS,  /* cross-family, but no interface address of the target family */
	RELAY_PASS_ADJUST_FAILED,      /* the driver could not make room for the new headers */
	RELAY_PASS_REASONS,
};

/*
 * Why a packet was dropped: a failure after the frame was already rewritten, or the allocation's bandwidth cap.
 * Everything else is passed.
 */
enum relay_drop_reason {
	RELAY_DROP_BOUNDS = 0,      /* the rewritten frame is shorter than its new headers */
	RELAY_DROP_ADJUST_TAIL,     /* trimming padding failed after the headers were rewritten */
	RELAY_DROP_OVER_BANDWIDTH,  /* the allocation spent its --max-bps budget in that direction */
	RELAY_DROP_REASONS,
};

/* Token buckets count bytes scaled by this, so that refilling (elapsed ns * bytes/s) needs no division. */
#define RELAY_NS_PER_SECOND 1000000000ull

#endif /* RELAY_CONSTS_H */
