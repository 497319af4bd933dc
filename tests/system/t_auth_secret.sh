#!/bin/bash
# SPDX-License-Identifier: MIT
# t_auth_secret.sh - client-secret credential end to end against the real
# emulator over HTTPS: options and environment variables, the token request
# the emulator recorded, AAD errors verbatim (exit 3), TLS failure (exit 7),
# redaction in --debug, the token cache (mode 0600, reuse, refusal of a
# group-writable file, --no-token-cache), the scope and --environment.
. "$(dirname "$0")/lib.sh"

unset MGCALL_ACCESS_TOKEN AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET \
  AZURE_CLIENT_CERTIFICATE_PATH AZURE_CLIENT_CERTIFICATE_PASSWORD \
  MGCALL_GRAPH_URL MGCALL_AUTHORITY_URL AZURE_AUTHORITY_HOST \
  IDENTITY_ENDPOINT IDENTITY_HEADER https_proxy HTTPS_PROXY http_proxy
export XDG_CACHE_HOME="$T/cache"
CACHE="$T/cache/mgcall/tokens.json"
SECRET='s3cr3t-Value_with+special&chars'
printf '%s\n' "$SECRET" >"$T/secret"
REC="$T/record.jsonl"

t_make_cert || { t_fail "cannot make certificates"; t_done; exit 1; }
t_emulator_start --tls-cert "$EMU_CERT" --tls-key "$EMU_KEY" \
  --client "app-1:$SECRET" --roles Calls.Initiate.All,Calls.AccessMedia.All \
  --record "$REC" || { t_done; exit 1; }

token_requests() { grep -c 'oauth2/v2.0/token' "$REC" 2>/dev/null || true; }
AUTH=(--tenant-id tenant-1 --client-id app-1 --client-secret-file "$T/secret"
  --authority-url "$EMU_URL" --cacert "$EMU_CA")

t_expect_exit 0 "client secret from files" -- "$MGCALL" token --json "${AUTH[@]}"
t_eq "$(jq -r .tenantId "$T/out")" "tenant-1" "tenant of the token"
t_eq "$(jq -r .clientId "$T/out")" "app-1" "app id of the token"
t_eq "$(jq -r '.roles | join(",")' "$T/out")" \
  "Calls.Initiate.All,Calls.AccessMedia.All" "roles of the token"
t_eq "$(jq -r .audience "$T/out")" "https://graph.microsoft.com" \
  "audience: the Graph resource, not the emulator's URL"
t_eq "$(jq -r .tokenCredentialType "$T/out")" "ClientSecret" "credential type"
t_eq "$(jq -r .authType "$T/out")" "AppOnly" "app-only token"
t_eq "$(token_requests)" 1 "one token request sent"
t_grep "$REC" '"POST"' "the token request is a POST"
t_grep "$REC" '/tenant-1/oauth2/v2.0/token' "token URL has the tenant"
t_nogrep "$REC" 's3cr3t' "the record holds no secret"

# the cache file
t_eq "$(stat -c %a "$CACHE" 2>/dev/null)" 600 "cache file mode 0600"
t_eq "$(stat -c %a "$(dirname "$CACHE")" 2>/dev/null)" 700 "cache dir mode 0700"
t_eq "$(jq -r '.tokens[0].tenant + " " + .tokens[0].client + " " + .tokens[0].scope' "$CACHE")" \
  "tenant-1 app-1 https://graph.microsoft.com/.default" "cache keyed by tenant, client, scope"
t_eq "$(jq -r '.tokens[0].authority' "$CACHE")" "$EMU_URL" "cache keyed by authority"

t_expect_exit 0 "second run" -- "$MGCALL" token --raw "${AUTH[@]}"
t_eq "$(token_requests)" 1 "second run reuses the cached token (no request)"
t_eq "$(cat "$T/out")" "$(jq -r '.tokens[0].access_token' "$CACHE")" \
  "--raw prints the cached token"

t_expect_exit 0 "--no-token-cache" -- "$MGCALL" token --raw --no-token-cache "${AUTH[@]}"
t_eq "$(token_requests)" 2 "--no-token-cache requests a token"

t_expect_exit 0 "--force-refresh" -- "$MGCALL" token --raw --force-refresh "${AUTH[@]}"
t_eq "$(token_requests)" 3 "--force-refresh requests a token"
t_eq "$(jq -r '.tokens | length' "$CACHE")" 1 "refresh replaced the entry"

# another tenant is another key
t_expect_exit 0 "another tenant" -- "$MGCALL" token --json \
  --tenant-id tenant-2 --client-id app-1 --client-secret-file "$T/secret" \
  --authority-url "$EMU_URL" --cacert "$EMU_CA"
t_eq "$(jq -r .tenantId "$T/out")" "tenant-2" "token of the other tenant"
t_eq "$(token_requests)" 4 "another tenant requests its own token"
t_eq "$(jq -r '.tokens | length' "$CACHE")" 2 "two entries cached"

# a group-writable cache file is refused
chmod 664 "$CACHE"
t_expect_exit 0 "group-writable cache file" -- "$MGCALL" token --raw "${AUTH[@]}"
t_grep "$T/err" '^mgcall: warning: token cache .* writable by other users' \
  "clear warning about the cache file"
t_eq "$(token_requests)" 5 "refused cache: a token was requested"
t_eq "$(stat -c %a "$CACHE")" 664 "refused cache file left alone"
chmod 600 "$CACHE"
chmod 777 "$(dirname "$CACHE")"
t_expect_exit 0 "world-writable cache directory" -- "$MGCALL" token --raw "${AUTH[@]}"
t_grep "$T/err" 'warning: token cache directory .* writable' "warning about the directory"
t_eq "$(token_requests)" 6 "refused cache dir: a token was requested"
chmod 700 "$(dirname "$CACHE")"

# environment variables
t_expect_exit 0 "client secret from the environment" -- \
  env AZURE_TENANT_ID=tenant-3 AZURE_CLIENT_ID=app-1 AZURE_CLIENT_SECRET="$SECRET" \
  MGCALL_AUTHORITY_URL="$EMU_URL" "$MGCALL" token --json --cacert "$EMU_CA"
t_eq "$(jq -r .tenantId "$T/out")" "tenant-3" "AZURE_TENANT_ID used"
t_eq "$(jq -r .tokenCredentialType "$T/out")" "ClientSecret" "env: ClientSecret"
t_expect_exit 0 "AZURE_AUTHORITY_HOST" -- \
  env AZURE_TENANT_ID=tenant-4 AZURE_CLIENT_ID=app-1 AZURE_CLIENT_SECRET="$SECRET" \
  AZURE_AUTHORITY_HOST="$EMU_URL/" "$MGCALL" token --json --cacert "$EMU_CA"
t_eq "$(jq -r .tenantId "$T/out")" "tenant-4" "AZURE_AUTHORITY_HOST used"
t_expect_exit 0 "--tenant-id wins over AZURE_TENANT_ID" -- \
  env AZURE_TENANT_ID=tenant-x AZURE_CLIENT_ID=app-1 AZURE_CLIENT_SECRET="$SECRET" \
  "$MGCALL" token --json --tenant-id tenant-5 --authority-url "$EMU_URL" --cacert "$EMU_CA"
t_eq "$(jq -r .tenantId "$T/out")" "tenant-5" "option beats environment"

# scope: the cloud's Graph resource even with --graph-url; --scope overrides
t_expect_exit 0 "USGov environment" -- "$MGCALL" token --json --no-token-cache \
  --environment USGov --graph-url "$EMU_URL" "${AUTH[@]}"
t_eq "$(jq -r .audience "$T/out")" "https://graph.microsoft.us" "USGov Graph audience"
t_eq "$(jq -r .environment "$T/out")" "USGov" "environment shown"
t_expect_exit 0 "--scope" -- "$MGCALL" token --json --no-token-cache \
  --scope "$EMU_URL/.default" "${AUTH[@]}"
t_eq "$(jq -r .audience "$T/out")" "$EMU_URL" "--scope decides the audience"

# wrong secret: AAD error verbatim, exit 3
printf 'wrong\n' >"$T/wrong"
t_expect_exit 3 "wrong secret" -- "$MGCALL" token --no-token-cache \
  --tenant-id tenant-1 --client-id app-1 --client-secret-file "$T/wrong" \
  --authority-url "$EMU_URL" --cacert "$EMU_CA"
t_grep "$T/err" '^mgcall: token: token endpoint refused: invalid_client: AADSTS7000215: ' \
  "AADSTS text reported verbatim"
t_grep "$T/err" 'error codes 7000215' "error codes reported"
t_eq "$(wc -l <"$T/err")" 1 "one error line"
t_nogrep "$T/err" 'wrong' "the wrong secret is not echoed"

t_expect_exit 3 "unknown client" -- "$MGCALL" token --no-token-cache \
  --tenant-id tenant-1 --client-id app-9 --client-secret-file "$T/secret" \
  --authority-url "$EMU_URL" --cacert "$EMU_CA"
t_grep "$T/err" 'AADSTS700016' "unknown application reported"

# TLS is verified: without --cacert the emulator's certificate fails (7)
t_expect_exit 7 "TLS failure without --cacert" -- "$MGCALL" token --no-token-cache \
  --tenant-id tenant-1 --client-id app-1 --client-secret-file "$T/secret" \
  --authority-url "$EMU_URL"
t_grep "$T/err" 'cannot reach the token endpoint' "TLS failure explained"

# connection refused (7)
t_expect_exit 7 "nothing listening" -- "$MGCALL" token --no-token-cache \
  --tenant-id tenant-1 --client-id app-1 --client-secret-file "$T/secret" \
  --authority-url http://127.0.0.1:9 --connect-timeout 2

# --debug: the request and answer are shown, the secret and token are not
t_expect_exit 0 "--debug" -- "$MGCALL" token --raw --debug --no-token-cache "${AUTH[@]}"
TOKEN=$(cat "$T/out")
t_grep "$T/err" '^> POST /tenant-1/oauth2/v2.0/token' "debug shows the request"
t_grep "$T/err" 'client_secret=\[REDACTED\]' "debug redacts client_secret"
t_grep "$T/err" '"access_token": ?"\[REDACTED\]"' "debug redacts access_token"
t_nogrep "$T/err" 's3cr3t' "secret absent from --debug"
t_nogrep "$T/err" "${TOKEN:0:40}" "token absent from --debug"
t_done
