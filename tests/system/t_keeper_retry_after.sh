#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keeper_retry_after.sh - the keeper honours Graph's Retry-After on 429 and
# 503: the next attempt for that call comes no sooner than Retry-After
# (measured on the emulator's --record timestamps), and a Retry-After that
# reaches past the call's deadline is cut to the backoff's bound (logged)
# so the call is not lost.  Lower bounds only: robust on a loaded machine.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
t_side_by_side h2tls

REC="$T/rec.jsonl"
k_emulator --inactivity-timeout 30s --retry-after 2 --record "$REC" ||
  { t_done; exit 1; }
# deadline 12 s: guard 1.2 s, backoff 0.8 s, 1.6 s ... (below 2 s)
k_start --interval 2s --deadline 12s --jitter 0 -v "${KAUTH[@]}" ||
  { t_done; exit 1; }
t_ok 'k_calls_tracked 1 "$T/ids"' "1 call registered"
id=$(head -1 "$T/ids")

# keepAlive requests of the call as "epoch-ms status", in order.
attempts() {
  jq -r --arg id "$id" 'select(.path | endswith("/calls/" + $id + "/keepAlive"))
    | ((.time | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) * 1000
       + (.time | capture("\\.(?<ms>[0-9]+)Z$").ms | tonumber) | tostring)
      + " " + (.status | tostring)' "$REC"
}
# gap_after STATUS N: ms between the Nth answer STATUS and the next attempt.
gap_after() {
  attempts | awk -v s="$1" -v n="$2" '
    found { print $1 - t; exit }
    $2 == s && ++k == n { t = $1; found = 1 }'
}
# Conditions for the bounded waits.
has_gap() { [ -n "$(gap_after "$1" "$2")" ]; }
last_ok() { [ "$(attempts | tail -1 | awk '{print $2}')" = 200 ]; }

t_wait 15 last_ok "a first keepAlive answered 200"
# The next two keepAlives answer 429 then 503, both with Retry-After: 2.
code=$(t_curl -o /dev/null -w '%{http_code}' -X PUT "$EMU_URL/_emulator/faults" \
  -H 'Content-Type: application/json' -d '{"retryAfter":2,"sequence":[429,503]}')
t_eq "$code" 200 "faults: next answers 429, 503 with Retry-After 2"
t_wait 20 'has_gap 503 1' "an attempt after the 503"
g429=$(gap_after 429 1)
g503=$(gap_after 503 1)
t_ok '[ "${g429:-0}" -ge 1990 ]' \
  "after the 429 the next attempt waited Retry-After (${g429:-none} ms, Retry-After 2000 less 10 ms of clock rounding)"
t_ok '[ "${g503:-0}" -ge 1990 ]' \
  "after the 503 the next attempt waited Retry-After (${g503:-none} ms, Retry-After 2000 less 10 ms of clock rounding)"
t_grep "$T/keeper.err" "call $id: Retry-After 2000 ms: next attempt in" \
  "the keeper logs the wait it took"

# Retry-After 60 s > the 12 s deadline: cut to (time left - guard) / 2, so
# further retries still fit; logged; the call stays alive.
t_wait 10 last_ok "keepAlives answered 200 again"
code=$(t_curl -o /dev/null -w '%{http_code}' -X PUT "$EMU_URL/_emulator/faults" \
  -H 'Content-Type: application/json' -d '{"retryAfter":60,"sequence":[429]}')
t_eq "$code" 200 "faults: next answer 429 with Retry-After 60"
t_wait 30 'has_gap 429 2' "an attempt after the second 429"
g=$(gap_after 429 2)
t_ok '[ "${g:-0}" -ge 2000 ]' \
  "Retry-After beyond the deadline: waited past the backoff (${g:-none} ms)"
t_grep "$T/keeper.err" 'cut to half the time left before the deadline' \
  "logged as cut"
t_wait 10 last_ok "and that retry succeeded"
t_eq "$(k_state "$id")" active "the call is still active"
t_eq "$(k_metric 'mgcall_keeper_calls{state="lost"}')" 0 "no call lost"
t_eq "$(k_stats endedByTimeout)" 0 "none ended by the emulator"
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"
t_done
