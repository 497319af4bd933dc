#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall keep-alive without a server: usage errors, --what-if (no token, no
# request, ids as one percent-encoded segment), stdin parsing with line
# numbers, no credentials, network failure, and --help = man page =
# completion.
. "$(dirname "$0")/lib.sh"
: "${MGCALL_SOURCE_DIR:?}"
unset MGCALL_ACCESS_TOKEN AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET \
  AZURE_CLIENT_CERTIFICATE_PATH MGCALL_GRAPH_URL MGCALL_AUTHORITY_URL
export XDG_CACHE_HOME=$T/cache
KA=("$MGCALL" keep-alive)

# --- usage errors (exit 2, nothing else happens) ---
t_expect_exit 2 "empty --call-id" -- "${KA[@]}" --what-if --call-id ''
t_grep "$T/err" '^mgcall: empty call id$' "empty id message"
t_expect_exit 2 "empty positional id" -- "${KA[@]}" --what-if ''
for h in $'X-A: b\r\nHost: evil' $'X-A: b\nX-B: c' 'Authorization: Bearer x' \
  'host: a' 'Content-Length: 3' 'Bad Name: x' 'NoColon'; do
  t_expect_exit 2 "header refused: $(printf %q "$h")" -- "${KA[@]}" --what-if -H "$h" a
done
t_grep "$T/err" '^mgcall: bad header: ' "bad header message"
t_expect_exit 2 "--input-object without CallId" -- "${KA[@]}" --what-if --input-object '{"Id":"x"}'
t_grep "$T/err" 'input object has no CallId' "no CallId message"
t_expect_exit 2 "--input-object not JSON" -- "${KA[@]}" --what-if --input-object 'abc'
t_expect_exit 2 "--output xml" -- "${KA[@]}" --output xml a
t_expect_exit 2 "--progress sometimes" -- "${KA[@]}" --progress sometimes a
t_expect_exit 2 "--on-error maybe" -- "${KA[@]}" --on-error maybe a
t_expect_exit 2 "--api-version v2" -- "${KA[@]}" --api-version v2 a
t_expect_exit 2 "--parallel 0" -- "${KA[@]}" --parallel 0 a
t_expect_exit 2 "--retries 11" -- "${KA[@]}" --retries 11 a
t_expect_exit 2 "--retry-max-time soon" -- "${KA[@]}" --retry-max-time soon a
t_expect_exit 2 "unknown option" -- "${KA[@]}" --frobnicate a
t_expect_exit 2 "--confirm without a terminal" -- setsid "${KA[@]}" --confirm --what-if a
t_grep "$T/err" 'confirm needs a terminal' "--confirm message"

# --- --what-if: prints, sends nothing, needs no credentials ---
t_expect_exit 0 "--what-if with odd ids" -- "${KA[@]}" --what-if \
  --graph-url https://127.0.0.1:9/ a --call-id 'b/c' '..' 'd?e#f g' $'caf\xc3\xa9' \
  --input-object '{"callid":"x/y","TenantId":"t"}'
t_eq "$(cat "$T/out")" "What if: POST https://127.0.0.1:9/v1.0/communications/calls/a/keepAlive
What if: POST https://127.0.0.1:9/v1.0/communications/calls/b%2Fc/keepAlive
What if: POST https://127.0.0.1:9/v1.0/communications/calls/%2E%2E/keepAlive
What if: POST https://127.0.0.1:9/v1.0/communications/calls/d%3Fe%23f%20g/keepAlive
What if: POST https://127.0.0.1:9/v1.0/communications/calls/caf%C3%A9/keepAlive
What if: POST https://127.0.0.1:9/v1.0/communications/calls/x%2Fy/keepAlive" \
  "--what-if: ids in order, each one percent-encoded segment"
t_expect_exit 0 "--what-if beta, national cloud" -- "${KA[@]}" --what-if \
  --api-version beta --environment USGov a
t_eq "$(cat "$T/out")" "What if: POST https://graph.microsoft.us/beta/communications/calls/a/keepAlive" \
  "--what-if beta URL on USGov"

t_expect_exit 0 "ids after --" -- "${KA[@]}" --what-if --graph-url http://h a -- -b --c
t_eq "$(cat "$T/out")" "What if: POST http://h/v1.0/communications/calls/a/keepAlive
What if: POST http://h/v1.0/communications/calls/-b/keepAlive
What if: POST http://h/v1.0/communications/calls/--c/keepAlive" "ids after -- are ids"

# --- stdin: bare ids, identity objects, skipped lines, bad lines ---
printf '%s\n' 'id-1' '' '  # comment' '{"CallId":"id-2"}' '{"foo":1}' \
  '  id 3  ' '{"CallId":' >"$T/in"
"${KA[@]}" --what-if --graph-url http://127.0.0.1:9 <"$T/in" >"$T/out" 2>"$T/err"
rc=$?
t_eq "$rc" 2 "stdin with bad lines: exit 2"
t_eq "$(cat "$T/out")" "What if: POST http://127.0.0.1:9/v1.0/communications/calls/id-1/keepAlive
What if: POST http://127.0.0.1:9/v1.0/communications/calls/id-2/keepAlive
What if: POST http://127.0.0.1:9/v1.0/communications/calls/id%203/keepAlive" \
  "stdin: good lines still processed, in order"
t_grep "$T/err" '^mgcall: stdin line 5: input object has no CallId$' "bad line 5 named"
t_grep "$T/err" '^mgcall: stdin line 7: bad JSON' "bad line 7 named"

# --- no credentials -> 3, nothing sent ---
t_expect_exit 3 "no credentials" -- "${KA[@]}" --graph-url http://127.0.0.1:9 a
t_grep "$T/err" '^mgcall: no credentials' "no credentials message"

# --- network failure -> 7 (nothing listens on port 1) ---
export MGCALL_ACCESS_TOKEN=not-a-jwt
t_expect_exit 7 "connection refused" -- "${KA[@]}" --retries 0 \
  --graph-url http://127.0.0.1:1 --output json a
t_grep "$T/out" '^\{"callId":"a","ok":false,"status":0,"attempts":1,' "json line for the failure"
t_grep "$T/err" '^mgcall: call a: network or TLS failure: .*client-request-id [0-9a-f-]{36}' \
  "network error line names the call and client-request-id"
t_nogrep "$T/err" 'not-a-jwt' "token not printed"
# --proxy is used: the request goes to the proxy (nothing listens there).
t_expect_exit 7 "--proxy to a closed port" -- "${KA[@]}" --retries 0 --debug \
  --graph-url http://127.0.0.1:9 --proxy http://127.0.0.1:1 a
t_grep "$T/err" 'Trying 127\.0\.0\.1:1\.\.\.' "--proxy: connects to the proxy"
t_nogrep "$T/err" 'Trying 127\.0\.0\.1:9\.\.\.' "--proxy: not to the server directly"
unset MGCALL_ACCESS_TOKEN

# --- --help, man page and completion agree ---
t_expect_exit 0 "keep-alive --help" -- "${KA[@]}" --help
grep -oE -- '--[a-z][a-z0-9-]+' "$T/out" | sort -u >"$T/help_opts"
man_opts=$(sed -n '/^\.SH OPTIONS/,/^\.SH EXIT STATUS/p' "$MGCALL_SOURCE_DIR/docs/mgcall-keep-alive.1" |
  grep -oE -- '\\-\\-[a-z][a-z0-9\\-]+' | sed 's/\\//g' | sort -u)
comp=$(cat "$MGCALL_SOURCE_DIR/dist/mgcall.bash-completion")
for o in call-id input-object header pass-thru response-headers what-if confirm \
  progress on-error debug verbose api-version output parallel retries \
  retry-max-time proxy help; do
  t_grep "$T/help_opts" "^--$o\$" "--help lists --$o"
  t_ok 'grep -qx -- "--$o" <<<"$man_opts"' "man page lists --$o"
  t_ok 'grep -q -- "--$o" <<<"$comp"' "completion has --$o"
done
for code in 0 1 2 3 4 5 6 7 8; do
  t_ok 'sed -n "/^\.SH EXIT STATUS/,/^\.SH ENVIRONMENT/p" "$MGCALL_SOURCE_DIR/docs/mgcall.1" |
    grep -qx "\.B $code"' "man EXIT STATUS has $code"
done
t_done
