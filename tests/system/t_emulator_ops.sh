#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# mgcall emulator, operations: HTTPS, IPv6, faults (rate, sequence, scope,
# latency) and per-app throttling changed at run time through
# /_emulator/faults, --record with secrets redacted, --state across a
# restart, command-line errors, clean shutdown on SIGINT.  On HTTP/1.1 and,
# side by side in the same run, on HTTP/2 (h2c: t_curl with prior
# knowledge; HTTPS takes h2 by ALPN on both sides).
. "$(dirname "$0")/lib.sh"
t_side_by_side h2

req() {
  local m=$1 p=$2
  shift 2
  S=$(t_curl -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$m" "$EMU_URL$p" "$@")
}
hdr() { tr -d '\r' <"$T/hdr" | sed -n "s/^$1: //Ip" | head -n 1; }
body() { jq -r "$1" "$T/body"; }
NOCALL=00000000-0000-4000-8000-000000000000

# ---- command line ----------------------------------------------------------------
t_expect_exit 2 "bad --listen" -- "$MGCALL" emulator --listen nonsense
t_grep "$T/err" '^mgcall: emulator: bad --listen' "bad --listen: message"
t_expect_exit 2 "--tls-cert without --tls-key" -- "$MGCALL" emulator --tls-cert x.pem
t_expect_exit 2 "bad duration" -- "$MGCALL" emulator --inactivity-timeout 5parsecs
t_expect_exit 2 "bad --fault-rate" -- "$MGCALL" emulator --fault-rate 2
t_expect_exit 2 "bad --fault-status" -- "$MGCALL" emulator --fault-status 200
t_expect_exit 2 "bad --throttle" -- "$MGCALL" emulator --throttle fast
t_expect_exit 2 "bad --seed" -- "$MGCALL" emulator --seed -1
t_expect_exit 2 "bad --client" -- "$MGCALL" emulator --listen 127.0.0.1:0 --client nocolon
t_expect_exit 2 "missing client certificate" -- "$MGCALL" emulator --listen 127.0.0.1:0 --client-cert a:/nonexistent.pem
t_expect_exit 2 "unknown option" -- "$MGCALL" emulator --frobnicate
t_expect_exit 2 "stray argument" -- "$MGCALL" emulator extra

# ---- HTTPS -----------------------------------------------------------------------------
t_ok t_make_cert "t_make_cert"
t_emulator_start --client app1:s3cret --tls-cert "$EMU_CERT" --tls-key "$EMU_KEY"
t_grep "$EMU_OUT" '^mgcall emulator: listening on https://127\.0\.0\.1:[0-9]+$' "TLS: https URL"
TOK=$(t_emulator_token t1 app1 s3cret)
t_ok '[ -n "$TOK" ]' "TLS: token over https"
CALL=$(t_emulator_call "$TOK")
req POST "/v1.0/communications/calls/$CALL/keepAlive" -H "Authorization: Bearer $TOK"
t_eq "$S" 200 "TLS: keepAlive over https"
t_grep "$T/hdr" '^[Ss]trict-[Tt]ransport-[Ss]ecurity: max-age=' "TLS: HSTS header (lower-case over HTTP/2)"
plain=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' "http://${EMU_URL#https://}/_emulator/health")
t_ok '[ "$plain" != 200 ]' "TLS: plain http is not served ($plain)"
untrusted=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' "$EMU_URL/_emulator/health")
t_eq "$untrusted" 000 "TLS: an untrusting client refuses the certificate"
t_emulator_stop
EMU_CA=

# ---- https callbackUri: trusted with --callback-cacert ------------------------------
# A second (TLS) emulator records what it receives: it stands in for the bot.
t_emulator_start --tls-cert "$EMU_CERT" --tls-key "$EMU_KEY" --record "$T/bot.jsonl"
BOT_URL=$EMU_URL
EMU_CA_SAVED="$T/pki/ca.pem" # from t_make_cert
EMU_CA=
t_emulator_start --callback-cacert "$EMU_CA_SAVED"
req POST /_emulator/calls -d "{\"count\":1,\"callbackUri\":\"$BOT_URL/bot/callback\"}"
req DELETE "/_emulator/calls/$(body '.ids[0]')"
t_ok 't_wait_lines "$T/bot.jsonl" 1' "an https callback arrives"
t_eq "$(jq -r 'select(.path == "/bot/callback") | .method' "$T/bot.jsonl" | sort -u)" POST \
  "https callback delivered with --callback-cacert"
t_emulator_stop
t_emulator_start
req POST /_emulator/calls -d "{\"count\":1,\"callbackUri\":\"$BOT_URL/untrusted\"}"
req DELETE "/_emulator/calls/$(body '.ids[0]')"
# its attempts take about 5 s: checked after the next two sections
UNTRUSTED_URL=$EMU_URL
UNTRUSTED_PID=$EMU_PID

# ---- IPv6 -----------------------------------------------------------------------------
if t_emulator_start --listen '[::1]:0'; then
  t_grep "$EMU_OUT" '^mgcall emulator: listening on http://\[::1\]:[0-9]+$' "IPv6: [::1] URL"
  req GET /_emulator/health
  t_eq "$S" 200 "IPv6: served on ::1"
  t_emulator_stop
fi

# ---- faults ---------------------------------------------------------------------------------
t_emulator_start --client app1:s3cret --client app2:s3cret --fault-rate 1 --fault-status 503 --retry-after 2
TOK=$(t_emulator_token t1 app1 s3cret)
t_ok '[ -n "$TOK" ]' "faults apply to Graph only by default: token issued"
A1=(-H "Authorization: Bearer $TOK")
req POST "/v1.0/communications/calls/$NOCALL/keepAlive" "${A1[@]}"
t_eq "$S" 503 "--fault-rate 1: 503"
t_eq "$(hdr Retry-After)" 2 "503 carries Retry-After from --retry-after"
t_eq "$(body .error.code)" serviceNotAvailable "503: OData error"
req GET /_emulator/faults
t_eq "$(body .rate) $(body '.statuses | join(",")')" "1 503" "GET /_emulator/faults shows the settings"
t_eq "$(body .seed)" "$T_SEED" "GET /_emulator/faults shows the --seed"
t_grep "$EMU_ERR" "^mgcall emulator: fault seed $T_SEED\$" "the seed is printed at start"
req PUT /_emulator/faults -d '{"rate":0}'
t_eq "$S" 200 "PUT /_emulator/faults: 200"
CALL=$(t_emulator_call "$TOK")
req POST "/v1.0/communications/calls/$CALL/keepAlive" "${A1[@]}"
t_eq "$S" 200 "rate 0 at run time: 200"
req PUT /_emulator/faults -d '{"sequence":[429,503,504]}'
codes=
for _ in 1 2 3 4; do
  req POST "/v1.0/communications/calls/$CALL/keepAlive" "${A1[@]}"
  codes="$codes $S"
  [ "$S" = 429 ] && ra=$(hdr Retry-After)
done
t_eq "$codes" " 429 503 504 200" "a fault sequence answers the next requests in order"
t_eq "$ra" 2 "injected 429 carries Retry-After"
req PUT /_emulator/faults -d '{"rate":"lots"}'
t_eq "$S" 400 "bad fault settings: 400"
req PUT /_emulator/faults -d '{"nonsense":1}'
t_eq "$S" 400 "unknown fault setting: 400"
req PUT /_emulator/faults -d '{"scope":"token","rate":1,"statuses":[503]}'
req POST /t1/oauth2/v2.0/token -u app1:s3cret --data-urlencode grant_type=client_credentials \
  --data-urlencode scope=https://graph.microsoft.com/.default
t_eq "$S $(body .error)" "503 temporarily_unavailable" "scope token: the token endpoint fails, AAD-shaped"
req POST "/v1.0/communications/calls/$CALL/keepAlive" "${A1[@]}"
t_eq "$S" 200 "scope token: Graph unaffected"
req PUT /_emulator/faults -d '{"scope":"graph","rate":0,"latency":"300ms"}'
t=$(t_curl -o /dev/null -w '%{time_total}' -X POST "$EMU_URL/v1.0/communications/calls/$CALL/keepAlive" "${A1[@]}")
t_eq "$(awk -v t="$t" 'BEGIN { print (t >= 0.3) ? "slow" : "fast" }')" slow "latency 300ms delays the answer"

# Fault kinds that are not statuses, and a token endpoint outage.
req PUT /_emulator/faults -d '{"latency":0,"rate":1,"statuses":["reset"]}'
t_eq "$S $(body '.statuses[0]')" "200 reset" "fault kind reset accepted"
code=$(t_curl -o /dev/null -w '%{http_code}' -X POST "$EMU_URL/v1.0/communications/calls/$CALL/keepAlive" "${A1[@]}" 2>/dev/null)
rc=$?
if [ "$T_PROTO" = h2 ]; then
  # HTTP/2: the connection is reset (TCP RST) with the stream in flight;
  # curl meets the reset sending (55) or receiving (56), or amid a frame (16)
  t_ok '[ "$code" = 000 ] && [[ " 16 55 56 " == *" $rc "* ]]' \
    "reset: the connection is reset without an answer (curl exit $rc, HTTP $code)"
  req GET /_emulator/stats
  t_eq "$(body .protocols.h2.resetFaults)" 1 "reset: counted as an HTTP/2 reset"
else
  t_eq "$rc $code" "52 000" "reset: the connection closes without an answer (curl: empty reply)"
fi
req PUT /_emulator/faults -d '{"rate":1,"statuses":["slow"],"slowLatency":"300ms"}'
t=$(t_curl -o /dev/null -w '%{http_code} %{time_total}' -X POST "$EMU_URL/v1.0/communications/calls/$CALL/keepAlive" "${A1[@]}")
t_ok '[ "${t% *}" = 200 ] && awk -v t="${t#* }" "BEGIN { exit !(t >= 0.3) }"' \
  "slow: a normal answer, 300 ms late ($t)"
req PUT /_emulator/faults -d '{"rate":0,"tokenOutage":"5m"}'
req POST /t1/oauth2/v2.0/token -u app1:s3cret --data-urlencode grant_type=client_credentials \
  --data-urlencode scope=https://graph.microsoft.com/.default
t_eq "$S $(body .error)" "503 temporarily_unavailable" "tokenOutage: the token endpoint fails (scope graph)"
req PUT /_emulator/faults -d '{"tokenOutage":"0s"}'
req POST /t1/oauth2/v2.0/token -u app1:s3cret --data-urlencode grant_type=client_credentials \
  --data-urlencode scope=https://graph.microsoft.com/.default
t_eq "$S" 200 "tokenOutage 0s ends it"

# Throttling: 2 requests/s per application.
req PUT /_emulator/faults -d '{"latency":0,"throttle":"2/s"}'
n429=0
for _ in $(seq 10); do
  req POST "/v1.0/communications/calls/$CALL/keepAlive" "${A1[@]}"
  [ "$S" = 429 ] && { n429=$((n429 + 1)); ra=$(hdr Retry-After); code=$(body .error.code); }
done
t_ok '[ "$n429" -ge 1 ]' "throttle 2/s: 429 among 10 quick requests ($n429)"
t_ok '[ "${ra:-0}" -ge 1 ]' "throttle: Retry-After >= 1 ('${ra:-}')"
t_eq "$code" TooManyRequests "throttle: OData TooManyRequests"
TOK2=$(t_emulator_token t1 app2 s3cret)
req GET "/_emulator/stats"
t_ok '[ "$(body .throttled)" -ge 1 ]' "stats: throttled counted"
req POST "/v1.0/communications/calls/$NOCALL/keepAlive" -H "Authorization: Bearer $TOK2"
t_eq "$S" 404 "throttling is per application: another app is served"
t_emulator_stop

# ---- the https callback without the CA (started above) -------------------------------
EMU_URL=$UNTRUSTED_URL
EMU_PID=$UNTRUSTED_PID
failed=
for _ in $(seq 100); do
  req GET /_emulator/stats
  [ "$(body .notifications.failed)" -ge 1 ] && { failed=yes; break; }
  sleep 0.1
done
t_eq "$failed" yes "without the CA the https callback fails (TLS is verified)"
t_nogrep "$T/bot.jsonl" '/untrusted' "nothing reached the bot without trust"
t_emulator_stop

# ---- latency does not hold a worker; shutdown answers delayed requests ------------
t_emulator_start --latency 3s --fault-scope token --threads 1
t_curl -o "$T/delayed.body" -w '%{http_code}' "$EMU_URL/metadata/identity/oauth2/token" >"$T/delayed.code" &
CURL_PID=$!
n=0
for _ in $(seq 50); do
  n=$(t_curl "$EMU_URL/_emulator/stats" | jq '.requestsByStatus."400" // 0')
  [ "$n" -ge 1 ] && break
  sleep 0.1
done
t_eq "$n" 1 "a delayed request is answered later while /_emulator is served at once (1 worker)"
t_emulator_stop
wait "$CURL_PID"
t_eq "$EMU_STATUS" 0 "SIGTERM with a delayed request in flight: exit 0"
t_eq "$(cat "$T/delayed.code")" 400 "the delayed request still gets its answer at shutdown"

# ---- limits and retention --------------------------------------------------------
t_emulator_start --client app1:s3cret --max-calls 2 --retention 1s --inactivity-timeout 1h
TOK=$(t_emulator_token t1 app1 s3cret)
C1=$(t_emulator_call "$TOK")
C2=$(t_emulator_call "$TOK")
req POST /v1.0/communications/calls -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
  -d '{"callbackUri":"http://127.0.0.1:9/cb"}'
t_eq "$S $(body .error.code)" "507 quotaLimitReached" "--max-calls 2: the third call is refused"
req DELETE "/v1.0/communications/calls/$C1" -H "Authorization: Bearer $TOK"
gone=
for _ in $(seq 50); do
  req GET "/_emulator/calls/$C1"
  [ "$S" = 404 ] && { gone=yes; break; }
  sleep 0.1
done
t_eq "$gone" yes "--retention 1s: an ended call is dropped afterwards"
req GET "/_emulator/calls/$C2"
t_eq "$S $(body .state)" "200 established" "the live call stays"
req POST /v1.0/communications/calls -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
  -d '{"callbackUri":"http://127.0.0.1:9/cb"}'
t_eq "$S" 201 "a dropped call frees its place"
req GET /common/discovery/instance
t_eq "$S $(body '."api-version"')" "200 1.1" "instance discovery (MSAL without knownAuthorities)"
t_grep "$T/body" 'v2.0/.well-known/openid-configuration' "instance discovery names the OpenID configuration"
req GET /t1/discovery/keys
t_eq "$S $(body '.keys | length')" "200 1" "v1 keys path"
t_emulator_stop

# ---- --record -------------------------------------------------------------------------
REC="$T/record.jsonl"
t_emulator_start --client app1:s3cret --record "$REC"
TOK=$(t_emulator_token t1 app1 s3cret)
req POST "/v1.0/communications/calls/$NOCALL/keepAlive" -H "Authorization: Bearer $TOK" \
  -H 'client-request-id: 9d0f8f7e-1111-4222-8333-444455556666' -H 'Retry-Attempt: 2'
req POST /t1/oauth2/v2.0/token --data-urlencode grant_type=client_credentials \
  --data-urlencode scope=https://graph.microsoft.com/.default --data-urlencode client_id=app1 \
  --data-urlencode client_assertion_type=x --data-urlencode client_assertion=eyJhbGciOi.secret.part
req POST "/v1.0/communications/calls/a%2Fb%20c/keepAlive?x=1" -H "Authorization: Bearer $TOK"
t_eq "$S $(body .error.code)" "404 itemNotFound" "an id with %2F is one path segment: 404 itemNotFound"
t_emulator_stop
t_eq "$(stat -c %a "$REC")" 600 "record file is mode 0600"
# the test's 4 requests, then the variant's protocol check (T_PROTO_REQS)
t_eq "$(wc -l <"$REC")" "$((4 + T_PROTO_REQS))" "one line per request (4 + $T_PROTO_REQS of the variant's check)"
t_eq "$(sed -n 4p "$REC" | jq -r '.path + " " + .target')" \
  "/v1.0/communications/calls/a%2Fb%20c/keepAlive /v1.0/communications/calls/a%2Fb%20c/keepAlive?x=1" \
  "record: path and target as sent (percent-encoding kept)"
t_nogrep "$REC" 's3cret' "the client secret is not recorded"
t_nogrep "$REC" "${TOK:0:40}" "the access token is not recorded"
t_nogrep "$REC" 'secret\.part' "the client assertion is not recorded"
KA=$(sed -n 2p "$REC")
t_eq "$(jq -r .headers.authorization <<<"$KA")" "[REDACTED]" "record: Authorization redacted"
t_eq "$(jq -r '.headers."client-request-id"' <<<"$KA")" 9d0f8f7e-1111-4222-8333-444455556666 "record: client-request-id"
t_eq "$(jq -r '.headers."retry-attempt"' <<<"$KA")" 2 "record: retry-attempt (names lower-case)"
t_eq "$(jq -r '.method + " " + .path + " " + (.status|tostring)' <<<"$KA")" \
  "POST /v1.0/communications/calls/$NOCALL/keepAlive 404" "record: method, path, status"
t_eq "$(sed -n 1p "$REC" | jq -r '.form.client_secret + " " + .form.client_id')" "[REDACTED] app1" "record: form secret redacted"
t_eq "$(sed -n 3p "$REC" | jq -r .form.client_assertion)" "[REDACTED]" "record: assertion redacted"

# ---- --state across a restart ------------------------------------------------------------
ST="$T/state.jsonl"
t_emulator_start --client app1:s3cret --state "$ST" --inactivity-timeout 1h
TOK=$(t_emulator_token t1 app1 s3cret)
KEEP=$(t_emulator_call "$TOK")
GONE=$(t_emulator_call "$TOK")
req DELETE "/v1.0/communications/calls/$GONE" -H "Authorization: Bearer $TOK"
t_emulator_stop
t_eq "$EMU_STATUS" 0 "state: clean exit"
t_eq "$(stat -c %a "$ST")" 600 "state file is mode 0600"
t_eq "$(head -n 1 "$ST" | jq -r .format)" mgcall-emulator-state "state file header"
t_eq "$(grep -c "$KEEP" "$ST")" 1 "state file holds the call"
t_emulator_start --client app1:s3cret --state "$ST" --inactivity-timeout 1h
req POST "/v1.0/communications/calls/$KEEP/keepAlive" -H "Authorization: Bearer $TOK"
t_eq "$S" 200 "after a restart: the call and the old token still work"
req POST "/v1.0/communications/calls/$GONE/keepAlive" -H "Authorization: Bearer $TOK"
t_eq "$S" 404 "after a restart: the ended call stays ended"
req GET "/_emulator/calls/$KEEP"
t_eq "$(body .keepAliveCount)" 1 "after a restart: keepAlive count kept"
# Down for longer than the timeout: the call ends at start-up.
kill -INT "$EMU_PID"
wait "$EMU_PID"
t_eq "$?" 0 "SIGINT: exit 0"
t_emulator_start --client app1:s3cret --state "$ST" --inactivity-timeout 1ms
state=
for _ in $(seq 30); do
  req GET "/_emulator/calls/$KEEP"
  state=$(body .state)
  [ "$state" = terminated ] && break
  sleep 0.1
done
t_eq "$state $(body .resultInfo.subcode)" "terminated 8537" "a call past its deadline while down ends with 408/8537"
echo garbage >"$T/bad-state"
t_expect_exit 2 "corrupt state file" -- "$MGCALL" emulator --listen 127.0.0.1:0 --state "$T/bad-state"
t_done
