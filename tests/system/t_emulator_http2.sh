#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall emulator over HTTP/2 (issue 12): h2 by ALPN on TLS with http/1.1
# still offered, h2c with prior knowledge on cleartext, --no-http2,
# per-protocol stats and --record fields, --max-concurrent-streams (the
# SETTINGS frame and the limit held), --max-requests-per-connection (GOAWAY
# on HTTP/2, Connection: close on HTTP/1.1) and the run-time faults goaway,
# rst_stream and reset, seen frame by frame with nghttp (nghttp2-client).
# Latency-bound checks: run alone.
# mgcall-test: serial
. "$(dirname "$0")/lib.sh"
unset https_proxy HTTPS_PROXY all_proxy ALL_PROXY
for tool in nghttp h2load; do
  command -v "$tool" >/dev/null || { t_fail "$tool is missing (scripts/bootstrap: nghttp2-client)"; t_done; exit 1; }
done
version() { t_curl -o /dev/null -w '%{http_version}' "$@"; }
stats() { t_curl "$EMU_URL/_emulator/stats" | jq -r "$1"; }
faults() { t_curl -o /dev/null -w '%{http_code}' -X PUT -d "$1" "$EMU_URL/_emulator/faults"; }

# ---- TLS: ALPN -----------------------------------------------------------------
t_make_cert || { t_fail "t_make_cert"; t_done; exit 1; }
t_emulator_start --tls-cert "$EMU_CERT" --tls-key "$EMU_KEY" --client app1:s3cret \
  --record "$T/rec.jsonl" --max-concurrent-streams 10 || { t_done; exit 1; }
t_eq "$(version --http2 "$EMU_URL/_emulator/health")" 2 "TLS: h2 by ALPN"
t_eq "$(version --http1.1 "$EMU_URL/_emulator/health")" 1.1 "TLS: http/1.1 still offered"
t_eq "$(version --http2 --no-alpn "$EMU_URL/_emulator/health")" 1.1 "TLS without ALPN: HTTP/1.1"
TOK=$(t_emulator_token t1 app1 s3cret)
t_ok '[ -n "$TOK" ]' "a token over HTTP/2"
ID=$(t_emulator_call "$TOK")
t_ok '[ -n "$ID" ]' "a call created over HTTP/2"
KA="$EMU_URL/v1.0/communications/calls/$ID/keepAlive"
S=$(t_curl -o /dev/null -w '%{http_code} %{http_version}' -X POST -H "Authorization: Bearer $TOK" "$KA")
t_eq "$S" "200 2" "keepAlive over HTTP/2"
S=$(t_curl -o /dev/null -w '%{http_code} %{http_version}' --http1.1 -X POST -H "Authorization: Bearer $TOK" "$KA")
t_eq "$S" "200 1.1" "keepAlive over HTTP/1.1 on the same listener"
t_eq "$(stats '.protocols.h2.requests >= 4 and .protocols["http/1.1"].requests >= 2')" true \
  "stats: requests counted per protocol"
t_grep "$T/rec.jsonl" '"protocol":"HTTP/2","connection":[0-9]+.*"stream":[0-9]+' \
  "--record: protocol, connection and stream of HTTP/2 requests"
t_grep "$T/rec.jsonl" '"protocol":"HTTP/1.1","connection":[0-9]+' "--record: HTTP/1.1 requests"

# ---- --max-concurrent-streams ------------------------------------------------------
nghttp -nv "$EMU_URL/_emulator/health" >"$T/ng" 2>&1
t_grep "$T/ng" 'SETTINGS_MAX_CONCURRENT_STREAMS\(0x03\):10\]' "SETTINGS: max concurrent streams 10"
t_eq "$(faults '{"latency":"200ms"}')" 200 "latency 200 ms on Graph"
# (the calls are GET /v1.0/communications/calls/ID: each held 200 ms)
h2load -n 40 -c 1 -m 10 -H "authorization: Bearer $TOK" \
  "$EMU_URL/v1.0/communications/calls/$ID" >"$T/h2load" 2>&1
t_grep "$T/h2load" '^requests: 40 total, 40 started, 40 done, 40 succeeded' \
  "40 requests held 200 ms, 10 at once on one connection: all answered"
t_eq "$(stats '.protocols.h2.maxConcurrentStreams')" 10 "10 streams at once reached"
# h2load -m 40 opens 40 streams before it reads the SETTINGS frame: nghttp2
# refuses those beyond 10 (RST_STREAM REFUSED_STREAM; h2load does not retry)
h2load -n 40 -c 1 -m 40 -H "authorization: Bearer $TOK" \
  "$EMU_URL/v1.0/communications/calls/$ID" >"$T/h2load" 2>&1
t_grep "$T/h2load" '^requests: 40 total, 40 started, 40 done' "40 streams at once: each answered or refused"
t_eq "$(stats '.protocols.h2.maxConcurrentStreams')" 10 "never more than 10 streams at once"
t_eq "$(faults '{"latency":0,"maxConcurrentStreams":20}')" 200 \
  "PUT maxConcurrentStreams 20"
nghttp -nv "$EMU_URL/_emulator/health" >"$T/ng" 2>&1
t_grep "$T/ng" 'SETTINGS_MAX_CONCURRENT_STREAMS\(0x03\):20\]' "new connections: SETTINGS 20"
t_eq "$(faults '{"maxConcurrentStreams":0}')" 400 "maxConcurrentStreams 0: 400"

# ---- faults at run time, frame by frame ----------------------------------------------
GET=("$EMU_URL/v1.0/communications/calls/$ID")
ng() { nghttp -nv -H "authorization: Bearer $TOK" "$@" >"$T/ng" 2>&1; }
t_eq "$(faults '{"sequence":["goaway"]}')" 200 "sequence: goaway"
ng "${GET[0]}"
read -r sid < <(sed -n 's/.*send HEADERS frame .*stream_id=\([0-9]*\)>.*/\1/p' "$T/ng" | head -1)
read -r last code < <(sed -n 's/.*(last_stream_id=\([0-9]*\), error_code=\([A-Z_]*\).*/\1 \2/p' "$T/ng" | head -1)
t_ok '[ -n "$sid" ] && [ -n "$last" ] && [ "$last" -lt "$sid" ]' \
  "goaway: last-stream-id $last below the stream in flight ($sid)"
t_eq "$code" NO_ERROR "goaway: NO_ERROR by default"
t_nogrep "$T/ng" 'recv HEADERS frame.*stream_id='"$sid" "goaway: the stream is not answered"
t_eq "$(faults '{"sequence":["goaway"],"goawayError":"REFUSED_STREAM"}')" 200 "goawayError REFUSED_STREAM"
ng "${GET[0]}"
t_grep "$T/ng" 'recv GOAWAY' "goaway (REFUSED_STREAM): a GOAWAY"
t_grep "$T/ng" 'error_code=REFUSED_STREAM\(0x07\)' "goaway: with REFUSED_STREAM"
t_eq "$(faults '{"sequence":["rst_stream"]}')" 200 "sequence: rst_stream"
ng "${GET[0]}"
t_grep "$T/ng" 'recv RST_STREAM frame' "rst_stream: RST_STREAM"
t_grep "$T/ng" 'error_code=REFUSED_STREAM\(0x07\)' "rst_stream: REFUSED_STREAM by default"
t_eq "$(faults '{"sequence":["rst_stream"],"rstStreamError":"INTERNAL_ERROR"}')" 200 \
  "rstStreamError INTERNAL_ERROR"
before=$(t_curl "$EMU_URL/_emulator/calls/$ID" | jq -r .keepAliveCount)
nghttp -nv -H "authorization: Bearer $TOK" -d /dev/null "$KA" >"$T/ng" 2>&1
t_grep "$T/ng" 'error_code=INTERNAL_ERROR\(0x02\)' "rst_stream INTERNAL_ERROR: RST_STREAM"
t_eq "$(t_curl "$EMU_URL/_emulator/calls/$ID" | jq -r .keepAliveCount)" $((before + 1)) \
  "rst_stream INTERNAL_ERROR: the keepAlive was processed before the reset"
t_eq "$(faults '{"sequence":["reset"],"rstStreamError":"REFUSED_STREAM"}')" 200 "sequence: reset"
ng "${GET[0]}"
t_nogrep "$T/ng" 'recv (HEADERS|GOAWAY|RST_STREAM) frame' "reset: the connection closes, no frame"
t_eq "$(stats '[.protocols.h2.goawayFaults, .protocols.h2.rstStreamFaults, .protocols.h2.resetFaults] | map(tostring) | join(" ")')" \
  "2 2 1" "stats: goaway, rst_stream, reset faults counted"
t_eq "$(faults '{"statuses":["nope"]}')" 400 "an unknown fault kind: 400"
t_eq "$(faults '{"goawayError":"BAD"}')" 400 "an unknown error code: 400"

# ---- --max-requests-per-connection at run time --------------------------------------------
t_eq "$(faults '{"maxRequestsPerConnection":5}')" 200 "PUT maxRequestsPerConnection 5"
base=$(stats '.protocols.h2.connections')
args=()
for _ in $(seq 12); do args+=(-o /dev/null "$EMU_URL/_emulator/health"); done
t_curl --http2 "${args[@]}" -w '%{http_code}\n' >"$T/codes"
t_eq "$(sort "$T/codes" | uniq -c | tr -s ' ')" " 12 200" "12 requests, 5 a connection, over HTTP/2: all answered"
t_eq "$(( $(stats '.protocols.h2.connections') - base ))" 4 \
  "3 connections for them, 1 for the stats (a graceful GOAWAY after 5)"
t_eq "$(stats .protocols.h2.goaways)" 2 "stats: 2 graceful GOAWAYs (after the 5th and 10th)"
t_curl --http1.1 -v "${args[@]}" 2>"$T/v" >/dev/null
t_eq "$(grep -ci '^< connection: close' "$T/v")" 2 "HTTP/1.1: Connection: close on the 5th and 10th answers"
t_eq "$(grep -c '^\* Connected to' "$T/v")" 3 "HTTP/1.1: 3 connections for 12 requests"
t_eq "$(faults '{"http2":false}')" 200 "PUT http2 false"
t_eq "$(version --http2 "$EMU_URL/_emulator/health")" 1.1 "http2 false: new connections get HTTP/1.1"
t_eq "$(faults '{"http2":true}')" 200 "PUT http2 true"
t_eq "$(version --http2 "$EMU_URL/_emulator/health")" 2 "http2 true: h2 again"
t_emulator_stop
t_eq "$EMU_STATUS" 0 "TLS emulator: clean exit"

# ---- cleartext: h2c with prior knowledge ---------------------------------------------------
EMU_CA=
t_emulator_start || { t_done; exit 1; }
t_eq "$(version --http2-prior-knowledge "$EMU_URL/_emulator/health")" 2 "cleartext: h2c with prior knowledge"
t_eq "$(version "$EMU_URL/_emulator/health")" 1.1 "cleartext: HTTP/1.1"
t_eq "$(version --http2 "$EMU_URL/_emulator/health")" 1.1 \
  "cleartext: an Upgrade: h2c request is answered over HTTP/1.1 (no upgrade)"
h2load -n 2000 -c 2 -m 50 "$EMU_URL/_emulator/health" >"$T/h2load" 2>&1
t_grep "$T/h2load" '^requests: 2000 total, 2000 started, 2000 done, 2000 succeeded' "h2load over h2c: 2000 answered"
t_emulator_stop
t_emulator_start --no-http2 --tls-cert "$EMU_CERT" --tls-key "$EMU_KEY" || { t_done; exit 1; }
EMU_CA="$T/pki/ca.pem"
t_eq "$(version --http2 "$EMU_URL/_emulator/health")" 1.1 "--no-http2: ALPN gives http/1.1"
t_eq "$(stats '.protocols.h2.connections')" 0 "--no-http2: no HTTP/2 connection"
t_emulator_stop
t_done
