#!/bin/bash
# SPDX-License-Identifier: MIT
# t_auth_opts.sh - the shared auth/endpoint options through `mgcall token`,
# with no network: access token from a file and from the environment,
# precedence, missing credentials (3), bad values (2).
. "$(dirname "$0")/lib.sh"

unset MGCALL_ACCESS_TOKEN AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET \
  AZURE_CLIENT_CERTIFICATE_PATH AZURE_CLIENT_CERTIFICATE_PASSWORD \
  MGCALL_GRAPH_URL MGCALL_AUTHORITY_URL AZURE_AUTHORITY_HOST \
  IDENTITY_ENDPOINT IDENTITY_HEADER
export XDG_CACHE_HOME="$T/cache"

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
jwt() { # jwt CLAIMS-JSON
  printf '%s.%s.c2ln\n' "$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)" \
    "$(printf '%s' "$1" | b64url)"
}
jwt '{"tid":"tenant-file","appid":"app-file","roles":["Calls.Initiate.All"],"aud":"https://graph.microsoft.com","exp":1900000000}' >"$T/token"
ENV_TOKEN=$(jwt '{"tid":"tenant-env","appid":"app-env","roles":["Calls.AccessMedia.All"],"exp":1900000000}')

t_expect_exit 0 "token from --access-token-file" -- \
  "$MGCALL" token --access-token-file "$T/token"
t_grep "$T/out" '^TenantId +: tenant-file$' "tenant shown"
t_grep "$T/out" '^ClientId +: app-file$' "app id shown"
t_grep "$T/out" '^Roles +: Calls.Initiate.All$' "roles shown"
t_grep "$T/out" '^ExpiresOn +: 2030-03-17T17:46:40Z$' "expiry shown"
t_grep "$T/out" '^TokenCredentialType +: UserProvidedAccessToken$' "type shown"

t_expect_exit 0 "--raw prints the token only" -- \
  "$MGCALL" token --raw --access-token-file "$T/token"
t_eq "$(cat "$T/out")" "$(cat "$T/token")" "--raw output is the token"

t_expect_exit 0 "token from MGCALL_ACCESS_TOKEN" -- \
  env MGCALL_ACCESS_TOKEN="$ENV_TOKEN" "$MGCALL" token --json
t_eq "$(jq -r .tenantId "$T/out")" "tenant-env" "--json tenantId from env token"
t_eq "$(jq -r '.roles[0]' "$T/out")" "Calls.AccessMedia.All" "--json roles"

t_expect_exit 0 "command line wins over the environment" -- \
  env MGCALL_ACCESS_TOKEN="$ENV_TOKEN" "$MGCALL" token --json \
  --access-token-file "$T/token"
t_eq "$(jq -r .tenantId "$T/out")" "tenant-file" "file token used"

t_expect_exit 0 "access token wins over a client secret in the environment" -- \
  env MGCALL_ACCESS_TOKEN="$ENV_TOKEN" AZURE_TENANT_ID=t AZURE_CLIENT_ID=c \
  AZURE_CLIENT_SECRET=s "$MGCALL" token --json
t_eq "$(jq -r .tokenCredentialType "$T/out")" "UserProvidedAccessToken" \
  "token first in SPEC order"

t_expect_exit 3 "no credentials" -- "$MGCALL" token
t_grep "$T/err" '^mgcall: no credentials' "no-credentials message"

t_expect_exit 3 "unreadable token file" -- \
  "$MGCALL" token --access-token-file "$T/missing"
t_grep "$T/err" "^mgcall: --access-token-file .*missing: No such file" \
  "names the file and the reason"

printf 'two words\n' >"$T/badtoken"
t_expect_exit 3 "token with a space" -- \
  "$MGCALL" token --access-token-file "$T/badtoken"

: >"$T/empty"
t_expect_exit 3 "empty secret file" -- \
  "$MGCALL" token --tenant-id t --client-id c --client-secret-file "$T/empty"
t_grep "$T/err" "is empty" "empty file message"

printf 's3cret\n' >"$T/secret"
t_expect_exit 3 "client secret without tenant" -- \
  "$MGCALL" token --client-id c --client-secret-file "$T/secret"
t_grep "$T/err" "no tenant id" "missing tenant named"

t_expect_exit 2 "no secret on the command line" -- \
  "$MGCALL" token --client-secret s3cret
t_expect_exit 2 "unknown environment" -- \
  "$MGCALL" token --environment Mars --access-token-file "$T/token"
t_expect_exit 2 "bad --assertion-alg" -- \
  "$MGCALL" token --assertion-alg HS256 --access-token-file "$T/token"
t_expect_exit 2 "bad --timeout" -- \
  "$MGCALL" token --timeout soon --access-token-file "$T/token"
t_expect_exit 2 "bad --connect-timeout" -- \
  "$MGCALL" token --connect-timeout 0 --access-token-file "$T/token"
t_expect_exit 2 "bad --graph-url" -- \
  "$MGCALL" token --graph-url ftp://x --access-token-file "$T/token"
t_expect_exit 2 "bad MGCALL_GRAPH_URL" -- \
  env MGCALL_GRAPH_URL=nowhere "$MGCALL" token --access-token-file "$T/token"
t_expect_exit 2 "missing --cacert file" -- \
  "$MGCALL" token --cacert "$T/nope.pem" --access-token-file "$T/token"
t_expect_exit 0 "environment names are case-insensitive" -- \
  "$MGCALL" token --environment usgov --json --access-token-file "$T/token"
t_eq "$(jq -r .environment "$T/out")" "USGov" "canonical environment name"

t_expect_exit 0 "--help lists the auth options" -- "$MGCALL" token --help
for o in --access-token-file --tenant-id --client-id --client-secret-file \
  --certificate --certificate-password-file --send-certificate-chain \
  --assertion-alg --managed-identity --imds-url --scope --no-token-cache \
  --environment --graph-url --authority-url --cacert --connect-timeout \
  --timeout --proxy --raw --json; do
  t_grep "$T/out" "^ +$o" "help has $o"
done
t_done
