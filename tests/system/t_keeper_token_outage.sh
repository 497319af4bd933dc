#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keeper_token_outage.sh - a tenant whose token endpoint hangs and fails
# delays no other tenant (issue 9): the keeper keeps calls of tenant-k and
# of tenant-b; tenant-b's token requests are answered after 6 s with a 503,
# again and again (the emulator's tenantFault), while tenant-k's calls keep
# their 1 s interval.  The gaps are measured between the keepAlives the
# emulator recorded (--record), call by call.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
t_side_by_side h2tls

k_emulator --inactivity-timeout 4s --record "$T/record.jsonl" ||
  { t_done; exit 1; }
tok_b=$(t_emulator_token tenant-b app-k "$(cat "$T/app-secret")") ||
  { t_fail "no token for tenant-b"; t_done; exit 1; }
: >"$T/k-ids"
: >"$T/regs"
for i in 1 2 3 4 5; do
  a=$(t_emulator_call "$EMU_TOKEN") && echo "$a" >>"$T/k-ids" &&
    echo "$a tenant-k" >>"$T/regs"
done
b=$(t_emulator_call "$tok_b") && echo "$b tenant-b" >>"$T/regs"
t_eq "$(wc -l <"$T/regs")" 6 "5 calls of tenant-k, 1 of tenant-b"
# From now on every token request of tenant-b hangs 6 s, then fails.
mark=$(wc -l <"$T/record.jsonl")
since_fault() { tail -n +"$((mark + 1))" "$T/record.jsonl"; }
t_curl -f -o /dev/null -X PUT -H 'Content-Type: application/json' \
  -d '{"tenantFault":{"tenant":"tenant-b","latency":"6s","status":503},"retryAfter":1}' \
  "$EMU_URL/_emulator/faults" || t_fail "cannot set the tenant fault"
t_eq "$(t_curl "$EMU_URL/_emulator/faults" | jq -c .tenantFault)" \
  '{"tenant":"tenant-b","latencyMs":6000,"status":503}' "tenantFault set"
k_start --interval 1s --deadline 4s "${KAUTH[@]}" || { t_done; exit 1; }
t_expect_exit 0 "register the calls" -- sh -c "'$MGCALL' keeper add - <'$T/regs'"
# Run until tenant-b's token endpoint has been asked 3 times (each answer
# takes 6 s: at least 12 s of outage, with the library's timer retries).
b_asked() {
  since_fault | grep -c '"path":"/tenant-b/oauth2/v2.0/token"'
}
t_wait 60 '[ "$(b_asked)" -ge 3 ]' "tenant-b's token endpoint asked 3 times"
active=0
while read -r id; do
  t_curl "$EMU_URL/_emulator/calls/$id" |
    jq -e '.id and .endedDateTime == null' >/dev/null && active=$((active + 1))
done <"$T/k-ids"
t_eq "$active" 5 "no call of tenant-k ended in the emulator"
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"
t_ok '[ "$(since_fault | grep "/tenant-b/oauth2" | jq -r .status | sort -u)" = 503 ]' \
  "tenant-b's token requests all failed (503)"
# Each tenant-k call: keepAlives and the longest gap between two, in ms.
jq -s --rawfile ids "$T/k-ids" '
  ($ids | split("\n") | map(select(length > 0))) as $k
  | map(select(.path | test("/keepAlive$")))
  | map({id: (.path | split("/")[4]),
         t: ((.time | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) * 1000
             + (.time | capture("\\.(?<ms>[0-9]{3})Z$").ms | tonumber))})
  | map(select(.id as $i | $k | index($i)))
  | group_by(.id)
  | map({id: .[0].id, n: length,
         gap: ([range(1; length) as $j | .[$j].t - .[$j - 1].t] | max)})' \
  <(since_fault) >"$T/gaps.json"
echo "tenant-k calls (keepAlives, longest gap in ms):"
jq -r '.[] | "  \(.id) \(.n) \(.gap)"' "$T/gaps.json"
t_eq "$(jq length "$T/gaps.json")" 5 "every tenant-k call was kept alive"
t_ok '[ "$(jq "map(.n) | min" "$T/gaps.json")" -ge 10 ]' \
  "each tenant-k call got a keepAlive about every second of the outage (at least 10 in its 14 s)"
max=$(jq 'map(.gap) | max' "$T/gaps.json")
t_ok '[ "$max" -lt 2000 ]' \
  "the longest gap between two keepAlives of a tenant-k call is under 2 s ($max ms; interval 1 s, tenant-b's token answers take 6 s)"
t_done
