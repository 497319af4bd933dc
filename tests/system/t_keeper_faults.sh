#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keeper_faults.sh - the emulator answers 30% of Graph requests with 429
# (Retry-After) or 503: the keeper retries before each call's deadline and
# no call expires; a failing hook and an unreachable hook URL never stop
# keepAlives; the metrics count the faults and retries.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
t_side_by_side h2tls

k_emulator --inactivity-timeout $((3 * T_SCALE))s || { t_done; exit 1; }
cat >"$T/hook" <<HOOK
#!/bin/sh
echo "\$MGCALL_CALL_ID" >>"$T/hook.log"
exit 1
HOOK
chmod +x "$T/hook"
k_start --interval "${T_SCALE}s" --deadline $((3 * T_SCALE))s --on-ended "$T/hook" --hook-retries 2 \
  --hook-timeout 2s --on-ended-url http://127.0.0.1:9/unreachable \
  "${KAUTH[@]}" || { t_done; exit 1; }
t_ok 'k_calls_tracked 40 "$T/ids"' "40 calls registered"

# End one call at once so its failing hooks run while the others go on.
first=$(head -1 "$T/ids")
t_expect_exit 0 "remove one call" -- "$MGCALL" keeper remove "$first"
t_eq "$(k_hangup "$first")" 204 "and hang it up, as the bot would"

# Faults on (at run time, so creating the calls did not fail).
code=$(t_curl -o "$T/faults" -w '%{http_code}' -X PUT "$EMU_URL/_emulator/faults" \
  -H 'Content-Type: application/json' \
  -d "{\"rate\":0.3,\"statuses\":[429,503],\"seed\":$T_SEED}")
t_eq "$code" 200 "emulator faults set to 30% (429, 503), seed $T_SEED"

# Five inactivity timeouts (bounded wait on the emulator's counter).
t_wait 30 '[ "$(k_stats keepAlives)" -ge 200 ]' \
  "200 keepAlives answered 200 (five timeouts of 39 calls)"
t_wait 30 '[ "$(k_stats faultsInjected)" -ge 50 ]' "50 faults injected"
t_eq "$(k_stats endedByTimeout)" 0 "30% faults: no call ended by timeout"
t_eq "$(k_stats callsActive)" 39 "39 calls still live in the emulator"
t_eq "$(k_live_count)" 39 "the keeper holds 39 live calls"
t_eq "$(k_metric 'mgcall_keeper_calls{state="lost"}')" 0 "no call lost"
faults=$(k_stats faultsInjected)
t_ok '[ "$faults" -gt 0 ]' "faults were injected ($faults)"
# Faults off: once the answers in flight have landed, every failed
# keepAlive (none was lost) was rescheduled exactly once.
code=$(t_curl -o /dev/null -w '%{http_code}' -X PUT "$EMU_URL/_emulator/faults" \
  -H 'Content-Type: application/json' -d '{"rate":0}')
t_eq "$code" 200 "emulator faults off"
# failures_vs_retries: "FAILED RETRIES" from one GET /metrics (FAILED is
# every keepAlive answer but 200 and 404).
failures_vs_retries() {
  curl -sS --noproxy '*' "$K_URL/metrics" | awk '
    /^mgcall_keeper_keepalives_total\{/ && !/status="(200|404)"/ { f += $2 }
    /^mgcall_keeper_retries_total / { r = $2 }
    END { print f + 0, r + 0 }'
}
retries_match() { failures_vs_retries | awk '{ exit !($1 == $2) }'; }
t_wait 10 retries_match "metrics: one retry per failed keepAlive" ||
  echo "  failed, retries: $(failures_vs_retries)" >&2
k429=$(k_metric 'mgcall_keeper_keepalives_total{status="429"}')
k503=$(k_metric 'mgcall_keeper_keepalives_total{status="503"}')
t_ok '[ "${k429:-0}" -gt 0 ] && [ "${k503:-0}" -gt 0 ]' \
  "metrics count 429 ($k429) and 503 ($k503)"

# The hooks failed (exit 1, unreachable URL), were retried, never blocked.
t_wait 20 '[ "$(k_metric "mgcall_keeper_hook_runs_total{kind=\"url\",result=\"failed\"}")" = 3 ]' \
  "the URL hook was tried 3 times"
t_eq "$(wc -l <"$T/hook.log")" 3 "failing command hook: 1 try + 2 retries"
t_eq "$(k_metric 'mgcall_keeper_hook_runs_total{kind="command",result="failed"}')" 3 \
  "metrics: 3 failed command runs"
t_eq "$(k_metric 'mgcall_keeper_hook_runs_total{kind="url",result="failed"}')" 3 \
  "metrics: 3 failed URL posts"
t_grep "$T/keeper.err" 'on-ended failed 3 times: giving up' "hook failure logged"
t_eq "$(k_stats endedByTimeout)" 0 "still none ended by timeout"
gap=$(k_stats maxKeepAliveGapMs)
timeout_ms=$((3000 * T_SCALE))
echo "# emulator maxKeepAliveGapMs: $gap ms (inactivity timeout $timeout_ms ms)"
t_ok '[ "$gap" -lt "$timeout_ms" ]' \
  "no call, live or ended, went the inactivity timeout without a keepAlive"
# the keeper's token requests: all the emulator issued but the test's own
t_eq "$(k_metric mgcall_keeper_token_refreshes_total)" "$(($(k_stats tokensIssued) - 1))" \
  "metrics: token requests match the emulator's tokensIssued"
if [ "$T_FAILS" -gt 0 ]; then # diagnostics
  for id in $(grep -oE 'call [0-9a-f-]+: ended \(reason (not-found|lost)' "$T/keeper.err" |
    awk '{print $2}' | tr -d :); do
    echo "--- $id" >&2
    grep "$id" "$T/keeper.err" | head -20 >&2
    t_curl "$EMU_URL/_emulator/calls" | jq -c ".value[]? | select(.id == \"$id\")" >&2
  done
  grep -c . "$T/add.err" >&2
  uptime >&2
fi
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"
t_done
