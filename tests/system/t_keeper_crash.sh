#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keeper_crash.sh - kill -9 the keeper in mid-run five times and restart
# it on the same store: every registered call is still tracked and none
# expires in the emulator (--inactivity-timeout 6s, --deadline 6s, interval
# 1s: a restart on a loaded 2-core machine can take a second or two, and
# with a 3 s timeout that alone ended calls, which is not what this tests).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
t_side_by_side h2tls

k_emulator --inactivity-timeout $((6 * T_SCALE))s || { t_done; exit 1; }
KARGS=(--interval "${T_SCALE}s" --deadline $((6 * T_SCALE))s "${KAUTH[@]}")
k_start "${KARGS[@]}" || { t_done; exit 1; }
t_ok 'k_calls_tracked 60 "$T/ids"' "60 calls registered"

for round in 1 2 3 4 5; do
  # let it run about a second (bounded: until 60 more keepAlives arrived)
  before=$(k_stats keepAlives)
  t_wait 10 '[ "$(k_stats keepAlives)" -ge $((before + 60)) ]' \
    "round $round: 60 more keepAlives before the kill"
  k_stop KILL
  t_eq "$K_STATUS" 137 "round $round: killed with SIGKILL"
  k_start "${KARGS[@]}" || { t_done; exit 1; }
  t_grep "$T/keeper.err" "store: 60 active calls loaded" \
    "round $round: restart loads all 60 calls"
  t_eq "$(k_live_count)" 60 "round $round: 60 calls tracked"
done
# 8 s of keepAlives after the last restart (480 at 60 a second): a call
# the restarted keeper dropped got its last keepAlive before the kill, so
# the emulator has ended it by then (6 s inactivity timeout)
before=$(k_stats keepAlives)
t_wait 40 '[ "$(k_stats keepAlives)" -ge $((before + 480)) ]' \
    "480 more keepAlives after the last restart (8 s, past the inactivity timeout)"
t_eq "$(k_stats endedByTimeout)" 0 "no call expired across 5 crashes"
gap=$(k_stats maxKeepAliveGapMs)
timeout_ms=$((6000 * T_SCALE))
echo "# emulator maxKeepAliveGapMs: $gap ms (inactivity timeout $timeout_ms ms)"
t_ok '[ "$gap" -lt "$timeout_ms" ]' \
  "no call, live or ended, went the inactivity timeout without a keepAlive"
t_eq "$(k_stats callsActive)" 60 "60 calls live in the emulator"
t_eq "$(k_live_count)" 60 "60 calls tracked"
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"
t_eq "$(sqlite3 "$K_DB" "select count(*) from calls where state in ('active','at-risk')")" \
  60 "nothing lost in the store"
t_eq "$(sqlite3 "$K_DB" 'pragma integrity_check')" ok "store intact"
t_done
