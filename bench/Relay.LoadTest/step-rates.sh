#!/usr/bin/env bash
# Runs relay-loadtest once per rate against one TURN server and appends one JSON line per run.
#
#   step-rates.sh HOST:PORT SERVER_PID LABEL RATE...        (RATE 0 = unpaced)
#
# Env: SECRET (interop-secret) ALLOCS (10) SIZE (100) DURATION (10) WARMUP (2) OUT (/tmp/relay-loadtest.jsonl)
#      EXTRA (more relay-loadtest flags). Every run is bounded by `timeout` (WARMUP + DURATION + 30 s).
#      FOREIGN_MAX (5): a run during which other processes used more than this % of a core (or the busy time that no
#      known process was charged for exceeded twice that) is repeated, at most
#      RETRIES (2) times (the last attempt is kept; check other= in the summary). Before every run the script waits
#      up to QUIET_WAIT (60) s for a second in which the machine is at most QUIET_MAX (10) % busy.
# Prints one summary line per run; stops at the first set-up failure (exit 2).
set -u
[ $# -ge 4 ] || { echo "usage: step-rates.sh HOST:PORT SERVER_PID LABEL RATE..." >&2; exit 2; }
SERVER=$1; PID=$2; LABEL=$3; shift 3
case "$SERVER" in 127.*|\[::1\]:*) ;; *) echo "refusing non-loopback server $SERVER" >&2; exit 2 ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$HERE/bin/Release/net10.0/relay-loadtest}
[ -x "$BIN" ] || { echo "build first: dotnet build bench/Relay.LoadTest -c Release" >&2; exit 2; }
OUT=${OUT:-/tmp/relay-loadtest.jsonl}
DURATION=${DURATION:-10}; WARMUP=${WARMUP:-2}
# wait_quiet: up to QUIET_WAIT (60) s until the machine was <= QUIET_MAX (10) % busy (of one core) for 1 s.
busy_1s() {
    local a b
    a=$(awk '/^cpu /{ print $2+$3+$4+$5+$6+$7+$8, $5+$6; exit }' /proc/stat); sleep 1
    b=$(awk '/^cpu /{ print $2+$3+$4+$5+$6+$7+$8, $5+$6; exit }' /proc/stat)
    echo "$a $b" | awk -v n="$(nproc)" '{ t = $3 - $1; i = $4 - $2; printf "%.0f", (t > 0) ? n * 100 * (t - i) / t : 0 }'
}
wait_quiet() {
    local end=$((SECONDS + ${QUIET_WAIT:-60})) busy
    while :; do
        busy=$(busy_1s)
        [ "$busy" -le "${QUIET_MAX:-10}" ] && return 0
        [ "$SECONDS" -ge "$end" ] && { echo "machine still ${busy}% busy; running anyway" >&2; return 0; }
    done
}
LIMIT=$(awk -v d="$DURATION" -v w="$WARMUP" 'BEGIN { printf "%d", d + w + 30 }')
for rate in "$@"; do
  for attempt in $(seq 0 "${RETRIES:-2}"); do
    wait_quiet
    # shellcheck disable=SC2086
    line=$(timeout -k 5 "$LIMIT" "$BIN" --server "$SERVER" --secret "${SECRET:-interop-secret}" \
        --allocations "${ALLOCS:-10}" --size "${SIZE:-100}" --duration "$DURATION" --warmup "$WARMUP" \
        --rate "$rate" --server-pid "$PID" --label "$LABEL" --json --quiet ${EXTRA:-})
    rc=$?
    if [ "$rc" -eq 2 ] || [ -z "$line" ]; then
        echo "$LABEL rate=$rate: set-up failed or timed out (rc=$rc)" >&2
        exit 2
    fi
    other=$(echo "$line" | jq -r '[.cpu_pct.other_processes // 0, (.cpu_pct.unattributed // 0) / 2] | max')
    if awk -v o="$other" -v m="${FOREIGN_MAX:-5}" 'BEGIN { exit !(o > m) }' && [ "$attempt" -lt "${RETRIES:-2}" ]; then
        echo "$LABEL rate=$rate: foreign load during the run (other processes $(echo "$line" | jq -r .cpu_pct.other_processes)%, unattributed $(echo "$line" | jq -r .cpu_pct.unattributed)%); repeating" >&2
        sleep 3
        continue
    fi
    break
  done
  echo "$line" >>"$OUT"
  echo "$line" | jq -r '[.label, "rate=\(.rate_target)", "sent/s=\(.send_pps)", "echo/s=\(.echo_pps)",
      "loss=\(.loss_pct)%", "p50=\(.rtt_us.p50)us", "p99=\(.rtt_us.p99)us", "max=\(.rtt_us.max)us",
      "srv_cpu=\(.cpu_pct.server)%", "srv_thread=\(.cpu_pct.server_busiest_thread_pct)%", "srv_thread_rq_wait=\(.cpu_pct.server_busiest_thread_runqueue_wait_pct)%",
      "tool=\(.cpu_pct.tool)%", "host=\(.cpu_pct.host_busy)%", "other=\(.cpu_pct.other_processes)%", "unattributed=\(.cpu_pct.unattributed)%",
      "drops(listen/relay/peer/client)=\(.udp_drops.server_port)/\(.udp_drops.relay_ports)/\(.udp_drops.peer)/\(.udp_drops.client)",
      "pacer_lag=\(.pacer_tokens_dropped)"] | join(" ")'
done
