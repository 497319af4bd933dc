#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keeper_keepalive.sh - the keeper against the real emulator at second
# scale (--interval 2s --deadline 6s vs --inactivity-timeout 6s, times T_SCALE in sanitizer builds): 200 calls
# kept alive for several timeouts with zero calls ended by timeout; a call
# hung up in the emulator is ended via 404 and the hook runs once with the
# right environment; SIGTERM exits 0 and the metrics match the emulator.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
t_side_by_side h2tls

# Seconds of one interval: 2 (times T_SCALE).  At 1 s (deadline and
# timeout 3 s) 4 of 200 calls expired under load 16 before their first
# keepAlive: creating a call, "keeper add" and its durable write took over
# 3 s (the emulator's clock runs from creation).
S=$((2 * T_SCALE))
k_emulator --inactivity-timeout $((3 * S))s || { t_done; exit 1; }
cat >"$T/hook" <<HOOK
#!/bin/sh
echo "id=\$MGCALL_CALL_ID tenant=\$MGCALL_TENANT_ID reason=\$MGCALL_REASON" >>"$T/hook.log"
HOOK
chmod +x "$T/hook"
k_start --interval "${S}s" --deadline $((3 * S))s --concurrency 32 --on-ended "$T/hook" \
  --log-format json "${KAUTH[@]}" || { t_done; exit 1; }
t_ok 'k_calls_tracked 200 "$T/ids"' \
  "200 calls created in the emulator and registered (keeper add -)" ||
  cat "$T/add.err" >&2
t_eq "$(wc -l <"$T/ids")" 200 "200 ids"
t_eq "$(grep -c 'added 10, already tracked 0' "$T/add.err")" 20 "20 bulk adds of 10"

# Past the inactivity timeout: wait until the calls have had 4, then 5
# keepAlives each on average (4 to 5 intervals: 1.3 to 1.7 timeouts).
t_wait 30 '[ "$(k_stats keepAlives)" -ge 800 ]' "800 keepAlives"
t_eq "$(k_stats endedByTimeout)" 0 "no call ended by the emulator's timeout"
t_eq "$(k_stats callsActive)" 200 "200 calls live in the emulator"
t_eq "$(k_live_count)" 200 "the keeper holds 200 live calls"
t_wait 20 '[ "$(k_stats keepAlives)" -ge 1000 ]' "1000 keepAlives"
t_eq "$(k_stats endedByTimeout)" 0 "still none ended by timeout (5 intervals)"
gap=$(k_stats maxKeepAliveGapMs)
timeout_ms=$((3000 * S))
echo "# emulator maxKeepAliveGapMs: $gap ms (inactivity timeout $timeout_ms ms)"
t_ok '[ "$gap" -lt "$timeout_ms" ]' \
  "no call, live or ended, went the inactivity timeout without a keepAlive"

# Hang one up: the next keepAlive gets 404 -> ended, hook once.
gone=$(sed -n 7p "$T/ids")
t_eq "$(k_hangup "$gone")" 204 "hang-up in the emulator"
t_wait 10 '[ "$(k_state "$gone")" = ended ]' "hung-up call ended"
t_eq "$(curl -s "$K_URL/calls/$gone" | jq -r .reason)" not-found "reason not-found"
t_wait 10 '[ -s "$T/hook.log" ]' "the hook ran"
t_eq "$(cat "$T/hook.log")" "id=$gone tenant=tenant-k reason=not-found" \
  "hook ran with MGCALL_CALL_ID, MGCALL_TENANT_ID, MGCALL_REASON"
t_grep "$T/keeper.err" "\"callId\":\"$gone\".*\"requestId\":\"[0-9a-f-]+\"" \
  "json log line with the call id and request id"
t_eq "$(k_metric 'mgcall_keeper_calls{state="ended"}')" 1 "metrics: 1 ended"
t_eq "$(k_metric 'mgcall_keeper_calls_ended_total{reason="not-found"}')" 1 \
  "metrics: ended by not-found"
t_eq "$(k_metric 'mgcall_keeper_hook_runs_total{kind="command",result="ok"}')" 1 \
  "metrics: one hook run"

# The keeper's counters against what the emulator saw.  The keeper counts a
# keepAlive when its answer arrives, the emulator when the request does, and
# the keeper keeps sending while we read, so no two reads are one instant:
# read the emulator, then the keeper, then the emulator again.  Then
#   emulator(before) <= keeper + in flight (--concurrency 32), and
#   keeper - network failures (status 0, never seen) <= emulator(after).
emu_sum() {
  t_curl "$EMU_URL/_emulator/stats" | jq -r '.keepAlives + .keepAlivesNotFound'
}
emu_before=$(emu_sum)
curl -s "$K_URL/metrics" >"$T/metrics.txt"
emu_after=$(emu_sum)
keeper_ka=$(awk '/^mgcall_keeper_keepalives_total/ { n += $2 } END { print n }' "$T/metrics.txt")
keeper_s0=$(awk '/^mgcall_keeper_keepalives_total\{status="0"\}/ { n += $2 } END { print n + 0 }' "$T/metrics.txt")
t_ok '[ "$emu_before" -le $((keeper_ka + 32)) ]' \
  "keepAlives: emulator before $emu_before <= keeper $keeper_ka + 32 in flight"
t_ok '[ $((keeper_ka - keeper_s0)) -le "$emu_after" ]' \
  "keepAlives: keeper $keeper_ka - $keeper_s0 unanswered <= emulator after $emu_after"
t_eq "$(k_metric 'mgcall_keeper_keepalives_total{status="404"}')" \
  "$(k_stats keepAlivesNotFound)" "404s: keeper and emulator agree"
t_eq "$(k_metric 'mgcall_keeper_calls{state="active"}')" 199 "metrics: 199 active"

# SIGTERM: in-flight requests finish, exit 0, store flushed.
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"
t_grep "$T/keeper.err" '"msg":"stopped"' "stopped cleanly"
# The keeper ran every queued hook before it stopped: the log is final.
t_eq "$(cat "$T/hook.log")" "id=$gone tenant=tenant-k reason=not-found" \
  "the hook ran exactly once"
t_eq "$(sqlite3 "$K_DB" "select count(*) from calls where state in ('active','at-risk')")" \
  199 "199 live calls in the store"
t_eq "$(sqlite3 "$K_DB" "select count(*) from calls where last_success_ms > 0")" \
  200 "every call's last success is stored"
t_eq "$(k_stats endedByTimeout)" 0 "none ended by timeout"
t_done
