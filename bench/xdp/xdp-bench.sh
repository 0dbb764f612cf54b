#!/usr/bin/env bash
# The XDP fast path against this relay's userspace path and coturn, in the namespace topology of topology.sh,
# plus the ceiling of a trivial XDP_TX program (xdp_reflect) on the same veth. Run as root from anywhere:
#   bench/xdp/xdp-bench.sh [RATE...]        RATE: packets/s the client sends (paced); default 50000 100000 400000
# Traffic is one way, client -> relay -> peer (relay-loadtest --one-way): one relayed packet per sent packet. The
# reflect mode has no peer: xdp_reflect returns each ChannelData to the client, so the tool's echo there is the
# same length of path (client -> router -> relay veth -> router -> host) with one XDP_TX per packet.
# Env: ROUTE (44; or 46, 64, 66: client family then peer family), MODES ("xdp userspace coturn reflect";
#      also xdp-generic: the relay's program in generic mode),
#      DURATION (10), WARMUP (2), ALLOCS (10), SIZE (100), OUT (/tmp/xdp-bench.jsonl).
# Each run appends relay-loadtest's JSON report plus mode, route and the XDP program's own cost (run_time_ns /
# run_cnt with kernel.bpf_stats_enabled=1, restored afterwards) to OUT, and prints one summary line.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "xdp-bench.sh: run as root (namespaces, XDP)" >&2; exit 2; }
for tool in clang bpftool ip ethtool jq turnserver; do
    command -v "$tool" >/dev/null || { echo "xdp-bench.sh: needs $tool (apt-get install clang libbpf-dev bpftool iproute2 ethtool jq coturn)" >&2; exit 2; }
done
RATES=("$@"); [ ${#RATES[@]} -gt 0 ] || RATES=(50000 100000 400000)
ROUTE=${ROUTE:-44}; MODES=${MODES:-xdp userspace coturn reflect}
DURATION=${DURATION:-10}; WARMUP=${WARMUP:-2}; ALLOCS=${ALLOCS:-10}; SIZE=${SIZE:-100}; OUT=${OUT:-/tmp/xdp-bench.jsonl}
SECRET=bench-secret

dotnet build -c Release "$ROOT/src/Relay.Web" >/dev/null
dotnet build -c Release "$ROOT/bench/Relay.LoadTest" >/dev/null
BIN=$ROOT/src/Relay.Web/bin/Release/net10.0
LT=$ROOT/bench/Relay.LoadTest/bin/Release/net10.0/relay-loadtest
[ -f "$BIN/relay_xdp.bpf.o" ] || { echo "xdp-bench.sh: $BIN/relay_xdp.bpf.o was not built (clang, libbpf-dev)" >&2; exit 2; }
WORK=$(mktemp -d)
clang -O2 -g -target bpf -I"/usr/include/$(uname -m)-linux-gnu" -c "$HERE/xdp_reflect.bpf.c" -o "$WORK/xdp_reflect.bpf.o"

P=xb$$
SERVER_PID=
STATS_WAS=$(cat /proc/sys/kernel/bpf_stats_enabled)
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    "$HERE/topology.sh" down "$P"
    sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
    rm -rf "$WORK"
}
trap cleanup EXIT
"$HERE/topology.sh" up "$P" "$BIN/xdp_pass.bpf.o"
sysctl -qw kernel.bpf_stats_enabled=1

address() { # host family -> address
    local subnet; case $1 in client) subnet=1 ;; peer) subnet=2 ;; relay) subnet=3 ;; esac
    [ "$2" = 4 ] && echo "10.41.$subnet.2" || echo "fd41:$subnet::2"
}
CLIENT_FAMILY=${ROUTE:0:1}; PEER_FAMILY=${ROUTE:1:1}
RELAY_ADDRESS=$(address relay "$CLIENT_FAMILY")
[ "$CLIENT_FAMILY" = 4 ] && SERVER="$RELAY_ADDRESS:3478" || SERVER="[$RELAY_ADDRESS]:3478"
PEER_BIND=$(address peer "$PEER_FAMILY")

start_server() { # mode
    local relay=("$BIN/firezone-relay" --public-ip4-addr 10.41.3.2 --public-ip6-addr fd41:3::2 --listen-port 3478
        --auth-scheme turn-rest --relay-secret "$SECRET" --rfc5766-channel-numbers --user-quota 0
        --health-check-addr 127.0.0.1:18080 --control-endpoint 127.0.0.1:19999 --log-filter warn)
    case $1 in
    xdp) ip netns exec "$P-relay" "${relay[@]}" --ebpf-offloading eth0 --ebpf-attach-mode driver >"$WORK/server.log" 2>&1 & ;;
    xdp-generic) ip netns exec "$P-relay" "${relay[@]}" --ebpf-offloading eth0 --ebpf-attach-mode generic >"$WORK/server.log" 2>&1 & ;;
    userspace | reflect) ip netns exec "$P-relay" "${relay[@]}" >"$WORK/server.log" 2>&1 & ;;
    coturn) ip netns exec "$P-relay" turnserver -n --listening-ip=10.41.3.2 --listening-ip=fd41:3::2 \
        --relay-ip=10.41.3.2 --relay-ip=fd41:3::2 --listening-port=3478 --min-port=49152 --max-port=65535 \
        --use-auth-secret --static-auth-secret="$SECRET" --realm=bench --no-tls --no-dtls --no-cli \
        --userdb="$WORK/coturn.sqlite" --pidfile="$WORK/coturn.pid" --log-file=stdout --simple-log >"$WORK/server.log" 2>&1 & ;;
    esac
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        ip netns exec "$P-relay" ss -Huln 'sport = :3478' | grep -q . && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 2; }
        sleep 0.1
    done
    [ "$1" = reflect ] && ip -n "$P-relay" link set dev eth0 xdpdrv obj "$WORK/xdp_reflect.bpf.o" sec xdp
    return 0
}

stop_server() { # mode
    [ "$1" = reflect ] && ip -n "$P-relay" link set dev eth0 xdpdrv off
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
}

program_stats() { # -> "run_cnt run_time_ns" of the program on the relay's eth0, or "0 0"
    local id; id=$(ip -n "$P-relay" -d -j link show eth0 | jq -r '.[0].xdp.prog.id // empty')
    [ -n "$id" ] && bpftool -j prog show id "$id" | jq -r '"\(.run_cnt // 0) \(.run_time_ns // 0)"' || echo "0 0"
}

for mode in $MODES; do
    start_server "$mode"
    for rate in "${RATES[@]}"; do
        direction=(--one-way); [ "$mode" = reflect ] && direction=()
        read -r runs0 ns0 < <(program_stats)
        line=$(timeout -k 5 $((DURATION + WARMUP + 40)) ip netns exec "$P-client" "$LT" --server "$SERVER" --secret "$SECRET" \
            --allocations "$ALLOCS" --size "$SIZE" --duration "$DURATION" --warmup "$WARMUP" --rate "$rate" "${direction[@]}" \
            --server-pid "$SERVER_PID" --peer-netns "$P-peer" --peer-bind "$PEER_BIND" --label "$mode $ROUTE" --json --quiet) \
            || { echo "$mode rate=$rate: relay-loadtest failed" >&2; continue; }
        read -r runs1 ns1 < <(program_stats)
        line=$(echo "$line" | jq -c --arg mode "$mode" --arg route "$ROUTE" --argjson runs $((runs1 - runs0)) --argjson ns $((ns1 - ns0)) \
            '. + {mode: $mode, route: $route, xdp_runs: $runs, xdp_ns_per_run: (if $runs > 0 then ($ns / $runs) else null end)}')
        echo "$line" >>"$OUT"
        echo "$line" | jq -r '[.mode, "route=\(.route)", "rate=\(.rate_target)", "delivered/s=\(.echo_pps)", "loss=\(.loss_pct)%",
            "p50=\(.rtt_us.p50)us", "p99=\(.rtt_us.p99)us", "host_cpu=\(.cpu_pct.host_busy)%", "server_cpu=\(.cpu_pct.server)%",
            "xdp_ns/run=\(.xdp_ns_per_run // "-" | tostring | .[0:5])"] | join(" ")'
    done
    stop_server "$mode"
done
