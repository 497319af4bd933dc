#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Only a keepAlive the server provably did not process is sent again at
# once without using a retry (issue 12): a GOAWAY whose last-stream-id is
# below its stream (libcurl 7.88 fails the first such stream of a
# connection with CURLE_HTTP2 instead of sending it again).  A stream at or
# below the last-stream-id may have been processed: the retry policy
# decides.  The server (tests/helpers/h2_goaway_server.mjs) writes exactly
# these frames and counts the requests it received.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/h2_lib.sh"

# serve MODE [N]: start the server (URL, SRV, SRV_OUT)
serve() { h2_serve h2_goaway_server.mjs "$@"; }
# counted: stops the server; COUNTED="REQUESTS CONNECTIONS" it saw, REQS
# the first (not in a subshell: wait needs the server as a child)
counted() {
  kill -TERM "$SRV"
  wait "$SRV"
  COUNTED=$(sed -n 's/^requests \([0-9]*\) connections \([0-9]*\)$/\1 \2/p' "$SRV_OUT")
  REQS=${COUNTED%% *}
}
KA=("$MGCALL" keep-alive --cacert "$EMU_CA" --output json --verbose --retries 0)

# ---- refused twice (GOAWAY last-stream-id 0), then answered ----------------------------
serve refuse 2 || { t_done; exit 1; }
t_expect_exit 0 "refused twice, then 200: success with --retries 0" -- \
  "${KA[@]}" --graph-url "$URL" call-1
t_eq "$(jq -c '[.ok, .status, .attempts]' "$T/out")" '[true,200,3]' \
  "sent again at once after each refusal, no retry used (3 sends)"
t_grep "$T/err" 'attempt 1$' "the first send failed (verbose)"
counted
t_eq "$COUNTED" "3 3" "the server saw 3 requests on 3 connections"

# ---- always refused: bounded as libcurl bounds its own (5 more sends) ------------------
serve refuse 1000 || { t_done; exit 1; }
t_expect_exit 7 "always refused: a network failure in the end" -- \
  "${KA[@]}" --graph-url "$URL" call-2
t_eq "$(jq -c '[.ok, .attempts]' "$T/out")" '[false,6]' "1 send and 5 resends, then the retry policy (--retries 0)"
counted
t_eq "$REQS" 6 "the server saw 6 requests"

# ---- processed, then the connection went away: not proof, the retry policy -------------
serve processed || { t_done; exit 1; }
t_expect_exit 7 "GOAWAY at or above the stream, no answer: --retries 0 fails" -- \
  "${KA[@]}" --graph-url "$URL" call-3
t_eq "$(jq -c '[.ok, .attempts]' "$T/out")" '[false,1]' "not sent again at once"
counted
t_eq "$REQS" 1 "the server saw 1 request"
serve processed || { t_done; exit 1; }
t_expect_exit 7 "the same with --retries 1: the retry is used" -- \
  "${KA[@]}" --graph-url "$URL" --retries 1 --retry-max-time 30 call-4
t_eq "$(jq -c '[.ok, .attempts]' "$T/out")" '[false,2]' "one retry, by the policy"
counted
t_eq "$REQS" 2 "the server saw 2 requests"

# ---- the trace that tells it is not printed unless asked for ---------------------------
t_nogrep "$T/err" 'Using Stream ID|GOAWAY|^\* ' "no libcurl trace on stderr without --debug"
t_done
