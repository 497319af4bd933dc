#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keeper_tokens.sh - the keeper refreshes its token ahead of expiry while
# no keepAlive is due, so keepAlives never stall behind a token request or
# meet an expired token: with 314 s emulator tokens (margin
# min(10 min, (314 + 301) / 2) = 307 s, a refresh about every 8 s, before
# the library's own 5-minute on-demand refresh at 14 s) every token request
# after the first is a proactive one, no keepAlive gets a 401, and
# mgcall_keeper_token_refreshes_total equals the emulator's count of issued
# tokens.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
t_side_by_side h2tls

k_emulator --inactivity-timeout 3s --token-lifetime 314s || { t_done; exit 1; }
k_start --interval 1s --deadline 3s "${KAUTH[@]}" || { t_done; exit 1; }
t_ok 'k_calls_tracked 5 "$T/ids"' "5 calls registered"
# the test itself took one token (k_emulator); the rest are the keeper's
base=1

ahead() { grep -c 'refreshed ahead of expiry' "$T/keeper.err"; }
two_ahead() { [ "$(ahead)" -ge 2 ]; }
t_wait 40 two_ahead "the keeper refreshed its token ahead of expiry twice"
t_grep "$T/keeper.err" \
  'token for tenant tenant-k refreshed ahead of expiry \(under 307 s left; the new one: 3[0-9]{2} s left, lifetime 314 s\)' \
  "with the 307 s margin (about 307 s left)"
t_eq "$(t_curl "$EMU_URL/_emulator/stats" | jq '.requestsByStatus["401"] // 0')" 0 \
  "no request answered 401"
t_eq "$(k_metric 'mgcall_keeper_keepalives_total{status="401"}')" "" \
  "no keepAlive got a 401"
t_ok '[ "$(k_stats keepAlives)" -ge 20 ]' \
  "keepAlives went on ($(k_stats keepAlives))"
t_eq "$(k_stats endedByTimeout)" 0 "no call ended by the emulator"
t_eq "$(k_live_count)" 5 "all 5 calls live"
# The metric against the emulator's count: read both until a refresh is not
# in between (one about every 8 s).
metric_matches() {
  [ "$(k_metric mgcall_keeper_token_refreshes_total)" = "$(($(k_stats tokensIssued) - base))" ]
}
t_wait 5 metric_matches \
  "mgcall_keeper_token_refreshes_total counts the keeper's token requests"
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"
# Stopped: the emulator's count and the keeper's log are final.
issued=$(k_stats tokensIssued)
n=$(ahead)
t_eq "$((issued - base))" "$((n + 1))" \
  "every token request but the first was a proactive refresh ($issued issued, $n ahead)"
t_done
