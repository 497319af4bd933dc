#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# Retries against the emulator's fault sequence: 429 with Retry-After and
# 503 are retried with the same client-request-id and Retry-Attempt: n;
# exhausted retries -> 6; other statuses are not retried; --retries 0.
. "$(dirname "$0")/lib.sh"
unset MGCALL_ACCESS_TOKEN AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET \
  AZURE_CLIENT_CERTIFICATE_PATH MGCALL_GRAPH_URL https_proxy HTTPS_PROXY
export XDG_CACHE_HOME=$T/cache

t_make_cert || { t_fail "t_make_cert"; t_done; exit 1; }
REC=$T/record.jsonl
t_emulator_start --tls-cert "$EMU_CERT" --tls-key "$EMU_KEY" \
  --client app1:s3cret --record "$REC" --retry-after 1 || { t_done; exit 1; }
TOK=$(t_emulator_token tenant-a app1 s3cret)
ID=$(t_emulator_call "$TOK")
[ -n "$ID" ] || t_fail "no call created"
export MGCALL_ACCESS_TOKEN=$TOK
KA=("$MGCALL" keep-alive --graph-url "$EMU_URL" --cacert "$EMU_CA")
faults() {
  t_curl -f -X PUT "$EMU_URL/_emulator/faults" -H 'Content-Type: application/json' \
    -d "$1" >/dev/null || t_fail "PUT /_emulator/faults $1"
}
# keepalive_records N: the last N keepAlive lines of the record.
keepalive_records() { grep '/keepAlive' "$REC" | tail -n "$1"; }

# --- 429 (Retry-After: 1) then 503 then success: 3 attempts, same id ---
faults '{"sequence":[429,503]}'
t_expect_exit 0 "429, 503, then 200" -- "${KA[@]}" --output json "$ID"
t_eq "$(jq -r .attempts "$T/out")" 3 "3 attempts"
keepalive_records 3 >"$T/k"
t_eq "$(jq -r .status "$T/k" | tr '\n' ' ')" "429 503 200 " "recorded statuses"
t_eq "$(jq -r '.headers."client-request-id"' "$T/k" | sort -u | wc -l | tr -d ' ')" 1 \
  "same client-request-id on every attempt"
t_eq "$(jq -r '.headers."client-request-id"' "$T/k" | head -n 1)" "$(jq -r .clientRequestId "$T/out")" \
  "the reported client-request-id is the one sent"
t_eq "$(jq -r '.headers."retry-attempt" // "-"' "$T/k" | tr '\n' ' ')" "- 1 2 " "Retry-Attempt: 1, 2"
# The waits honoured Retry-After (1 s): recorded times at least 1 s apart.
t1=$(sed -n 1p "$T/k" | jq -r .time)
t2=$(sed -n 2p "$T/k" | jq -r .time)
d=$(( $(date -d "$t2" +%s%N) / 1000000 - $(date -d "$t1" +%s%N) / 1000000 ))
t_ok '[ "$d" -ge 900 ]' "waited Retry-After (1 s) before retrying (${d} ms)"

# --- retries exhausted -> 6 ---
faults '{"sequence":[503,503,503]}'
t_expect_exit 6 "503 x3 with --retries 2 -> 6" -- "${KA[@]}" --retries 2 "$ID"
t_grep "$T/err" "^mgcall: call $ID: HTTP 503.* after 3 attempts" "exhausted: error line"
t_eq "$(keepalive_records 3 | jq -r .status | tr '\n' ' ')" "503 503 503 " "3 attempts recorded"
faults '{"sequence":[429]}'
t_expect_exit 6 "--retries 0: no retry" -- "${KA[@]}" --retries 0 "$ID"
t_eq "$(keepalive_records 1 | jq -r '.headers."retry-attempt" // "-"')" - "--retries 0: one attempt"

# --- --retry-max-time bounds the waits ---
faults '{"sequence":[503,503],"retryAfter":5}'
t_expect_exit 6 "--retry-max-time 2 with Retry-After 5 -> 6" -- "${KA[@]}" --retry-max-time 2 "$ID"
t_eq "$(keepalive_records 1 | jq -r .status)" 503 "gave up without waiting 5 s"
faults '{"sequence":[],"retryAfter":1}'
# drain the remaining 503 of the sequence, if any
"${KA[@]}" --retries 3 "$ID" >/dev/null 2>&1

# --- other statuses are not retried ---
faults '{"sequence":[500]}'
t_expect_exit 8 "500 -> 8, not retried" -- "${KA[@]}" --output json "$ID"
t_eq "$(jq -r .attempts "$T/out")" 1 "500: one attempt"
t_expect_exit 0 "healthy again" -- "${KA[@]}" "$ID"
t_done
