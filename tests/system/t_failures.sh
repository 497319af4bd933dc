#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_failures.sh - what the tool does when libc or libcurl fails under it,
# made to fail by tests/helpers/preload.c (LD_PRELOAD):
#  - the global initialisation runs once, in main(), not again in a
#    subcommand (keeper list, token, emulator);
#  - a header that cannot be added (out of memory) stops the request with an
#    error: no request goes to the keeper without its Authorization;
#  - keep-alive: running out of memory while reading stdin is an error, not
#    an exit 0 with the rest of the input dropped.
. "$(dirname "$0")/lib.sh"

PRELOAD="${MGCALL_BUILD_DIR:?}/tests/libmgcall-test-preload.so"
t_ok '[ -f "$PRELOAD" ]' "the preload helper is built"
# an ASan build checks that its runtime comes first; the helper has none
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
unset MGCALL_ACCESS_TOKEN AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET \
  http_proxy HTTP_PROXY
export XDG_CACHE_HOME="$T/cache"

# ---- one global initialisation ------------------------------------------------
LOG="$T/init.log"
inits() { # inits CMD...: run CMD with the helper; print its curl_global_init count
  : >"$LOG"
  LD_PRELOAD="$PRELOAD" MGCALL_TEST_INIT_LOG="$LOG" "$@" >"$T/out" 2>"$T/err" </dev/null
  wc -l <"$LOG"
}
t_eq "$(MGCALL_KEEPER_URL=http://127.0.0.1:9 inits "$MGCALL" keeper list)" 1 \
  "keeper list: libcurl initialised once"
printf 'app-secret\n' >"$T/secret"
t_emulator_start --client app1:app-secret || { t_done; exit 1; }
t_eq "$(inits "$MGCALL" token --tenant-id t1 --client-id app1 \
  --client-secret-file "$T/secret" --authority-url "$EMU_URL" --no-token-cache)" 1 \
  "token: libcurl initialised once"
t_grep "$T/out" 'ClientSecret|eyJ' "token: and it got a token"
t_emulator_stop
: >"$LOG"
LD_PRELOAD="$PRELOAD" MGCALL_TEST_INIT_LOG="$LOG" t_emulator_start || { t_done; exit 1; }
t_emulator_stop
t_eq "$EMU_STATUS" 0 "emulator with the helper: clean exit"
t_eq "$(wc -l <"$LOG")" 1 "emulator: libcurl initialised once"

# ---- no request without its Authorization ------------------------------------------
t_sink_start || { t_done; exit 1; }
printf 'api-token-0123456789\n' >"$T/api-token"
chmod 600 "$T/api-token"
LD_PRELOAD="$PRELOAD" MGCALL_TEST_FAIL_SLIST="Authorization:" MGCALL_KEEPER_URL="$SINK_URL" \
  "$MGCALL" keeper list --api-token-file "$T/api-token" >"$T/out" 2>"$T/err" </dev/null
rc=$?
t_ok '[ "$rc" -ne 0 ]' "keeper list: no Authorization header possible -> fails (exit $rc)"
t_grep "$T/err" 'out of memory' "and says why"
t_eq "$(wc -l <"$SINK_FILE")" 0 "no request went out without Authorization"
# the same with the helper idle: the request goes out, with the header
LD_PRELOAD="$PRELOAD" MGCALL_KEEPER_URL="$SINK_URL" \
  "$MGCALL" keeper list --api-token-file "$T/api-token" >"$T/out" 2>"$T/err" </dev/null
t_ok 't_wait_lines "$SINK_FILE" 1 5' "without the failure the request goes out"

# ---- keep-alive: out of memory while reading stdin ------------------------------------
printf '%s\n' id-1 id-2 id-3 >"$T/in"
LD_PRELOAD="$PRELOAD" MGCALL_TEST_FAIL_GETLINE=2 "$MGCALL" keep-alive --what-if \
  --graph-url http://127.0.0.1:9 <"$T/in" >"$T/out" 2>"$T/err"
rc=$?
t_ok '[ "$rc" -ne 0 ]' "getline out of memory on line 2: not exit 0 (exit $rc)"
t_grep "$T/err" 'reading stdin: Cannot allocate memory' "and says why"
t_eq "$(grep -c 'What if' "$T/out")" 0 "nothing is done with a partial input"
LD_PRELOAD="$PRELOAD" "$MGCALL" keep-alive --what-if --graph-url http://127.0.0.1:9 \
  <"$T/in" >"$T/out" 2>"$T/err"
t_eq "$?:$(grep -c 'What if' "$T/out")" 0:3 "with the helper idle: all 3 lines, exit 0"
t_done
