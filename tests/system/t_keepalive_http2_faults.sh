#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall keep-alive against what HTTP/2 servers do (issue 12 item 3), on the
# emulator over TLS (h2 by ALPN), every answer held 20 ms so that streams
# pile up on the connection:
#  - 10,000 ids on one connection with --max-concurrent-streams 100: the
#    limit is reached and never passed, the batch finishes;
#  - streams the server did not process (RST_STREAM REFUSED_STREAM, ids
#    above a GOAWAY's last-stream-id) are retried at once on a new
#    connection (by libcurl; the one it fails, by the library) and not
#    counted: every result ok with --retries 0;
#  - streams whose outcome is unknown (RST_STREAM INTERNAL_ERROR after the
#    keepAlive was done, the connection reset with streams in flight) are
#    retried as the retry policy says: ok after more attempts;
#  - a graceful GOAWAY every 300 requests (--max-requests-per-connection):
#    new connections, nothing retried;
#  - when a connection goes away, at most 4 connections to the host (the
#    library's bound; libcurl 7.88 alone opens one per waiting transfer),
#    counted in /_emulator/stats;
#  - --parallel 1000 when the server allows 50 streams a connection: more
#    connections (ceil(1000 / 100) + 3 = 13, one more seen), all done.
# In every case each id is reported once, in input order, and every call got
# its keepAlive (none lost).  Faults are seeded (T_SEED).
# mgcall-test: serial
. "$(dirname "$0")/lib.sh"
unset MGCALL_ACCESS_TOKEN AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET \
  AZURE_CLIENT_CERTIFICATE_PATH MGCALL_GRAPH_URL https_proxy HTTPS_PROXY all_proxy ALL_PROXY
export XDG_CACHE_HOME=$T/cache

t_make_cert || { t_fail "t_make_cert"; t_done; exit 1; }
t_emulator_start --tls-cert "$EMU_CERT" --tls-key "$EMU_KEY" --client app1:s3cret \
  --latency 20ms || { t_done; exit 1; }
MGCALL_ACCESS_TOKEN=$(t_emulator_token t1 app1 s3cret)
export MGCALL_ACCESS_TOKEN
stats() { t_curl "$EMU_URL/_emulator/stats" | jq -r "$1"; }
faults() { t_curl -o /dev/null -w '%{http_code}' -X PUT -d "$1" "$EMU_URL/_emulator/faults"; }
t_curl -d '{"count":10000,"tenantId":"t1","appId":"app1"}' "$EMU_URL/_emulator/calls" |
  jq -r '.ids[]' >"$T/ids10k"
t_eq "$(wc -l <"$T/ids10k" | tr -d ' ')" 10000 "10,000 calls"
head -n 1000 "$T/ids10k" >"$T/ids"
ROUND=0

# batch FILE NAME [ARGS...]: mgcall keep-alive --parallel 100 (PARALLEL) ARGS over
# FILE; checks the output
# (each id once, in order, all ok) and that every call of FILE got at least
# one more keepAlive than before.  Sets ATT (attempts: "1:N 2:M ...") and
# CONNS (HTTP/2 connections the batch opened).
batch() {
  ROUND=$((ROUND + 1))
  local c0 k0 n
  n=$(wc -l <"$1" | tr -d ' ')
  c0=$(stats .protocols.h2.connections)
  k0=$(stats .keepAlives)
  "$MGCALL" keep-alive --graph-url "$EMU_URL" --cacert "$EMU_CA" --parallel "${PARALLEL:-100}" \
    --output json --progress never --verbose "${@:3}" <"$1" >"$T/out" 2>"$T/err"
  t_eq "$?" 0 "$2: exit 0"
  t_eq "$(jq -r .callId "$T/out" | cmp - "$1" && echo same)" same \
    "$2: each id reported once, in input order"
  t_eq "$(jq -s 'map(select(.ok and .status == 200)) | length' "$T/out")" "$n" "$2: all $n ok"
  ATT=$(jq -s -r 'group_by(.attempts) | map("\(.[0].attempts):\(length)") | join(" ")' "$T/out")
  # less the two stats requests since c0 (one connection each)
  CONNS=$(($(stats .protocols.h2.connections) - c0 - 2))
  KA=$(($(stats .keepAlives) - k0))
  echo "  $2: attempts $ATT; $CONNS connections; $KA keepAlives done"
  grep -v ': status 200,' "$T/err" | sed 's/^/    /' | sort | uniq -c | sort -rn | head -5
  t_curl "$EMU_URL/_emulator/calls" | jq -r '.value[] | "\(.id) \(.keepAliveCount)"' |
    awk -v r="$ROUND" 'NR == FNR { want[$1] = 1; next } ($1 in want) && $2 >= r { n++ }
      END { print n + 0 }' "$1" - >"$T/kept"
  t_eq "$(cat "$T/kept")" "$n" "$2: every call got its keepAlive (none lost)"
}

# ---- 10,000 on one connection, at most 100 streams ----------------------------------
ROUND=0
batch "$T/ids10k" "10,000 ids"
t_eq "$ATT" "1:10000" "10,000 ids: no retry"
t_eq "$CONNS" 1 "10,000 ids: one connection"
t_eq "$(stats .protocols.h2.maxConcurrentStreams)" 100 "10,000 ids: 100 streams at once, never more"
t_eq "$KA" 10000 "10,000 ids: 10,000 keepAlives, none twice"

# ---- not processed: retried at once by libcurl -----------------------------------------
t_eq "$(faults "{\"rate\":0.05,\"statuses\":[\"rst_stream\"],\"seed\":$T_SEED}")" 200 \
  "faults: RST_STREAM REFUSED_STREAM on 5% of streams"
batch "$T/ids" "RST_STREAM REFUSED_STREAM" --retries 0
t_eq "$ATT" "1:1000" "REFUSED_STREAM: retried on a new connection, not counted"
t_eq "$KA" 1000 "REFUSED_STREAM: the refused streams were not processed (1000 keepAlives)"
t_ok '[ "$CONNS" -gt 1 ]' "REFUSED_STREAM: new connections for the retries ($CONNS)"

# The next three Graph requests each get a GOAWAY below the streams in
# flight (the batch's first 100 are sent at once): each stream is refused
# at most three times, below libcurl's own limit of five.
t_eq "$(faults '{"rate":0,"sequence":["goaway","goaway","goaway"]}')" 200 \
  "faults: GOAWAY (NO_ERROR) on the next three requests"
batch "$T/ids" "GOAWAY NO_ERROR" --retries 0
# libcurl 7.88 fails the first stream of each connection closed so with
# CURLE_HTTP2; the library sends it again at once (one more attempt per
# GOAWAY it meets, at most 3 here; no retry used: --retries 0)
t_ok '[ "${ATT#1:}" != "$ATT" ] && ! echo "$ATT" | grep -q " [5-9]:"' \
  "GOAWAY: streams above last-stream-id sent again at once, not counted ($ATT)"
t_ok '[ "$CONNS" -gt 1 ] && [ "$KA" -ge 1000 ]' "GOAWAY: new connections ($CONNS), $KA keepAlives"
# libcurl 7.88 opens a connection for every transfer waiting when one goes
# away (101-103 here before); the library allows 4 per host on HTTP/2
t_ok '[ "$CONNS" -le 13 ]' "GOAWAY: no connection storm: $CONNS connections for 3 GOAWAYs (at most 1 + 3 x 4)"
t_eq "$(faults '{"sequence":["goaway","goaway","goaway"],"goawayError":"REFUSED_STREAM"}')" 200 \
  "faults: GOAWAY with REFUSED_STREAM on the next three requests"
batch "$T/ids" "GOAWAY REFUSED_STREAM" --retries 0
t_ok '[ "$CONNS" -le 13 ]' "GOAWAY REFUSED_STREAM: no connection storm ($CONNS connections)"
t_eq "$(faults '{"goawayError":"NO_ERROR"}')" 200 "goawayError back to NO_ERROR"

t_eq "$(faults '{"rate":0,"maxRequestsPerConnection":300}')" 200 "300 requests a connection"
batch "$T/ids" "graceful GOAWAY every 300" --retries 0
t_eq "$ATT" "1:1000" "graceful GOAWAY: nothing retried"
# 1000/300: 4 connections at least; libcurl 7.88 would open one for each
# transfer waiting when one goes away (31-39 before the library's bound)
t_ok '[ "$CONNS" -ge 4 ] && [ "$CONNS" -le 16 ]' \
  "graceful GOAWAY: 4 to 16 connections, 4 at most per one lost ($CONNS)"
t_eq "$(faults '{"maxRequestsPerConnection":0}')" 200 "no request limit"

# ---- outcome unknown: the retry policy -------------------------------------------------
t_eq "$(faults '{"rate":0.05,"statuses":["rst_stream"],"rstStreamError":"INTERNAL_ERROR"}')" 200 \
  "faults: RST_STREAM INTERNAL_ERROR (after processing) on 5% of streams"
# --retries 5: with the default 3 one of the 1000 fails all 4 attempts in
# about 1 run of 160 (1000 x 0.05^4; seen once); now 1000 x 0.05^6
batch "$T/ids" "RST_STREAM INTERNAL_ERROR" --retries 5
t_ok '[ "${ATT%% *}" != "1:1000" ]' "INTERNAL_ERROR: retried as the policy says ($ATT)"
t_ok '[ "$KA" -gt 1000 ]' "INTERNAL_ERROR: reset after processing: $KA keepAlives (retries repeat some)"

t_eq "$(faults '{"rate":0,"sequence":["reset"]}')" 200 \
  "faults: the connection reset at the next request, with streams in flight"
batch "$T/ids" "connection reset"
t_ok '[ "${ATT%% *}" != "1:1000" ]' "reset: streams in flight retried as the policy says ($ATT)"
t_ok '[ "$CONNS" -le 5 ]' "reset: no connection storm ($CONNS connections; 59-100 before the bound)"
# ---- more streams in flight than one connection carries ----------------------------
# --parallel 1000 with a server allowing 50 streams a connection: the library
# lets libcurl open ceil(1000 / 100) + 3 = 13 connections to the host (4
# before, so at most 200 keepAlives could be in flight: issue 15's in-flight
# target over HTTP/2), and never many more (seen: 13 and 14; the bounds
# above allow one connection beyond the library's too).
t_eq "$(faults '{"rate":0,"maxConcurrentStreams":50}')" 200 "the server allows 50 streams a connection"
PARALLEL=1000 batch "$T/ids" "--parallel 1000, 50 streams a connection" --retries 0
t_eq "$ATT" "1:1000" "50 streams a connection: nothing retried"
t_ok '[ "$CONNS" -ge 8 ] && [ "$CONNS" -le 14 ]' \
  "50 streams a connection: more connections for more streams, at most 1 + 13 ($CONNS)"

t_eq "$(faults '{"rate":0}')" 200 "faults off"
t_ok '[ "$(stats .protocols.h2.resetFaults)" -ge 1 ] && [ "$(stats .protocols.h2.goawayFaults)" -ge 1 ] && [ "$(stats .protocols.h2.rstStreamFaults)" -ge 1 ]' \
  "the emulator injected every kind"
t_done
