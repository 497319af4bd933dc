#!/bin/bash
# SPDX-License-Identifier: MIT
# t_token_margin.sh - a cached token is reused only while more than 5 minutes
# remain: with the emulator issuing 4-minute tokens every run asks for a new
# one; with 10-minute tokens the second run uses the cache.  Also: the
# per-tenant entries live side by side in one file.
. "$(dirname "$0")/lib.sh"

unset MGCALL_ACCESS_TOKEN AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET \
  AZURE_CLIENT_CERTIFICATE_PATH MGCALL_AUTHORITY_URL AZURE_AUTHORITY_HOST \
  http_proxy HTTP_PROXY
export XDG_CACHE_HOME="$T/cache"
printf 'pw\n' >"$T/secret"
AUTH=(--tenant-id t1 --client-id app --client-secret-file "$T/secret")

t_emulator_start --client app:pw --token-lifetime 4m --record "$T/short.jsonl" || { t_done; exit 1; }
for i in 1 2; do
  t_expect_exit 0 "4-minute token, run $i" -- \
    "$MGCALL" token --json "${AUTH[@]}" --authority-url "$EMU_URL"
done
t_eq "$(grep -c oauth2/v2.0/token "$T/short.jsonl")" 2 \
  "a token with under 5 minutes left is not reused"
t_emulator_stop

rm -rf "$T/cache"
t_emulator_start --client app:pw --token-lifetime 10m --record "$T/long.jsonl" || { t_done; exit 1; }
for i in 1 2; do
  t_expect_exit 0 "10-minute token, run $i" -- \
    "$MGCALL" token --json "${AUTH[@]}" --authority-url "$EMU_URL"
done
t_eq "$(grep -c oauth2/v2.0/token "$T/long.jsonl")" 1 \
  "a token with over 5 minutes left is reused"
EXP=$(jq -r .expiresAt "$T/out")
NOW=$(date +%s)
t_eq "$(( EXP - NOW > 300 && EXP - NOW <= 600 ))" 1 "expiresAt is about 10 minutes ahead"
t_done
