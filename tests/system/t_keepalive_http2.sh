#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Not serial: no check depends on timing (counts, order, bounded waits).
# A batch over HTTP/2: when the server offers h2 (ALPN), mgcall keep-alive
# multiplexes the whole batch on one connection with --parallel streams in
# flight.  The server is tests/helpers/h2_server.mjs (node, a tool of the
# machine: scripts/bootstrap).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/h2_lib.sh"

h2_serve h2_server.mjs || { t_done; exit 1; }

t_expect_exit 0 "one call over HTTP/2" -- "$MGCALL" keep-alive --graph-url "$URL" \
  --cacert "$EMU_CA" --debug one
t_grep "$T/err" '^\* ALPN: server accepted h2' "h2 negotiated"
t_grep "$T/err" '^> POST /v1.0/communications/calls/one/keepAlive HTTP/2' "request sent as HTTP/2"

seq 300 >"$T/ids"
"$MGCALL" keep-alive --graph-url "$URL" --cacert "$EMU_CA" --parallel 8 --output json \
  <"$T/ids" >"$T/out" 2>"$T/err"
t_eq "$?" 0 "300 calls over HTTP/2: exit 0"
t_eq "$(jq -r .callId "$T/out")" "$(cat "$T/ids")" "results in input order"
t_eq "$(jq -s 'map(select(.ok and .status == 200)) | length' "$T/out")" 300 "all 300 succeeded"
kill -TERM "$SRV"
wait "$SRV"
read -r _ sessions _ streams _ maxc < <(grep '^sessions' "$SRV_OUT")
t_eq "$streams" 301 "the server saw 301 requests"
t_eq "$sessions" 2 "one connection for the batch (plus one for the first call)"
t_ok '[ "$maxc" -ge 2 ] && [ "$maxc" -le 8 ]' \
  "streams multiplexed, at most --parallel 8 in flight ($maxc)"
t_done
