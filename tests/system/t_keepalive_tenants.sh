#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keepalive_tenants.sh - `mgcall keep-alive` with ids of two tenants from
# stdin (JSON lines with a TenantId): each keepAlive goes with its own
# tenant's token, and a tenant whose token endpoint hangs 3 s and then fails
# (the emulator's tenantFault) delays no keepAlive of the other tenant
# (issue 9).  Timing from the emulator's --record.  On HTTP/1.1 (cleartext)
# and, side by side in the same run, on HTTP/2 (h2tls).
. "$(dirname "$0")/lib.sh"
t_side_by_side h2tls

printf 'ka-secret-%s' "$RANDOM$RANDOM" >"$T/secret"
chmod 600 "$T/secret"
t_emulator_start --client "app:@$T/secret" --record "$T/record.jsonl" ||
  { t_done; exit 1; }
AUTH=(--client-id app --client-secret-file "$T/secret" --tenant-id tenant-a
  --authority-url "$EMU_URL" --graph-url "$EMU_URL" --no-token-cache)
tok_a=$(t_emulator_token tenant-a app "$(cat "$T/secret")")
tok_b=$(t_emulator_token tenant-b app "$(cat "$T/secret")")
a1=$(t_emulator_call "$tok_a")
b1=$(t_emulator_call "$tok_b")

# Both tenants healthy: each id with its tenant's token (the emulator
# answers 401 to a token of another tenant than the call's).
printf '{"CallId":"%s","TenantId":"tenant-b"}\n{"CallId":"%s"}\n' "$b1" "$a1" \
  >"$T/in1"
mark=$(wc -l <"$T/record.jsonl")
t_expect_exit 0 "ids of two tenants, each with its own token" -- \
  sh -c "'$MGCALL' keep-alive ${AUTH[*]} <'$T/in1'"
t_ok '[ "$(tail -n +"$((mark + 1))" "$T/record.jsonl" | grep -c "/tenant-b/oauth2")" -eq 1 ]' \
  "one token request for tenant-b"
# Bad TenantId values are usage errors of their line.
printf '{"CallId":"x","TenantId":""}\n{"CallId":"y","TenantId":7}\n' >"$T/bad"
t_expect_exit 2 "an empty or non-string TenantId is refused" -- \
  sh -c "'$MGCALL' keep-alive ${AUTH[*]} <'$T/bad'"

# tenant-b's token endpoint: 3 s, then 503, every time (three attempts:
# 3 + 1 + 3 + 1 + 3 s; the other tenant's keepAlives must not wait 3 s).
t_curl -f -o /dev/null -X PUT -H 'Content-Type: application/json' \
  -d '{"tenantFault":{"tenant":"tenant-b","latency":"3s","status":503},"retryAfter":1}' \
  "$EMU_URL/_emulator/faults" || t_fail "cannot set the tenant fault"
: >"$T/ids"
{
  printf '{"CallId":"%s","TenantId":"tenant-b"}\n' "$(t_emulator_call "$tok_b")"
  for i in 1 2 3 4 5 6 7 8; do
    id=$(t_emulator_call "$tok_a")
    echo "$id" >>"$T/ids"
    printf '{"CallId":"%s","TenantId":"tenant-a"}\n' "$id"
  done
} >"$T/in2"
lines_before=$(wc -l <"$T/record.jsonl")
t_expect_exit 6 "tenant-b's item fails (token endpoint unavailable), the others succeed" -- \
  sh -c "'$MGCALL' keep-alive ${AUTH[*]} <'$T/in2' >'$T/out2' 2>'$T/err2'"
t_grep "$T/err2" "tenant-b|token endpoint" "the failure names the token endpoint"
tail -n +"$((lines_before + 1))" "$T/record.jsonl" >"$T/run2.jsonl"
# ms of the first tenant-b token request and of each tenant-a keepAlive
ms() {
  jq -r '((.time | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) * 1000
          + (.time | capture("\\.(?<ms>[0-9]{3})Z$").ms | tonumber))'
}
t_b=$(grep -m1 '/tenant-b/oauth2' "$T/run2.jsonl" | ms)
t_ok '[ -n "$t_b" ]' "tenant-b's token endpoint was asked"
grep -F -f "$T/ids" "$T/run2.jsonl" | grep '/keepAlive"' | jq -c '{status}' |
  sort | uniq -c >"$T/a-status"
t_eq "$(cat "$T/a-status" | tr -s ' ')" ' 8 {"status":200}' \
  "the 8 tenant-a keepAlives answered 200"
last_a=$(grep -F -f "$T/ids" "$T/run2.jsonl" | grep '/keepAlive"' | ms | sort -n | tail -1)
t_ok '[ -n "$last_a" ] && [ $((last_a - t_b)) -lt 2000 ]' \
  "tenant-a's keepAlives went out within 2 s of tenant-b's token request, not after its 3 s ($((last_a - t_b)) ms)"

# tenant-b's credentials refused (401 from its token endpoint): only
# tenant-b's ids fail; tenant-a's are still sent (a refusal for the
# credential's own tenant would stop the run).
t_curl -f -o /dev/null -X PUT -H 'Content-Type: application/json' \
  -d '{"tenantFault":{"tenant":"tenant-b","status":401}}' \
  "$EMU_URL/_emulator/faults" || t_fail "cannot set the tenant fault"
{
  printf '{"CallId":"%s","TenantId":"tenant-b"}\n' "$b1"
  for i in 1 2 3 4 5; do t_emulator_call "$tok_a"; done
} >"$T/in3"
mark=$(wc -l <"$T/record.jsonl")
# --parallel 1: the ids are handed to the batch one by one, most of them
# after tenant-b's refusal
t_expect_exit 3 "tenant-b refused: exit 3 (its id comes first)" -- \
  sh -c "'$MGCALL' keep-alive --parallel 1 ${AUTH[*]} <'$T/in3' 2>'$T/err3'"
t_ok '[ "$(tail -n +"$((mark + 1))" "$T/record.jsonl" | grep -c "/keepAlive\"")" -eq 5 ]' \
  "tenant-a's five ids were still sent"
t_nogrep "$T/err3" "not sent" "no id left unsent"
t_done
