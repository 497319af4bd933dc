#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall emulator under attack, as a stranger on loopback would (issue 14
# items 7-10, issue 8 items 1 and 11): idle connections, bodies without a
# token, bodies that exhaust memory, bytes that are not UTF-8, request
# framing tricks, fresh strings on every call, oversized and unreadable
# certificate files.  Every wait is bounded.
# 5,000 connections and 1-second probes: run alone.
# The raw requests and the helper's attacks speak HTTP/1.1 (framing of their
# own; HTTP/2's attacks are emulator_http2's and fuzz_emu_h2's); what curl
# checks is checked over HTTP/1.1 and HTTP/2 (h2c) in the same run, and h2c
# requests are answered within 1 s while the 5,000 idle connections are
# held.
# mgcall-test: serial
. "$(dirname "$0")/lib.sh"

ATTACK="${MGCALL_BUILD_DIR:?}/tests/mgcall-test-attack"
port() { echo "${EMU_URL##*:}"; }
# raw TIMEOUT_MS: send stdin as it is; the answer goes to $T/raw, the time
# to $T/raw.err ("elapsed_ms N").
raw() { "$ATTACK" raw "$(port)" "$1" >"$T/raw" 2>"$T/raw.err"; }
status() { sed -n '1s/^HTTP\/1\.1 \([0-9]*\).*/\1/p' "$T/raw" | tr -d '\r'; }
elapsed() { sed -n 's/^elapsed_ms //p' "$T/raw.err"; }
# json_body FILTER: jq -e FILTER on the body of the answer in $T/raw (fails
# when there is no body: jq alone succeeds on empty input).
json_body() {
  local b
  b=$(sed -n '/^\r$/,$p' "$T/raw" | sed 1d)
  [ -n "$b" ] && printf '%s' "$b" | jq -e "$1" >/dev/null
}

t_emulator_start --client app1:s3cret || { t_done; exit 1; }
TOK=$(t_emulator_token t1 app1 s3cret)
t_ok '[ -n "$TOK" ]' "a token for the tests"

# ---- item 9: every request gets an answer, in valid JSON -----------------------
for P in --http1.1 --http2-prior-knowledge; do
  S=$(t_curl "$P" -o "$T/body" -w '%{http_code}' -d grant_type=x "$EMU_URL/%ff/oauth2/v2.0/token")
  t_eq "$S" 400 "$P: tenant %ff: 400, not an empty reply"
  t_ok 'jq -e ".error == \"invalid_request\"" "$T/body" >/dev/null' "$P: tenant %ff: an AAD JSON error"
done
printf 'GET /_emulator/\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' | raw 3000
t_eq "$(status)" 404 "raw 0xff in the path: 404"
t_ok 'json_body ".error.message | test(\"xff\")"' \
  "raw 0xff in the path: the byte escaped in the JSON message"
# 62 ASCII bytes then a 3-byte character: the 64-byte quote cuts inside it
LONG=$(printf 'a%.0s' $(seq 62))
printf 'GET /_emulator/%s\xe2\x82\xac HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$LONG" | raw 3000
t_eq "$(status)" 404 "a message cut inside a character: 404"
t_ok 'json_body ".error.message | test(\"aaaa\") and (test(\"\\\\\\\\x\") | not)"' \
  "a message cut inside a character: cut on the boundary, nothing escaped"
printf 'GET /_emulator/none HTTP/1.1\r\nHost: 127.0.0.1\r\nclient-request-id: \xff\xff\r\nConnection: close\r\n\r\n' | raw 3000
t_eq "$(status)" 404 "a client-request-id that is not UTF-8: answered"
t_ok 'json_body ".error.innerError | .[\"client-request-id\"] == .[\"request-id\"]"' \
  "a client-request-id that is not UTF-8: not echoed (the request id instead)"

# ---- item 10: framing -----------------------------------------------------------
printf 'POST /_emulator/calls HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}' | raw 3000
t_eq "$(status)" 400 "two different Content-Length headers: 400"
printf 'POST /_emulator/calls HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n\r\nabc' | raw 3000
t_eq "$(status)" 501 "Transfer-Encoding: gzip: 501"
t_ok '[ "$(elapsed)" -lt 2000 ]' "Transfer-Encoding: gzip: answered at once ($(elapsed) ms)"
printf 'POST /_emulator/calls HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n' | raw 3000
t_eq "$(status)" 413 "Content-Length over 64 KiB: 413 before the body"

# ---- issue 8 item 1: the token is checked before the body is read -----------------
printf 'POST /v1.0/communications/calls HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n' | raw 3000
t_eq "$(status)" 401 "Graph POST without a token, body not sent: 401"
t_ok '[ "$(elapsed)" -lt 2000 ]' "Graph POST without a token: answered without waiting for the body ($(elapsed) ms)"
printf 'POST /v1.0/communications/calls HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n' "$TOK" | raw 1500
t_eq "$(status)" "" "Graph POST with a valid token waits for its body"
# bodies in flight across connections are bounded (16 MiB: 255 of 64 KiB)
"$ATTACK" bodies "$(port)" 400 /_emulator/calls >"$T/bodies"
cat "$T/bodies"
busy=$(sed -n 's/^status 503 //p' "$T/bodies")
t_ok '[ "${busy:-0}" -ge 100 ]' "400 bodies of 64 KiB held at once: the ones past the budget get 503 (${busy:-0})"
for P in --http1.1 --http2-prior-knowledge; do
  S=$(t_curl "$P" -o /dev/null -w '%{http_code}' -d '{"count":1}' "$EMU_URL/_emulator/calls")
  t_eq "$S" 201 "$P: the budget is given back: a body is taken again"
done

# ---- item 8: idle connections ---------------------------------------------------------
"$ATTACK" idle "$(port)" 5000 10 30 >"$T/idle" &
IDLE_PID=$!
# h2c while the idle connections are held (the server closes them 5 s after
# they connected): 5 requests on new connections, 1 s each at most
t_wait 20 'grep -q "^connected" "$T/idle"' "the idle connections are open"
h2ok=0
for _ in 1 2 3 4 5; do
  S=$(t_curl --http2-prior-knowledge --max-time 1 -o /dev/null -w '%{http_code}' "$EMU_URL/_emulator/health" 2>/dev/null)
  [ "$S" = 200 ] && h2ok=$((h2ok + 1))
  sleep 0.2
done
held_then=$(grep -c '^probes' "$T/idle")
wait "$IDLE_PID"
cat "$T/idle"
t_ok '[ "$h2ok" -ge 4 ] && [ "$held_then" = 0 ]' \
  "5000 idle connections: h2c /_emulator/health answers ($h2ok of 5 within 1 s, while the helper still probed)"
probes=$(sed -n 's/^probes \([0-9]*\)\/.*/\1/p' "$T/idle")
t_ok '[ "${probes:-0}" -ge 9 ]' "5000 idle connections: /_emulator/health answers (${probes:-0} of 10 within 1 s)"
read -r closed live ms < <(sed -n 's/^closed \([0-9]*\)\/\([0-9]*\) \([0-9]*\)_ms/\1 \2 \3/p' "$T/idle")
t_ok '[ "${live:-0}" -ge 4000 ] && [ "$closed" = "$live" ]' "the idle connections are closed by the server ($closed of $live)"
t_ok '[ "${ms:-99999}" -le 15000 ]' "within seconds (${ms:-?} ms after the probes)"
for P in --http1.1 --http2-prior-knowledge; do
  S=$(t_curl "$P" -o /dev/null -w '%{http_code}' "$EMU_URL/_emulator/health")
  t_eq "$S" 200 "$P: served normally after the attack"
done
t_emulator_stop

# ---- item 7: fresh tenant/app/callbackUri strings on every call --------------------------
t_emulator_start || { t_done; exit 1; }
"$ATTACK" fresh "$(port)" 25000 >"$T/fresh"
cat "$T/fresh"
t_eq "$(sed -n 's/^status 201 //p' "$T/fresh")" 25000 "25000 calls with fresh strings: all created"
t_curl -o "$T/body" -X GET "$EMU_URL/_emulator/stats"
t_ok 'jq -e ".callsCreated == 25000" "$T/body" >/dev/null' "stats count 25000 created"
S=$(t_curl --http2-prior-knowledge -o "$T/body" -w '%{http_code}' -d '{"count":1}' "$EMU_URL/_emulator/calls")
t_eq "$S" 201 "h2c: a call created after the 25000"
t_emulator_stop

# ---- issue 8 item 11: certificate and key files read whole, errors reported ----------------
t_make_cert || t_fail "t_make_cert"
# PEM parsers skip text before "-----BEGIN": 1.5 MiB of it, then the key
{ head -c 1572864 /dev/zero | tr '\0' '#' | fold -w 64; cat "$EMU_KEY"; } >"$T/bigkey.pem"
if t_emulator_start --tls-cert "$EMU_CERT" --tls-key "$T/bigkey.pem"; then
  for P in --http1.1 --http2; do # --http2: h2 by ALPN
    S=$(t_curl "$P" -o /dev/null -w '%{http_code} %{http_version}' "$EMU_URL/_emulator/health")
    t_eq "$S" "200 ${P#--http}" "$P: a 1.5 MiB key file is read whole: HTTPS served"
  done
  t_emulator_stop
fi
EMU_CA=
t_expect_exit 2 "a directory as --tls-cert: usage error" -- \
  "$MGCALL" emulator --listen 127.0.0.1:0 --tls-cert "$T" --tls-key "$EMU_KEY"
t_grep "$T/err" "cannot read .*: Is a directory" "a directory as --tls-cert: the read error is reported"

t_done
