#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keeper_http2.sh - the keeper over HTTP/2: many keepAlives in flight are
# multiplexed as streams, the server's SETTINGS_MAX_CONCURRENT_STREAMS is
# respected, and beyond it another connection is opened.  The server is
# tests/helpers/h2_server.mjs (node, scripts/bootstrap) with a limit of 20
# streams a connection; 400 calls all due at once make the keeper want far
# more than 20 in flight.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
: "${MGCALL_SOURCE_DIR:?}"
unset https_proxy HTTPS_PROXY all_proxy ALL_PROXY
command -v node >/dev/null || { t_fail "node is missing (scripts/bootstrap)"; t_done; exit 1; }

t_make_cert || { t_fail "t_make_cert"; t_done; exit 1; }
node "$MGCALL_SOURCE_DIR/tests/helpers/h2_server.mjs" "$EMU_CERT" "$EMU_KEY" 20 \
  >"$T/h2.out" 2>"$T/h2.err" &
H2=$!
T_PIDS+=("$H2")
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^port //p' "$T/h2.out")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { t_fail "h2 server did not start: $(cat "$T/h2.err")"; t_done; exit 1; }
printf 'not-checked-here\n' >"$T/token"
chmod 600 "$T/token"
k_start --interval 30s --deadline 120s --access-token-file "$T/token" \
  --graph-url "https://127.0.0.1:$port" --cacert "$EMU_CA" || { t_done; exit 1; }
seq -f 'h2-call-%04g' 400 | "$MGCALL" keeper add - >/dev/null 2>"$T/add.err"
t_eq "$?" 0 "400 calls registered"
sent() { [ "$(k_metric 'mgcall_keeper_keepalives_total{status="200"}')" -ge 400 ] 2>/dev/null; }
k_until 30 sent
t_eq "$(k_metric 'mgcall_keeper_keepalives_total{status="200"}')" 400 \
  "every call kept alive over HTTP/2"
k_stop TERM
t_eq "$K_STATUS" 0 "keeper: SIGTERM -> exit 0"
kill -TERM "$H2"
wait "$H2"
read -r _ sessions _ streams _ maxc < <(grep '^sessions' "$T/h2.out")
read -r _ per < <(grep '^perSession' "$T/h2.out")
echo "server: $sessions connections, $streams streams, at most $maxc at once, $per on one connection"
t_eq "$streams" 400 "the server saw 400 keepAlives"
t_ok '[ "$per" -le 20 ]' "the server's limit of 20 streams a connection held ($per)"
t_ok '[ "$maxc" -gt 20 ]' "more than 20 in flight at once ($maxc): beyond the limit, more connections"
# (libcurl 7.88 opens many connections for a burst added before the first
# handshake tells whether the server multiplexes; PIPEWAIT does not hold
# them back: fewer than one a request is what holds)
t_ok '[ "$sessions" -ge 2 ] && [ "$sessions" -lt "$streams" ]' \
  "more than one connection, fewer than one a request ($sessions)"
t_done
