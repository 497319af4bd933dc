#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/keeper.sh - mgcall keeper benchmarks (loopback only, stops by itself):
#  1. KEEPER_BENCH_CALLS calls (100000) with --interval 60s against the
#     emulator (--inactivity-timeout 180s) for KEEPER_BENCH_SECONDS (300):
#     expirations, lateness (send time minus due time) p50/p99 from the
#     keeper's histogram after a warm-up, keeper RSS and CPU per keepAlive;
#     then the same calls kept by bench/node/timers.mjs (one timer per call,
#     the comms samples' pattern) for the same time.
#  2. KEEPER_BENCH_REGISTERED calls (1000000) in the store (no Graph
#     traffic: last success just now, --interval 1h): RSS above an empty
#     keeper, per call, and the restart time back to scheduling.
#  3. Graph-like latency: KEEPER_BENCH_CALLS calls at --interval 60s
#     against the emulator with --latency KEEPER_BENCH_LATENCY (100ms) for
#     KEEPER_BENCH_SECONDS, the keeper with its default in-flight sizing:
#     needed vs achieved rate, lateness p50/p99, requests in flight and
#     connections to the emulator (sampled every 5 s), CPU per keepAlive;
#     then bench/node/timers.mjs on the same calls at the same latency.
# Environment: MGCALL (the binary), the KEEPER_BENCH_* sizes above,
# KEEPER_BENCH_PART (all, 1, 2 or 3).
set -euo pipefail
: "${MGCALL:?MGCALL must name the mgcall binary}"
ncalls=${KEEPER_BENCH_CALLS:-100000}
secs=${KEEPER_BENCH_SECONDS:-300}
nreg=${KEEPER_BENCH_REGISTERED:-1000000}
latency=${KEEPER_BENCH_LATENCY:-100ms}
part=${KEEPER_BENCH_PART:-all}
here=$(cd "$(dirname "$0")" && pwd)
for tool in curl jq sqlite3 awk; do
  command -v "$tool" >/dev/null || { echo "bench/keeper.sh: $tool is missing" >&2; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/mgcall-bench.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

. "$here/lib.sh"

start_keeper() { # ARGS...: sets KPID, KURL
  : >"$T/keeper.err"
  "$MGCALL" keeper run --listen 127.0.0.1:0 "$@" 2>>"$T/keeper.err" >/dev/null </dev/null &
  KPID=$!
  pids+=("$KPID")
  local port=
  for _ in $(seq 600); do
    port=$(grep -o 'control API on port [0-9]*' "$T/keeper.err" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$T/keeper.err" >&2; exit 1; }
  KURL="http://127.0.0.1:$port"
}

# start_emulator ARGS...: an emulator with the bench client and $ncalls
# calls (ids in $T/ids); sets EMU, EMU_PID
start_emulator() {
  bench_emulator "$@"
  : >"$T/ids"
  create_calls "$ncalls"
}

# peer: bench/node/timers.mjs on the (still live) calls for $secs; with
# "sample", also samples its connections to the emulator
peer() {
  if ! command -v node >/dev/null; then
    echo "timers.mjs: node is missing: peer not run"
    return
  fi
  local tok before after npid
  tok=$(curl -sf -X POST "$EMU/bench-tenant/oauth2/v2.0/token" -d grant_type=client_credentials \
    -d client_id=bench -d client_secret=bench-secret -d scope=https://graph.microsoft.com/.default | jq -r .access_token)
  before=$(jq .endedByTimeout <<<"$(curl -s "$EMU/_emulator/stats")")
  MGCALL_ACCESS_TOKEN=$tok node "$here/node/timers.mjs" "$EMU" "$T/ids" 60000 "$secs" >"$T/peer.out" &
  npid=$!
  pids+=("$npid")
  if [ "${1:-}" = sample ]; then
    sample_conns "$npid" "$secs" >"$T/peer.conns"
  fi
  # bounded: a starved event loop may never print its figures
  local limit=$(($(date +%s) + secs + 120))
  while kill -0 "$npid" 2>/dev/null && [ "$(date +%s)" -lt "$limit" ]; do
    sleep 1
  done
  if kill -0 "$npid" 2>/dev/null; then
    kill "$npid" 2>/dev/null || true
    echo "(still running $((secs + 120)) s after its start: stopped;" \
      "its figures were never printed)" >>"$T/peer.out"
  fi
  wait "$npid" || true
  after=$(jq .endedByTimeout <<<"$(curl -s "$EMU/_emulator/stats")")
  echo "timers.mjs: $(cat "$T/peer.out")"
  echo "timers.mjs: ended by timeout during its run: $((after - before))"
  if [ "${1:-}" = sample ]; then
    echo "timers.mjs: connections to the emulator (every 5 s): $(summary "$T/peer.conns")"
  fi
}

# sample_conns PID SECONDS: every 5 s, the established TCP connections to
# the emulator's port (only the process under test talks to it)
sample_conns() {
  local port=${EMU##*:} end=$(( $(date +%s) + $2 ))
  while [ "$(date +%s)" -lt "$end" ] && kill -0 "$1" 2>/dev/null; do
    ss -Htn state established "( dport = :$port )" | wc -l
    sleep 5
  done
}
# summary FILE: "median M, max X" of numbers one a line
summary() {
  sort -n "$1" | awk '{ v[NR] = $1 } END { if (!NR) { print "n/a"; exit }
    printf "median %s, max %s (%d samples)\n", v[int((NR + 1) / 2)], v[NR], NR }'
}

if [ "$part" = all ] || [ "$part" = 1 ]; then
  echo "-- 1. $ncalls calls, --interval 60s vs --inactivity-timeout 180s, ${secs}s"
  start_emulator
  start_keeper --store "sqlite:$T/k1.db" --interval 60s --deadline 180s --concurrency 256 \
    --tenant-id bench-tenant --client-id bench --client-secret-file "$T/secret" \
    --authority-url "$EMU" --graph-url "$EMU" --no-token-cache
  register_ids "$KURL"
  warm=$(( secs / 5 < 30 ? secs / 5 : 30 ))
  sleep "$warm"
  curl -s "$KURL/metrics" >"$T/m0"
  cpu0=$(cpu_ms "$KPID")
  ka0=$(awk '/^mgcall_keeper_keepalives_total/ { n += $2 } END { print n + 0 }' "$T/m0")
  sleep $((secs - warm))
  curl -s "$KURL/metrics" >"$T/m1"
  cpu1=$(cpu_ms "$KPID")
  ka1=$(awk '/^mgcall_keeper_keepalives_total/ { n += $2 } END { print n + 0 }' "$T/m1")
  paste <(hist "$T/m1") <(hist "$T/m0") | awk '{ print $1, $2 - $4 }' >"$T/hwin"
  stats=$(curl -s "$EMU/_emulator/stats")
  kas=$((ka1 - ka0))
  echo "keeper: registered $ncalls calls in ${reg_ms} ms (bulk POST /calls, 10000 a request)"
  echo "keeper: ended by timeout: $(jq .endedByTimeout <<<"$stats"), lost: $(awk '/^mgcall_keeper_calls\{state="lost"\}/ {print $2}' "$T/m1")"
  echo "keeper: keepAlives in the measured $((secs - warm)) s: $kas ($(jq -r '.requestsByStatus | to_entries | map("\(.key): \(.value)") | join(", ")' <<<"$stats") in all)"
  echo "keeper: lateness p50 $(quantile 0.5 <"$T/hwin"), p99 $(quantile 0.99 <"$T/hwin"), p99.9 $(quantile 0.999 <"$T/hwin")"
  echo "keeper: RSS $(( $(rss_kib "$KPID") / 1024 )) MiB (peak $(( $(hwm_kib "$KPID") / 1024 )) MiB)," \
    "CPU $((cpu1 - cpu0)) ms = $(awk -v c=$((cpu1 - cpu0)) -v k="$kas" 'BEGIN { printf "%.1f", k ? c * 1000 / k : 0 }') us per keepAlive"
  kill -TERM "$KPID"; wait "$KPID" || true
  # the peer: one timer per call on the same (still live) calls
  peer
  kill -TERM "$EMU_PID"; wait "$EMU_PID" || true
fi

if [ "$part" = all ] || [ "$part" = 2 ]; then
  echo "-- 2. $nreg registered calls: RSS and restart time"
  printf 'x\n' >"$T/token"
  start_keeper --store "sqlite:$T/empty.db" --interval 1h --deadline 3h \
    --access-token-file "$T/token" --graph-url http://127.0.0.1:9
  sleep 1
  empty=$(rss_kib "$KPID")
  kill -TERM "$KPID"; wait "$KPID" || true
  now=$(now_ms)
  start_keeper --store "sqlite:$T/big.db" --interval 1h --deadline 3h \
    --access-token-file "$T/token" --graph-url http://127.0.0.1:9
  kill -TERM "$KPID"; wait "$KPID" || true
  sqlite3 "$T/big.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $nreg)
    INSERT INTO calls (call_id, state, added_ms, last_success_ms, next_due_ms)
    SELECT printf('%08x-0000-4000-8000-%012x', i, i), 'active', $now, $now, $now + 3600000 FROM n;"
  t0=$(now_ms)
  start_keeper --store "sqlite:$T/big.db" --interval 1h --deadline 3h \
    --access-token-file "$T/token" --graph-url http://127.0.0.1:9
  t1=$(now_ms)
  sleep 1
  big=$(rss_kib "$KPID")
  echo "keeper: restart with $(grep -o 'store: [0-9]* active' "$T/keeper.err") calls back to scheduling in $((t1 - t0)) ms"
  echo "keeper: RSS empty $((empty / 1024)) MiB, with $nreg calls $((big / 1024)) MiB:" \
    "$(( (big - empty) * 1024 / nreg )) bytes per call"
  kill -TERM "$KPID"; wait "$KPID" || true
fi

if [ "$part" = all ] || [ "$part" = 3 ]; then
  echo "-- 3. $ncalls calls, --interval 60s, emulator --latency $latency, default in-flight sizing, ${secs}s"
  start_emulator --latency "$latency"
  start_keeper --store "sqlite:$T/k3.db" --interval 60s --deadline 180s \
    --tenant-id bench-tenant --client-id bench --client-secret-file "$T/secret" \
    --authority-url "$EMU" --graph-url "$EMU" --no-token-cache
  register_ids "$KURL"
  warm=$(( secs / 5 < 30 ? secs / 5 : 30 ))
  sleep "$warm"
  curl -s "$KURL/metrics" >"$T/m0"
  cpu0=$(cpu_ms "$KPID")
  t_start=$(now_ms)
  # every 5 s: requests in flight, the target, connections to the emulator
  port=${EMU##*:}
  : >"$T/flight"; : >"$T/target"; : >"$T/conns"; : >"$T/achieved"
  end=$(( $(date +%s) + secs - warm ))
  while [ "$(date +%s)" -lt "$end" ]; do
    curl -s "$KURL/metrics" >"$T/ms"
    awk '$1 == "mgcall_keeper_inflight_requests" { print $2 >> "'"$T/flight"'" }
      $1 == "mgcall_keeper_inflight_target" { print $2 >> "'"$T/target"'" }
      $1 == "mgcall_keeper_achieved_keepalives_per_second" { print $2 >> "'"$T/achieved"'" }' "$T/ms"
    ss -Htn state established "( dport = :$port )" | wc -l >>"$T/conns"
    sleep 5
  done
  curl -s "$KURL/metrics" >"$T/m1"
  cpu1=$(cpu_ms "$KPID")
  t_end=$(now_ms)
  ok() { awk '$1 == "mgcall_keeper_keepalives_total{status=\"200\"}" { print $2 }' "$1"; }
  all() { awk '/^mgcall_keeper_keepalives_total/ { n += $2 } END { print n + 0 }' "$1"; }
  paste <(hist "$T/m1") <(hist "$T/m0") | awk '{ print $1, $2 - $4 }' >"$T/hwin"
  stats=$(curl -s "$EMU/_emulator/stats")
  kas=$(( $(all "$T/m1") - $(all "$T/m0") ))
  oks=$(( $(ok "$T/m1") - $(ok "$T/m0") ))
  need=$(awk '$1 == "mgcall_keeper_needed_keepalives_per_second" { print $2 }' "$T/m1")
  echo "keeper: registered $ncalls calls in ${reg_ms} ms"
  echo "keeper: ended by timeout: $(jq .endedByTimeout <<<"$stats"), lost: $(awk '/^mgcall_keeper_calls\{state="lost"\}/ {print $2}' "$T/m1"), at-risk: $(awk '/^mgcall_keeper_calls\{state="at-risk"\}/ {print $2}' "$T/m1")"
  echo "keeper: keepAlives in the measured $(( (t_end - t_start) / 1000 )) s: $kas ($oks answered 200):" \
    "$(awk -v k="$kas" -v ms=$((t_end - t_start)) 'BEGIN { printf "%.0f", k * 1000 / ms }')/s achieved, needed $need/s"
  echo "keeper: lateness p50 $(quantile 0.5 <"$T/hwin"), p99 $(quantile 0.99 <"$T/hwin"), p99.9 $(quantile 0.999 <"$T/hwin")"
  echo "keeper: requests in flight (every 5 s): $(summary "$T/flight"); target: $(summary "$T/target")"
  echo "keeper: connections to the emulator (every 5 s): $(summary "$T/conns")"
  echo "keeper: smoothed latency $(awk '$1 == "mgcall_keeper_keepalive_latency_seconds" { print $2 }' "$T/m1") s"
  echo "keeper: RSS $(( $(rss_kib "$KPID") / 1024 )) MiB (peak $(( $(hwm_kib "$KPID") / 1024 )) MiB)," \
    "CPU $((cpu1 - cpu0)) ms = $(awk -v c=$((cpu1 - cpu0)) -v k="$kas" 'BEGIN { printf "%.1f", k ? c * 1000 / k : 0 }') us per keepAlive"
  kill -TERM "$KPID"; wait "$KPID" || true
  peer sample
fi
