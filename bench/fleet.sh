#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/fleet.sh - fleet mode on one machine (loopback only, stops by
# itself): FLEET_BENCH_CALLS calls (300000) kept by three keepers on one
# throwaway PostgreSQL (tests/helpers/pgtmp) with --interval 60s against
# the emulator's --inactivity-timeout 180s for FLEET_BENCH_SECONDS (300):
#   keepAlive lateness p50/p99 (the keepers' histograms after a warm-up),
#   the emulator's maxKeepAliveGapMs (when it reports it), PostgreSQL
#   statements (transactions; each keeper statement is one) and WAL bytes
#   per keepAlive, the HOT-update ratio of mgcall_calls, RSS per keeper;
# then kill -9 of the keeper holding most calls: time until its shards are
# all taken and no call is overdue (default --lease-ttl 30s; overdue: no
# keepAlive for the interval plus 7 s, as the emulator sees it, its
# openKeepAliveGapMs, and as the database does), calls lost,
# keepAlives in the minute after the kill against the minute before (the
# excess is the duplicates the takeover caused);
# then the same calls kept by ONE keeper on SQLite for the same time (the
# peer measured in the same run).  Both report CPU per keepAlive (keepers,
# emulator) and how busy the machine was over the window.
# Environment: MGCALL (the binary), FLEET_BENCH_CALLS, FLEET_BENCH_SECONDS.
set -euo pipefail
: "${MGCALL:?MGCALL must name the mgcall binary}"
ncalls=${FLEET_BENCH_CALLS:-300000}
secs=${FLEET_BENCH_SECONDS:-300}
here=$(cd "$(dirname "$0")" && pwd)
PGTMP="$here/../tests/helpers/pgtmp"
for tool in curl jq awk; do
  command -v "$tool" >/dev/null || { echo "bench/fleet.sh: $tool is missing" >&2; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/mgcall-bench.XXXXXX")
PGDIR=$(mktemp -u "${TMPDIR:-/tmp}/mgcall-bench-pg.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$PGTMP" stop "$PGDIR" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

. "$here/lib.sh"
sql() { "$PGTMP" psql "$PGDIR" -c "$1"; }
# busy_ticks: CPU time all cores spent busy (not idle or iowait), in clock ticks
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# busy_report NAME TICKS0 TICKS1 MS: share of the machine that was busy
busy_report() {
  awk -v n="$1" -v b=$(($3 - $2)) -v ms="$4" -v hz="$(getconf CLK_TCK)" -v c="$(nproc)" 'BEGIN {
    printf "%s: machine busy %.0f%% of %d cores over the window\n", n, 100 * b / hz / (ms / 1000) / c, c }'
}
declare -A KPID KURL
start_keeper() { # NAME ARGS...
  local name=$1 port=
  shift
  "$MGCALL" keeper run --listen 127.0.0.1:0 "$@" 2>>"$T/$name.err" >/dev/null </dev/null &
  KPID[$name]=$!
  pids+=("${KPID[$name]}")
  for _ in $(seq 600); do
    port=$(grep -o 'control API on port [0-9]*' "$T/$name.err" | tail -1 | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$T/$name.err" >&2; exit 1; }
  KURL[$name]="http://127.0.0.1:$port"
}
bench_emulator
AUTH=(--tenant-id bench-tenant --client-id bench --client-secret-file "$T/secret"
  --authority-url "$EMU" --graph-url "$EMU" --no-token-cache)

echo "-- fleet: $ncalls calls, 3 keepers on PostgreSQL, --interval 60s vs --inactivity-timeout 180s, ${secs}s"
URL=$("$PGTMP" start "$PGDIR")
for n in k1 k2 k3; do
  start_keeper "$n" --store "$URL" --node-id "$n" --interval 60s --deadline 180s \
    --concurrency 256 "${AUTH[@]}"
done
for _ in $(seq 200); do
  [ "$(sql "SELECT count(DISTINCT owner) FROM mgcall_shards WHERE expires_at > now()")" = 3 ] && break
  sleep 0.2
done
create_calls "$ncalls"
register_ids "${KURL[k1]}"
echo "fleet: registered $ncalls calls in $reg_ms ms (bulk POST /calls of 10,000 to k1)"
warm=$((secs / 5 < 30 ? secs / 5 : 30))
sleep "$warm"
for n in k1 k2 k3; do
  curl -s "${KURL[$n]}/metrics" >"$T/$n.m0"
  cpu_ms "${KPID[$n]}" >"$T/$n.c0"
done
ecpu0=$(cpu_ms "$EMU_PID") busy0=$(busy_ticks) w0ms=$(now_ms)
pgstat() { # statements (transactions), WAL bytes, updates, HOT updates
  sql "SELECT d.xact_commit + d.xact_rollback, pg_current_wal_lsn() - '0/0',
    t.n_tup_upd, t.n_tup_hot_upd FROM pg_stat_database d, pg_stat_user_tables t
    WHERE d.datname = 'mgcall' AND t.relname = 'mgcall_calls'" | tr '|' ' '
}
sleep 1 # the statistics collector's last report
read -r x0 w0 u0 h0 <<<"$(pgstat)"
sleep $((secs - warm))
for n in k1 k2 k3; do
  curl -s "${KURL[$n]}/metrics" >"$T/$n.m1"
  cpu_ms "${KPID[$n]}" >"$T/$n.c1"
done
ecpu1=$(cpu_ms "$EMU_PID") busy1=$(busy_ticks) w1ms=$(now_ms)
read -r x1 w1 u1 h1 <<<"$(pgstat)"
k=$(( $(kas "$T"/k?.m1) - $(kas "$T"/k?.m0) ))
for n in k1 k2 k3; do
  paste <(hist "$T/$n.m1") <(hist "$T/$n.m0") | awk '{ print $1, $2 - $4 }' >"$T/$n.h"
done
paste "$T/k1.h" "$T/k2.h" "$T/k3.h" | awk '{ print $1, $2 + $4 + $6 }' >"$T/hwin"
stats=$(curl -s "$EMU/_emulator/stats")
echo "fleet: keepAlives in the measured $((secs - warm)) s: $k; ended by timeout: $(jq .endedByTimeout <<<"$stats")"
echo "fleet: lateness p50 $(quantile 0.5 <"$T/hwin"), p99 $(quantile 0.99 <"$T/hwin"), p99.9 $(quantile 0.999 <"$T/hwin")"
echo "fleet: maxKeepAliveGapMs $(jq -r '.maxKeepAliveGapMs // "n/a (this emulator does not report it)"' <<<"$stats")"
awk -v x=$((x1 - x0)) -v w=$((w1 - w0)) -v k="$k" 'BEGIN {
  printf "fleet: PostgreSQL %.4f statements and %.0f WAL bytes per keepAlive (%d statements, %d WAL bytes)\n",
    k ? x / k : 0, k ? w / k : 0, x, w }'
awk -v u=$((u1 - u0)) -v h=$((h1 - h0)) 'BEGIN {
  printf "fleet: HOT updates of mgcall_calls in the window: %d of %d (%.1f%%)\n", h, u, u ? 100 * h / u : 0 }'
echo "fleet: since the start (registration claims included): $(sql "SELECT n_tup_hot_upd || ' of ' || n_tup_upd FROM pg_stat_user_tables WHERE relname = 'mgcall_calls'")"
kcpu=0
for n in k1 k2 k3; do kcpu=$((kcpu + $(cat "$T/$n.c1") - $(cat "$T/$n.c0"))); done
awk -v c="$kcpu" -v e=$((ecpu1 - ecpu0)) -v k="$k" 'BEGIN {
  printf "fleet: CPU per keepAlive: keepers %.0f us, emulator %.0f us\n", k ? c * 1000 / k : 0, k ? e * 1000 / k : 0 }'
busy_report fleet "$busy0" "$busy1" $((w1ms - w0ms))
for n in k1 k2 k3; do
  echo "fleet: $n RSS $(( $(rss_kib "${KPID[$n]}") / 1024 )) MiB, $(sql "SELECT count(*) FROM mgcall_shards WHERE owner = '$n'") shards"
done

victim=$(sql "SELECT s.owner FROM mgcall_calls c JOIN mgcall_shards s USING (shard)
  WHERE c.state = 'active' GROUP BY s.owner ORDER BY count(*) DESC LIMIT 1")
held=$(sql "SELECT count(*) FROM mgcall_calls c JOIN mgcall_shards s USING (shard)
  WHERE s.owner = '$victim' AND c.state = 'active'")
sql "SELECT shard FROM mgcall_shards WHERE owner = '$victim'" | paste -sd, - >"$T/vshards"
ka_before0=$(jq .keepAlives <<<"$(curl -s "$EMU/_emulator/stats")")
sleep 60
ka_before=$(( $(jq .keepAlives <<<"$(curl -s "$EMU/_emulator/stats")") - ka_before0 ))
t0=$(now_ms)
{
  kill -KILL "${KPID[$victim]}"
  wait "${KPID[$victim]}"
} 2>/dev/null || true
adopted_ms= caught_ms= emu_caught_ms= ka_kill=$(jq .keepAlives <<<"$(curl -s "$EMU/_emulator/stats")") ka_after=
for _ in $(seq 1200); do
  now=$(now_ms)
  if [ -z "$ka_after" ] && [ $((now - t0)) -ge 60000 ]; then
    ka_after=$(( $(jq .keepAlives <<<"$(curl -s "$EMU/_emulator/stats")") - ka_kill ))
  fi
  if [ -z "$adopted_ms" ] && [ "$(sql "SELECT count(*) FROM mgcall_shards WHERE shard IN ($(cat "$T/vshards"))
      AND owner <> '$victim' AND expires_at > now()")" = "$(tr ',' '\n' <"$T/vshards" | wc -l)" ]; then
    adopted_ms=$((now - t0))
  fi
  if [ -n "$adopted_ms" ] && [ -z "$caught_ms" ] && [ "$(sql "SELECT count(*) FROM mgcall_calls WHERE state = 'active'
      AND shard IN ($(cat "$T/vshards")) AND last_success_ms < $now - 67000")" = 0 ]; then
    caught_ms=$((now - t0))
  fi
  # the emulator's view: no live call without a keepAlive for more than
  # the interval plus 7 s (its longest open gap)
  if [ -n "$adopted_ms" ] && [ -z "$emu_caught_ms" ] &&
    [ "$(jq .openKeepAliveGapMs <<<"$(curl -s "$EMU/_emulator/stats")")" -lt 67000 ]; then
    emu_caught_ms=$((now - t0))
  fi
  [ -n "$caught_ms" ] && [ -n "$emu_caught_ms" ] && [ -n "$ka_after" ] && break
  sleep 0.25
done
stats=$(curl -s "$EMU/_emulator/stats")
echo "fleet: kill -9 of $victim ($held calls): shards all taken after ${adopted_ms:-never} ms, no call overdue after ${emu_caught_ms:-never} ms as the emulator sees it (no live call without a keepAlive for 67 s), ${caught_ms:-never} ms in the database (last_success_ms, written in batches) (lease TTL 30 s)"
echo "fleet: calls lost (ended by timeout): $(jq .endedByTimeout <<<"$stats"); keepAlives in the minute before the kill $ka_before, in the minute after $ka_after (excess: duplicates)"
echo "fleet: maxKeepAliveGapMs after the kill $(jq -r '.maxKeepAliveGapMs // "n/a"' <<<"$stats")"
for n in k1 k2 k3; do
  [ "$n" = "$victim" ] || kill -TERM "${KPID[$n]}"
done
for n in k1 k2 k3; do wait "${KPID[$n]}" 2>/dev/null || true; done

echo "-- peer: the same $ncalls calls, one keeper on SQLite, ${secs}s"
start_keeper sq --store "sqlite:$T/k.db" --interval 60s --deadline 180s --concurrency 256 "${AUTH[@]}"
before=$(jq .endedByTimeout <<<"$(curl -s "$EMU/_emulator/stats")")
register_ids "${KURL[sq]}"
echo "sqlite: registered $ncalls calls in $reg_ms ms"
sleep "$warm"
curl -s "${KURL[sq]}/metrics" >"$T/sq.m0"
kcpu0=$(cpu_ms "${KPID[sq]}") ecpu0=$(cpu_ms "$EMU_PID") busy0=$(busy_ticks) w0ms=$(now_ms)
sleep $((secs - warm))
curl -s "${KURL[sq]}/metrics" >"$T/sq.m1"
kcpu1=$(cpu_ms "${KPID[sq]}") ecpu1=$(cpu_ms "$EMU_PID") busy1=$(busy_ticks) w1ms=$(now_ms)
paste <(hist "$T/sq.m1") <(hist "$T/sq.m0") | awk '{ print $1, $2 - $4 }' >"$T/sq.h"
stats=$(curl -s "$EMU/_emulator/stats")
echo "sqlite: keepAlives in the measured $((secs - warm)) s: $(( $(kas "$T/sq.m1") - $(kas "$T/sq.m0") )); ended by timeout during its run: $(( $(jq .endedByTimeout <<<"$stats") - before ))"
echo "sqlite: lateness p50 $(quantile 0.5 <"$T/sq.h"), p99 $(quantile 0.99 <"$T/sq.h"), p99.9 $(quantile 0.999 <"$T/sq.h")"
echo "sqlite: RSS $(( $(rss_kib "${KPID[sq]}") / 1024 )) MiB"
awk -v c=$((kcpu1 - kcpu0)) -v e=$((ecpu1 - ecpu0)) -v k=$(( $(kas "$T/sq.m1") - $(kas "$T/sq.m0") )) 'BEGIN {
  printf "sqlite: CPU per keepAlive: keeper %.0f us, emulator %.0f us\n", k ? c * 1000 / k : 0, k ? e * 1000 / k : 0 }'
busy_report sqlite "$busy0" "$busy1" $((w1ms - w0ms))
