#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/status_page.sh - the keeper's status page (GET /) at scale
# (loopback only, stops by itself): STATUS_BENCH_CALLS (1000000) live calls
# in memory and as many ended calls, each with a hook job, in the store (no
# Graph traffic: last success just now, --interval 1h).  Times GET / (the
# median and the slowest of STATUS_BENCH_RUNS, 20) against, in the same
# run, GET /metrics (the same counts by state and least time left) and
# GET /calls?limit=25 (a page from the store); the page's size, the
# keeper's start (loading the calls) and resident memory.  With
# PEER_MGCALL=/path/to/mgcall (another build, e.g. the previous commit's)
# the same store is timed with it too, in the same run: the peer.
set -euo pipefail
: "${MGCALL:?MGCALL must name the mgcall binary}"
n=${STATUS_BENCH_CALLS:-1000000}
runs=${STATUS_BENCH_RUNS:-20}
for tool in curl sqlite3 awk sort; do
  command -v "$tool" >/dev/null || { echo "bench/status_page.sh: $tool is missing" >&2; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/mgcall-bench.XXXXXX")
KPID=
cleanup() {
  [ -n "$KPID" ] && kill "$KPID" 2>/dev/null && wait "$KPID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

start_keeper() { # [BINARY]: sets KPID, KURL, KSTART (ms to the API)
  : >"$T/keeper.err"
  local t0
  t0=$(date +%s%3N)
  "${1:-$MGCALL}" keeper run --listen 127.0.0.1:0 --store "sqlite:$T/big.db" \
    --interval 1h --deadline 3h --access-token-file "$T/token" \
    --graph-url http://127.0.0.1:9 2>>"$T/keeper.err" >/dev/null </dev/null &
  KPID=$!
  local port=
  for _ in $(seq 1200); do
    port=$(grep -o 'control API on port [0-9]*' "$T/keeper.err" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$T/keeper.err" >&2; exit 1; }
  KURL="http://127.0.0.1:$port"
  KSTART=$(($(date +%s%3N) - t0))
}
stop_keeper() { kill -TERM "$KPID"; wait "$KPID" || true; KPID=; }

# ms of RUNS requests to URL: "median max bytes"
timing() {
  local i
  for i in $(seq "$runs"); do
    curl -s --noproxy '*' -o "$T/answer" -w '%{time_total}\n' "$1"
  done | awk '{ printf "%d\n", $1 * 1000 }' | sort -n >"$T/times"
  echo "$(sed -n "$(( (runs + 1) / 2 ))p" "$T/times") $(tail -1 "$T/times") $(wc -c <"$T/answer")"
}

printf 'x\n' >"$T/token"
start_keeper # the schema
stop_keeper
now=$(date +%s%3N)
echo "-- $n live calls and $n ended calls with a hook job each in the store"
sqlite3 "$T/big.db" <<SQL
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $n)
INSERT INTO calls (call_id, state, added_ms, last_success_ms, next_due_ms)
  SELECT printf('%08x-0000-4000-8000-%012x', i, i), 'active', $now, $now - (i % 600000), $now + 3600000 FROM k;
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $n)
INSERT INTO calls (call_id, state, reason, added_ms, ended_ms)
  SELECT printf('%08x-0000-4000-8000-ended%07x', i, i), 'ended', 'removed', $now - 7200000, $now - i * 100 FROM k;
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $n)
INSERT INTO hook_jobs (event_id, kind, call_id, reason, state, attempts, created_ms, next_attempt_ms, done_ms)
  SELECT printf('ev-%d', i), 1, printf('%08x-0000-4000-8000-ended%07x', i, i), 'removed',
         CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'delivered' END, 1, $now - i * 100, $now - i * 100, $now - i * 100 FROM k;
SQL
# measure BINARY LABEL: the three requests on a keeper run by BINARY
measure() {
  start_keeper "$1"
  grep -o 'store: [0-9]* active' "$T/keeper.err" || true
  local rss
  rss=$(awk '/^VmRSS/ {printf "%d MiB", $2 / 1024}' "/proc/$KPID/status")
  read -r pm px pb < <(timing "$KURL/")
  read -r mm mx mb < <(timing "$KURL/metrics")
  read -r cm cx cb < <(timing "$KURL/calls?limit=25")
  echo "[$2] started in ${KSTART} ms, resident ${rss}"
  echo "[$2] GET /               median ${pm} ms, slowest ${px} ms, ${pb} bytes"
  echo "[$2] GET /metrics        median ${mm} ms, slowest ${mx} ms, ${mb} bytes"
  echo "[$2] GET /calls?limit=25 median ${cm} ms, slowest ${cx} ms, ${cb} bytes"
  stop_keeper
}
measure "$MGCALL" this
if [ -n "${PEER_MGCALL:-}" ]; then
  measure "$PEER_MGCALL" peer
fi
