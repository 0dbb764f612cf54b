/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every map key and value the XDP program shares with userspace. src/Relay.Xdp/Maps/XdpStructs.cs mirrors each
 * struct field for field; tests/Relay.Xdp.Tests compares both against the BTF of the compiled object.
 *
 * Byte order: addresses, ports and channel numbers are in network order (as on the wire), so the program copies
 * them without conversion. Counters and the config's ports are in host order.
 *
 * Addresses are 16 bytes for both families (struct relay_addr): IPv6 as is and IPv4 as an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d), held as four 32-bit words so that copies and compares take four instructions, not 16.
 * This is why two binding maps replace the reference's eight (client->peer and peer->client for each of 44, 46,
 * 64, 66): one key type covers both families, so a packet needs one lookup instead of two, and one value type
 * feeds one generic rewrite instead of a routine per family pair. An IPv6 packet that carries an IPv4-mapped
 * address is never acted on, so the two families cannot collide. The cost is 12 bytes more per IPv4 key.
 */
#ifndef RELAY_STRUCTS_H
#define RELAY_STRUCTS_H

#include <linux/types.h>
#include "relay_consts.h"

struct relay_addr {
	__be32 word[4];
};

/* Packets and payload bytes (without ChannelData headers), side by side so one packet touches one cache line. */
struct relay_count {
	__u64 packets;
	__u64 bytes;
};

/* client_channels key: a client's address and port and the channel it sends on. */
struct client_channel_key {
	struct relay_addr client_addr;
	__be16 client_port;
	__be16 channel;
};

/* client_channels value: where the channel leads, and what XDP relayed on it (client to peer). */
struct client_channel_value {
	struct relay_addr peer_addr;
	__be16 peer_port;
	__be16 allocation_port;
	__u8 peer_family; /* RELAY_FAMILY_V4 or RELAY_FAMILY_V6 */
	__u8 reserved[3];
	__u64 packets; /* payload packets relayed by XDP, added atomically */
	__u64 bytes;   /* payload bytes (without the ChannelData header) */
};

/* peer_bindings key: a peer's address and port and the allocation port it sends to. */
struct peer_binding_key {
	struct relay_addr peer_addr;
	__be16 peer_port;
	__be16 allocation_port;
};

/* peer_bindings value: the client and channel that receive the peer's data, and what XDP relayed (peer to client). */
struct peer_binding_value {
	struct relay_addr client_addr;
	__be16 client_port;
	__be16 channel;
	__u8 client_family; /* RELAY_FAMILY_V4 or RELAY_FAMILY_V6 */
	__u8 reserved[3];
	__u64 packets;
	__u64 bytes;
};

/* relay_config[0], written once by userspace before the program is attached. */
struct relay_config {
	struct relay_addr public_v6;    /* advertised IPv6 address (XOR-RELAYED-ADDRESS) */
	struct relay_addr interface_v6; /* source of IPv4 -> IPv6 translations; an address of the interface */
	__be32 public_v4;
	__be32 interface_v4;            /* source of IPv6 -> IPv4 translations */
	__u16 listen_port;     /* host order */
	__u16 lowest_port;     /* allocation port range, host order */
	__u16 highest_port;
	__u16 mtu;             /* the interface MTU: IP packets longer than this are passed, not grown */
	__u32 flags;           /* RELAY_CFG_* */
	__u32 reserved;
	__u64 max_bps;         /* --max-bps: payload bytes per second per allocation and direction; 0 = no cap */
	__u64 burst_ns;        /* the burst (a second of max_bps, at least 64 KiB) as the time max_bps takes to send it */
	__u64 ns_per_byte_q16; /* 1e9 / max_bps in 16.16 fixed point: a payload's time without a division */
};

/*
 * port_budgets value, indexed by allocation port: that allocation's --max-bps budget per direction (RELAY_DIR_*),
 * kept as a theoretical arrival time (GCRA, the single-number form of a token bucket): each relayed payload pushes
 * it forward by its length's worth of time at max_bps, and a payload is dropped if that would put it more than
 * burst_ns ahead of now. Userspace zeroes the entry when the port is bound for a new allocation (0 = idle, full).
 */
struct port_budget {
	__u64 next_ns[RELAY_DIRECTIONS]; /* theoretical arrival time, bpf_ktime_get_coarse_ns() scale; advanced atomically */
	__u64 over_bandwidth;            /* packets dropped over the cap, both directions (added atomically) */
};

/* relay_stats[0], one copy per CPU: userspace sums them. */
struct relay_stats {
	struct relay_count relayed[RELAY_DIRECTIONS][RELAY_ROUTES]; /* [RELAY_DIR_*][route] */
	struct relay_count hairpin[RELAY_ROUTES];                   /* relay-to-relay, also counted in relayed */
	__u64 passed[RELAY_PASS_REASONS];
	__u64 dropped[RELAY_DROP_REASONS];
};

#endif /* RELAY_STRUCTS_H */
