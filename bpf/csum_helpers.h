/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internet checksum helpers (RFC 1071, RFC 1624). Sums are taken over 16-bit words exactly as they lie in memory:
 * the ones' complement sum does not depend on byte order as long as every word is read the same way, so values
 * that live in network order (addresses, ports, channel numbers) are added without conversion and host-order
 * values (lengths) are converted with bpf_htons first.
 */
#ifndef CSUM_HELPERS_H
#define CSUM_HELPERS_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include "relay_structs.h"

static __always_inline __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* An address as a UDP pseudo-header carries it: the last 2 words for IPv4 (kept IPv4-mapped), all 8 for IPv6. */
static __always_inline __u64 csum_addr(const struct relay_addr *addr, __u8 family)
{
	const __u16 *w = (const __u16 *)addr;
	__u64 sum = (__u64)w[6] + w[7];
	if (family == RELAY_FAMILY_V6)
		sum += (__u64)w[0] + w[1] + w[2] + w[3] + w[4] + w[5];
	return sum;
}

/*
 * RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), for many words at once: old_sum is the sum of the words that leave the
 * checksummed data, new_sum of those that enter it. ~fold(old_sum) equals the sum of each word's complement in
 * ones' complement arithmetic.
 */
static __always_inline __u16 csum_replace(__u16 check, __u64 old_sum, __u64 new_sum)
{
	__u64 acc = (__u64)(__u16)~check + new_sum + (__u16)~csum_fold(old_sum);
	return (__u16)~csum_fold(acc);
}

/* A byte at an offset from the start of the UDP header, as a memory-order word contribution. */
static __always_inline __u64 csum_byte(__u8 byte, __u32 offset)
{
	return bpf_htons((offset & 1) ? byte : (__u16)(byte << 8));
}

/* The header checksum of a 20-byte IPv4 header whose check field is zero. */
static __always_inline __u16 csum_ipv4_header(const void *header)
{
	const __u16 *w = header;
	__u64 sum = 0;

#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	return (__u16)~csum_fold(sum);
}

#endif /* CSUM_HELPERS_H */
