// SPDX-License-Identifier: Apache-2.0
/*
 * xdp_pass: returns every frame to the stack. On a veth pair, frames a native-mode XDP program sends with XDP_TX
 * are only delivered if the peer end runs an XDP program too; attach this one there:
 *   ip link set dev <peer-veth> xdp obj xdp_pass.bpf.o sec xdp
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx __attribute__((unused)))
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
