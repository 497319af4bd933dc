# SPDX-License-Identifier: MIT
# h2_lib.sh - the start-up of the tests against a node HTTP/2 server of
# tests/helpers (t_keepalive_http2.sh, t_keepalive_http2_exact.sh).  Source
# after lib.sh; it unsets the proxies, gives mgcall a private cache and a
# token the servers do not check, and makes the test certificate (fails the
# test when node or the certificate is missing).
#
# h2_serve SERVER.mjs [ARGS...]
#   Starts node tests/helpers/SERVER.mjs CERT KEY ARGS (the Nth one's
#   output in $T/srv.N.out, stderr in .err) and waits for its "port N"
#   line: sets URL (https://127.0.0.1:PORT), SRV (its pid, in T_PIDS) and
#   SRV_OUT.  Returns 1 (counted) when it does not start.
: "${MGCALL_SOURCE_DIR:?}"
unset https_proxy HTTPS_PROXY all_proxy ALL_PROXY
export XDG_CACHE_HOME=$T/cache MGCALL_ACCESS_TOKEN=not-checked-here
command -v node >/dev/null || { t_fail "node is missing (scripts/bootstrap)"; t_done; exit 1; }
t_make_cert || { t_fail "t_make_cert"; t_done; exit 1; }

H2_SRV_N=0
h2_serve() {
  local script=$1 port= i
  shift
  H2_SRV_N=$((H2_SRV_N + 1))
  SRV_OUT=$T/srv.$H2_SRV_N.out
  node "$MGCALL_SOURCE_DIR/tests/helpers/$script" "$EMU_CERT" "$EMU_KEY" "$@" \
    >"$SRV_OUT" 2>"$SRV_OUT.err" &
  SRV=$!
  T_PIDS+=("$SRV")
  for i in $(seq 100); do
    port=$(sed -n 's/^port //p' "$SRV_OUT")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { t_fail "$script did not start: $(cat "$SRV_OUT.err")"; return 1; }
  URL=https://127.0.0.1:$port
}
