#!/bin/bash
# SPDX-License-Identifier: MIT
# t_auth_garbage.sh - a token endpoint that answers something that is not a
# token response: a clear message and the documented exit code, no crash.
# The endpoint is tests/helpers' sink (it answers 200 with no token, or 500).
. "$(dirname "$0")/lib.sh"

unset MGCALL_ACCESS_TOKEN AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET \
  AZURE_CLIENT_CERTIFICATE_PATH MGCALL_AUTHORITY_URL AZURE_AUTHORITY_HOST \
  http_proxy HTTP_PROXY
export XDG_CACHE_HOME="$T/cache"
printf 'secret\n' >"$T/secret"
AUTH=(--tenant-id t --client-id c --client-secret-file "$T/secret" --no-token-cache)

t_sink_start || { t_done; exit 1; }
t_expect_exit 3 "200 without a token" -- "$MGCALL" token --authority-url "$SINK_URL" "${AUTH[@]}"
t_grep "$T/err" '^mgcall: token: token endpoint answered HTTP 200' "says what came back"
t_eq "$(wc -l <"$T/err")" 1 "one line"

t_sink_start --fail 5 || { t_done; exit 1; }
t_expect_exit 7 "500 that is not an error body" -- "$MGCALL" token --authority-url "$SINK_URL" "${AUTH[@]}"
t_grep "$T/err" '^mgcall: token: token endpoint answered HTTP 500' "500 explained"

# the emulator's Graph side is not a token endpoint either: an OData 404
t_emulator_start || { t_done; exit 1; }
t_expect_exit 3 "authority pointing at Graph" -- \
  "$MGCALL" token --authority-url "$EMU_URL/v1.0/communications/calls" "${AUTH[@]}"
t_grep "$T/err" '^mgcall: token: token endpoint ' "clear message"

# a token endpoint that keeps answering 503 + Retry-After: 2 retries, then
# exit 6 (throttled or unavailable), the AAD error shown
t_emulator_start --fault-rate 1 --fault-status 503 --fault-scope token \
  --retry-after 1 --record "$T/faults.jsonl" || { t_done; exit 1; }
t_expect_exit 6 "token endpoint unavailable" -- \
  "$MGCALL" token --authority-url "$EMU_URL" "${AUTH[@]}"
t_grep "$T/err" '^mgcall: token: token endpoint answered HTTP 503: temporarily_unavailable: AADSTS90033' \
  "503 explained with the AAD error"
t_eq "$(grep -c oauth2/v2.0/token "$T/faults.jsonl")" 3 "one request and two retries"
t_done
