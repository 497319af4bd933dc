#!/bin/bash
# SPDX-License-Identifier: MIT
# t_auth_mi.sh - managed identity end to end against the emulator's IMDS
# endpoint (--imds-url) and as App Service (IDENTITY_ENDPOINT +
# IDENTITY_HEADER), the cache, and errors.
. "$(dirname "$0")/lib.sh"

unset MGCALL_ACCESS_TOKEN AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET \
  AZURE_CLIENT_CERTIFICATE_PATH MGCALL_GRAPH_URL MGCALL_AUTHORITY_URL \
  AZURE_AUTHORITY_HOST IDENTITY_ENDPOINT IDENTITY_HEADER http_proxy HTTP_PROXY
export XDG_CACHE_HOME="$T/cache"
REC="$T/record.jsonl"
t_emulator_start --managed-identity mi-system@tenant-m \
  --managed-identity mi-user@tenant-u --record "$REC" || { t_done; exit 1; }
imds_requests() { grep -c 'metadata/identity/oauth2/token' "$REC" 2>/dev/null || true; }

t_expect_exit 0 "system-assigned identity via --imds-url" -- \
  "$MGCALL" token --json --managed-identity --imds-url "$EMU_URL"
t_eq "$(jq -r .tenantId "$T/out")" "tenant-m" "identity's tenant"
t_eq "$(jq -r .audience "$T/out")" "https://graph.microsoft.com" "Graph audience"
t_eq "$(jq -r .tokenCredentialType "$T/out")" "ManagedIdentity" "credential type"
t_eq "$(jq -r '.query["api-version"] + " " + .query.resource + " " + .headers.metadata' "$REC" | head -1)" \
  "2018-02-01 https://graph.microsoft.com true" "IMDS query and Metadata header"
t_eq "$(stat -c %a "$T/cache/mgcall/tokens.json" 2>/dev/null)" 600 "cached 0600"

t_expect_exit 0 "second run" -- \
  "$MGCALL" token --raw --managed-identity --imds-url "$EMU_URL"
t_eq "$(imds_requests)" 1 "second run uses the cache"

t_expect_exit 0 "user-assigned identity (--client-id)" -- \
  "$MGCALL" token --json --managed-identity --client-id mi-user --imds-url "$EMU_URL/"
t_eq "$(jq -r .tenantId "$T/out")" "tenant-u" "user-assigned identity's tenant"
t_eq "$(jq -r .clientId "$T/out")" "mi-user" "user-assigned client id"
t_eq "$(tail -n 1 "$REC" | jq -r .query.client_id)" "mi-user" "client_id sent to IMDS"
t_eq "$(imds_requests)" 2 "user-assigned identity is its own cache key"

t_expect_exit 3 "unknown user-assigned identity" -- \
  "$MGCALL" token --managed-identity --client-id mi-nobody --imds-url "$EMU_URL" \
  --no-token-cache
t_grep "$T/err" '^mgcall: token: managed identity endpoint refused: invalid_request: Identity not found' \
  "IMDS error verbatim"

t_expect_exit 0 "App Service (IDENTITY_ENDPOINT + IDENTITY_HEADER)" -- \
  env IDENTITY_ENDPOINT="$EMU_URL/metadata/identity/oauth2/token" \
  IDENTITY_HEADER=app-service-header-value \
  "$MGCALL" token --json --managed-identity --no-token-cache --debug
t_eq "$(jq -r .tenantId "$T/out")" "tenant-m" "App Service token"
t_eq "$(tail -n 1 "$REC" | jq -r '.query["api-version"] + " " + (.headers | has("x-identity-header") | tostring)')" \
  "2019-08-01 true" "App Service api-version and X-IDENTITY-HEADER sent"
t_grep "$T/err" '^> X-IDENTITY-HEADER: \[REDACTED\]|^\* h2h3 \[x-identity-header: \[REDACTED\]\]' \
  "identity header redacted (HTTP/1.1 or HTTP/2 trace)"
t_nogrep "$T/err" 'app-service-header-value' "identity header value absent"

t_expect_exit 7 "no IMDS listening" -- \
  "$MGCALL" token --managed-identity --imds-url http://127.0.0.1:9 \
  --no-token-cache --connect-timeout 2
t_grep "$T/err" 'cannot reach the managed identity endpoint' "network error explained"

t_expect_exit 3 "managed identity is not taken from the environment alone" -- \
  env IDENTITY_ENDPOINT="$EMU_URL/x" IDENTITY_HEADER=h "$MGCALL" token
t_done
