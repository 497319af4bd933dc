#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/soak.sh [BUILD_DIR] - chaos soak of the keeper against the emulator
# (issue 8): one keeper, CALLS calls (20,000), --interval 20s --deadline 60s
# against the emulator's 60 s inactivity timeout, for DURATION seconds (600),
# with, all during the run:
#   - 30% faults on Graph: 429 (Retry-After 2), 503, 504, connection resets,
#     2 s latency (one kind in five each), from --seed SEED;
#   - a Graph outage of 30 s at OUTAGE_AT (the emulator stopped with SIGTERM
#     and started again on the same port with the same --state);
#   - kill -9 of the keeper every 90 s, restarted at once on the same store;
#   - the token endpoint failing (503) for 20 s at TOKEN_AT, a keeper restart
#     inside that window (it must get its first token through it);
#   - a remote hang-up of one call every 3 s (ends, so hooks run).
# Then faults off, SETTLE seconds, and the report: calls lost, the emulator's
# longest keepAlive gap, hooks run vs calls ended, the keeper's and the
# emulator's RSS and fd count at start and end.  Loopback only; every loop is
# bounded; everything it started is stopped on exit.  Run it with nice.
# KEEPER_OPTS adds keeper options (for example "--concurrency 256").
set -euo pipefail
BUILD=${1:-build}
MGCALL=$(cd "$BUILD" && pwd)/src/mgcall
CALLS=${CALLS:-20000}
DURATION=${DURATION:-600}
SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}
OUTAGE_AT=${OUTAGE_AT:-200}
TOKEN_AT=${TOKEN_AT:-355}
SETTLE=${SETTLE:-60}
KILL_EVERY=${KILL_EVERY:-90}
# Extra keeper options (none: in-flight requests sized by demand, issue 15).
KEEPER_OPTS=${KEEPER_OPTS:-}
T=$(mktemp -d "${TMPDIR:-/tmp}/mgcall-soak.XXXXXX")
EMU_PID= K_PID=
cleanup() {
  [ -n "$K_PID" ] && kill -9 "$K_PID" 2>/dev/null
  [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null
  wait 2>/dev/null || true
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
log() { printf '%s [t=%4ss] %s\n' "$(date -u +%H:%M:%S)" "$(($(date +%s) - ${T0:-$(date +%s)}))" "$*"; }
c() { curl -sS --noproxy '*' "$@"; }

printf 'soak-secret-%s' "$RANDOM$RANDOM" >"$T/secret"
chmod 600 "$T/secret"
cat >"$T/hook" <<HOOK
#!/bin/sh
echo "\$MGCALL_CALL_ID \$MGCALL_REASON" >>"$T/hooks.log"
HOOK
chmod +x "$T/hook"

emu_start() { # emu_start ADDR:PORT
  : >"$T/emu.out"
  "$MGCALL" emulator --listen "$1" --client "soak-app:@$T/secret" \
    --inactivity-timeout 60s --establish-delay 10ms --retention 1h \
    --max-calls 1000000 --threads 8 --seed "$SEED" --state "$T/emu.state" \
    >"$T/emu.out" 2>>"$T/emu.err" </dev/null &
  EMU_PID=$!
  local i
  for i in $(seq 300); do
    EMU=$(sed -n 's/^mgcall emulator: listening on //p' "$T/emu.out")
    [ -n "$EMU" ] && return 0
    sleep 0.1
  done
  echo "soak: the emulator did not start" >&2
  cat "$T/emu.err" >&2
  exit 1
}
faults_on() {
  c -o /dev/null -X PUT "$EMU/_emulator/faults" -H 'Content-Type: application/json' \
    -d "{\"rate\":0.3,\"statuses\":[429,503,504,\"reset\",\"slow\"],\"slowLatency\":\"2s\",\"retryAfter\":2,\"seed\":$SEED}"
}
K_N=0
keeper_start() {
  K_N=$((K_N + 1))
  local before
  before=$(grep -c 'control API on port' "$T/keeper.err" 2>/dev/null || true)
  "$MGCALL" keeper run --listen 127.0.0.1:0 --store "sqlite:$T/keeper.db" \
    --interval 20s --deadline 60s $KEEPER_OPTS --on-ended "$T/hook" \
    --tenant-id soak --client-id soak-app --client-secret-file "$T/secret" \
    --authority-url "$EMU" --graph-url "$EMU" --no-token-cache \
    >>"$T/keeper.out" 2>>"$T/keeper.err" </dev/null &
  K_PID=$!
  local i port
  for i in $(seq 600); do
    port=$(grep -o 'control API on port [0-9]*' "$T/keeper.err" 2>/dev/null |
      sed -n "$((${before:-0} + 1))p" | grep -o '[0-9]*$' || true)
    if [ -n "$port" ]; then
      K_URL="http://127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  echo "soak: the keeper did not start" >&2
  tail -20 "$T/keeper.err" >&2
  exit 1
}
rss_fd() { # rss_fd PID: "RSS_KiB FDS"
  echo "$(awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0) $(ls "/proc/$1/fd" 2>/dev/null | wc -l)"
}

emu_start 127.0.0.1:0
EMU_ADDR=${EMU#http://}
log "emulator at $EMU, fault seed $SEED"
keeper_start
log "keeper $K_N at $K_URL"

# ---- the calls: created in bulk, each chunk registered at once -------------
: >"$T/ids"
left=$CALLS
while [ "$left" -gt 0 ]; do
  n=$((left < 1000 ? left : 1000))
  c -X POST "$EMU/_emulator/calls" -H 'Content-Type: application/json' \
    -d "{\"count\":$n,\"tenantId\":\"soak\",\"callbackUri\":\"http://127.0.0.1:9/cb\"}" |
    jq -r '.ids[]' >"$T/chunk"
  jq -Rn '[inputs | {callId: ., tenantId: "soak"}]' <"$T/chunk" >"$T/chunk.json"
  code=$(c -o /dev/null -w '%{http_code}' -X POST "$K_URL/calls" \
    -H 'Content-Type: application/json' --data-binary "@$T/chunk.json")
  [ "$code" = 201 ] || { echo "soak: POST /calls answered $code" >&2; exit 1; }
  cat "$T/chunk" >>"$T/ids"
  left=$((left - n))
done
log "$(wc -l <"$T/ids") calls created and registered"
faults_on
T0=$(date +%s)
log "faults on: 30% (429, 503, 504, reset, 2 s slow), seed $SEED"
sleep 15
read -r k_rss0 k_fd0 <<<"$(rss_fd "$K_PID")"
read -r e_rss0 e_fd0 <<<"$(rss_fd "$EMU_PID")"
log "start: keeper RSS ${k_rss0} KiB, $k_fd0 fds; emulator RSS ${e_rss0} KiB, $e_fd0 fds"
echo "incarnation start_rss_kib start_fds end_rss_kib end_fds" >"$T/keepers"
k_start_line="$k_rss0 $k_fd0"

next_kill=$KILL_EVERY outage_done=0 token_done=0 hangups=0 next_hang=0
while :; do
  now=$(($(date +%s) - T0))
  [ "$now" -ge "$DURATION" ] && break
  if [ "$now" -ge "$next_kill" ]; then
    read -r r f <<<"$(rss_fd "$K_PID")"
    echo "$K_N $k_start_line $r $f" >>"$T/keepers"
    kill -9 "$K_PID"
    wait "$K_PID" 2>/dev/null || true
    keeper_start
    log "kill -9, keeper $K_N at $K_URL (the previous one: RSS $r KiB, $f fds)"
    next_kill=$((next_kill + KILL_EVERY))
    sleep 10
    k_start_line=$(rss_fd "$K_PID")
  fi
  if [ "$outage_done" = 0 ] && [ "$now" -ge "$OUTAGE_AT" ]; then
    read -r e_rss_mid e_fd_mid <<<"$(rss_fd "$EMU_PID")"
    kill "$EMU_PID"
    wait "$EMU_PID" 2>/dev/null || true
    log "Graph outage: emulator stopped (RSS $e_rss_mid KiB, $e_fd_mid fds)"
    sleep 30
    emu_start "$EMU_ADDR"
    faults_on
    log "emulator back on $EMU (same --state)"
    outage_done=1
  fi
  if [ "$token_done" = 0 ] && [ "$now" -ge "$TOKEN_AT" ]; then
    c -o /dev/null -X PUT "$EMU/_emulator/faults" -H 'Content-Type: application/json' \
      -d '{"tokenOutage":"20s"}'
    log "token endpoint failing for 20 s"
    token_done=1
  fi
  if [ "$now" -ge "$next_hang" ]; then
    id=$(shuf -n 1 "$T/ids")
    code=$(c -o /dev/null -w '%{http_code}' -X DELETE "$EMU/_emulator/calls/$id" || true)
    [ "$code" = 204 ] && { hangups=$((hangups + 1)); echo "$id" >>"$T/hungup"; }
    next_hang=$((now + 3))
  fi
  sleep 1
done
log "end of the chaos: faults off, $SETTLE s to settle"
c -o /dev/null -X PUT "$EMU/_emulator/faults" -H 'Content-Type: application/json' \
  -d '{"rate":0,"tokenOutage":"0s"}'
sleep "$SETTLE"
read -r k_rss1 k_fd1 <<<"$(rss_fd "$K_PID")"
read -r e_rss1 e_fd1 <<<"$(rss_fd "$EMU_PID")"
echo "$K_N $k_start_line $k_rss1 $k_fd1" >>"$T/keepers"
c "$EMU/_emulator/stats" >"$T/stats.json"
c "$K_URL/metrics" >"$T/metrics.txt"
kill "$K_PID"
wait "$K_PID" 2>/dev/null || true
K_PID=

q() { sqlite3 "$T/keeper.db" "$1"; }
lost=$(q "select count(*) from calls where state = 'lost'")
ended=$(q "select count(*) from calls where state = 'ended'")
live=$(q "select count(*) from calls where state in ('active','at-risk')")
hooks=$(awk '{print $1}' "$T/hooks.log" 2>/dev/null | sort -u | wc -l)
hook_runs=$(wc -l <"$T/hooks.log" 2>/dev/null || echo 0)
emu_timeouts=$(jq .endedByTimeout "$T/stats.json")
echo
echo "=== soak: $CALLS calls, ${DURATION}s, seed $SEED, $K_N keeper runs ($((K_N - 1)) kill -9)"
echo "calls lost (keeper state lost):          $lost"
echo "calls ended by the emulator's timeout:   $emu_timeouts"
echo "emulator's longest keepAlive gap:        $(jq .maxKeepAliveGapMs "$T/stats.json") ms"
echo "calls hung up remotely:                  $hangups"
echo "calls ended + lost (store):              $ended + $lost = $((ended + lost))"
echo "calls with a hook run:                   $hooks ($hook_runs runs; goal: ended + lost)"
echo "calls live at the end (store):           $live"
echo "emulator: keepAlives $(jq .keepAlives "$T/stats.json"), faults $(jq .faultsInjected "$T/stats.json"), tokens $(jq .tokensIssued "$T/stats.json")"
echo "emulator RSS/fds: start $e_rss0 KiB / $e_fd0, end (after the restart) $e_rss1 KiB / $e_fd1"
echo "keeper RSS/fds per run (start = 10-15 s after start, end = at the kill):"
column -t "$T/keepers"
echo "keeper: $(grep -c ' error ' "$T/keeper.err" || true) error lines, $(grep -c 'lost (reason' "$T/keeper.err" || true) 'lost' lines"
[ -n "${KEEP_TMP:-}" ] && echo "files kept in $T"
exit 0
