#!/usr/bin/env bash
# The benchmark's namespace topology (the same shape as tests/Relay.Xdp.Tests' RelayTopology): client, peer and
# relay each hang off a router that forwards IPv4 and IPv6, over veth pairs, private test ranges only.
#   topology.sh up PREFIX XDP_PASS_OBJECT    creates PREFIX-{router,client,peer,relay}
#   topology.sh down PREFIX                  deletes them by name (and with them their veths)
# Addresses: client 10.41.1.2 / fd41:1::2, peer 10.41.2.2 / fd41:2::2, relay 10.41.3.2 / fd41:3::2 (eth0 each).
# The router's veth toward the relay (r3) runs xdp_pass: native XDP_TX on the relay's veth needs a program on the
# peer end. Senders compute full UDP checksums (tx offload off), as traffic from a real NIC has them.
set -euo pipefail
cmd=${1:?up|down}; P=${2:?prefix}
case "$cmd" in
up)
    OBJ=${3:?xdp_pass object}
    for n in router client peer relay; do
        ip netns add "$P-$n"
        ip netns exec "$P-$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.dad_transmits=0
        ip -n "$P-$n" link set lo up
    done
    ip netns exec "$P-router" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    i=1
    for n in client peer relay; do
        ip -n "$P-router" link add "r$i" type veth peer name eth0 netns "$P-$n"
        ip -n "$P-router" addr add "10.41.$i.1/24" dev "r$i"
        ip -n "$P-router" addr add "fd41:$i::1/64" dev "r$i" nodad
        ip -n "$P-router" link set "r$i" up
        ip -n "$P-$n" addr add "10.41.$i.2/24" dev eth0
        ip -n "$P-$n" addr add "fd41:$i::2/64" dev eth0 nodad
        ip -n "$P-$n" link set eth0 up
        ip -n "$P-$n" route add default via "10.41.$i.1"
        ip -n "$P-$n" -6 route add default via "fd41:$i::1"
        i=$((i + 1))
    done
    for n in client peer; do ip netns exec "$P-$n" ethtool -K eth0 tx off tso off gso off >/dev/null; done
    ip -n "$P-router" link set dev r3 xdpdrv obj "$OBJ" sec xdp
    ;;
down)
    for n in relay peer client router; do ip netns del "$P-$n" 2>/dev/null || true; done
    ;;
*) echo "usage: topology.sh up|down PREFIX [XDP_PASS_OBJECT]" >&2; exit 2 ;;
esac
