#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall keep-alive against the real emulator over HTTPS: success with and
# without --pass-thru, --output json, --response-headers, --verbose, --debug
# redaction, --what-if sends nothing, header injection refused, TLS failure
# without --cacert, 404 after the call ends (hint), 401 and 403 (hint with
# roles), odd ids sent as one percent-encoded segment.
. "$(dirname "$0")/lib.sh"
unset MGCALL_ACCESS_TOKEN AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET \
  AZURE_CLIENT_CERTIFICATE_PATH MGCALL_GRAPH_URL MGCALL_AUTHORITY_URL \
  https_proxy HTTPS_PROXY http_proxy all_proxy ALL_PROXY
export XDG_CACHE_HOME=$T/cache

t_make_cert || { t_fail "t_make_cert"; t_done; exit 1; }
REC=$T/record.jsonl
t_emulator_start --tls-cert "$EMU_CERT" --tls-key "$EMU_KEY" \
  --client app1:s3cret --record "$REC" || { t_done; exit 1; }
TOK=$(t_emulator_token tenant-a app1 s3cret)
[ -n "$TOK" ] || t_fail "no token from the emulator"
printf '%s' "$TOK" >"$T/token"
chmod 600 "$T/token"
ID=$(t_emulator_call "$TOK")
[ -n "$ID" ] || t_fail "no call created"
KA=("$MGCALL" keep-alive --graph-url "$EMU_URL" --cacert "$EMU_CA"
  --access-token-file "$T/token")
records() { wc -l <"$REC" | tr -d ' '; }

# --- success, no output; --pass-thru prints True ---
t_expect_exit 0 "keepAlive succeeds" -- "${KA[@]}" "$ID"
t_eq "$(cat "$T/out")" "" "success prints nothing"
t_eq "$(cat "$T/err")" "" "success: stderr empty"
t_expect_exit 0 "--pass-thru" -- "${KA[@]}" --pass-thru --call-id "$ID"
t_eq "$(cat "$T/out")" "True" "--pass-thru prints True"

# What the emulator received: the request exactly as SPEC section 2.
last=$(grep '"keepAlive"\|/keepAlive' "$REC" | tail -n 1)
t_eq "$(jq -r .method <<<"$last")" POST "method POST"
t_eq "$(jq -r .path <<<"$last")" "/v1.0/communications/calls/$ID/keepAlive" "path"
t_eq "$(jq -r .status <<<"$last")" 200 "status 200 recorded"
t_eq "$(jq -r '.headers."content-length"' <<<"$last")" 0 "Content-Length: 0"
t_eq "$(jq -r '.headers.accept' <<<"$last")" application/json "Accept"
t_eq "$(jq -r '.headers."user-agent"' <<<"$last")" "mgcall/$("$MGCALL" --version | cut -d' ' -f2)" "User-Agent"
t_eq "$(jq -r '.headers.authorization' <<<"$last")" "[REDACTED]" "Authorization sent (redacted in record)"
crid=$(jq -r '.headers."client-request-id"' <<<"$last")
t_ok '[[ $crid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]' \
  "client-request-id '$crid' is a v4 uuid"
t_eq "$(jq -r '.headers."retry-attempt" // "none"' <<<"$last")" none "no Retry-Attempt on the first try"

# --- --output json, beta ---
t_expect_exit 0 "--output json --api-version beta" -- "${KA[@]}" --output json --api-version beta "$ID"
t_eq "$(jq -c '[.callId, .ok, .status, .attempts, .error]' "$T/out")" "[\"$ID\",true,200,1,null]" "json fields"
t_eq "$(jq -r '.clientRequestId | length' "$T/out")" 36 "json clientRequestId"
t_eq "$(jq -r '.requestId | length > 0' "$T/out")" true "json requestId"
t_eq "$(tail -n 1 "$REC" | jq -r .path)" "/beta/communications/calls/$ID/keepAlive" "beta path"

# --- --response-headers ---
t_expect_exit 0 "--response-headers" -- "${KA[@]}" --response-headers "$T/rh.jsonl" "$ID" "$ID"
t_eq "$(wc -l <"$T/rh.jsonl" | tr -d ' ')" 2 "one line per successful call"
t_eq "$(head -n 1 "$T/rh.jsonl" | jq -r '[.callId, .status] | @tsv')" "$ID	200" "callId and status"
t_eq "$(head -n 1 "$T/rh.jsonl" | jq -r '.headers."request-id" | type')" array "headers are arrays"
t_eq "$(head -n 1 "$T/rh.jsonl" | jq -r '.headers | keys | map(select(. != ascii_downcase)) | length')" 0 \
  "header names lower case"
t_eq "$(head -n 1 "$T/rh.jsonl" | jq -r '.headers."client-request-id"[0] | length')" 36 "client-request-id echoed"
t_eq "$(stat -c %a "$T/rh.jsonl")" 600 "response headers file mode 0600"

# --- --verbose and --debug (redaction) ---
t_expect_exit 0 "--verbose" -- "${KA[@]}" -v "$ID"
t_grep "$T/err" "^mgcall: keep-alive $ID: status 200, [0-9]+ ms, request-id [^ ]+, attempt 1\$" "verbose line"
t_expect_exit 0 "--debug" -- "${KA[@]}" --debug "$ID"
t_grep "$T/err" "^> POST /v1.0/communications/calls/$ID/keepAlive HTTP" "debug: request line"
t_grep "$T/err" '^> [Aa]uthorization: \[REDACTED\]' "debug: Authorization redacted (lower-case over HTTP/2)"
t_grep "$T/err" '^< HTTP/[0-9.]+ 200' "debug: response status"
t_ok '! grep -qF "$TOK" "$T/err" "$T/out"' "token absent from --debug output"
t_ok '! grep -qF "${TOK:20:40}" "$T/err"' "no part of the token in --debug output"

# --- --what-if: nothing sent, no token acquired ---
n=$(records)
t_expect_exit 0 "--what-if" -- "$MGCALL" keep-alive --graph-url "$EMU_URL" --cacert "$EMU_CA" \
  --what-if "$ID" other
t_eq "$(cat "$T/out")" "What if: POST $EMU_URL/v1.0/communications/calls/$ID/keepAlive
What if: POST $EMU_URL/v1.0/communications/calls/other/keepAlive" "--what-if lines"
t_eq "$(records)" "$n" "--what-if: the emulator received nothing"
t_expect_exit 0 "--what-if with a secret credential" -- env AZURE_TENANT_ID=tenant-a \
  AZURE_CLIENT_ID=app1 AZURE_CLIENT_SECRET=s3cret "$MGCALL" keep-alive \
  --graph-url "$EMU_URL" --authority-url "$EMU_URL" --cacert "$EMU_CA" --what-if "$ID"
t_eq "$(records)" "$n" "--what-if acquires no token either"

# --- header injection refused, extra headers sent ---
t_expect_exit 2 "CRLF header refused" -- "${KA[@]}" -H $'X-A: 1\r\nX-Injected: 1' "$ID"
t_eq "$(records)" "$n" "refused header: nothing sent"
t_expect_exit 0 "extra header" -- "${KA[@]}" -H 'X-Ms-Test: hello' "$ID"
t_eq "$(tail -n 1 "$REC" | jq -r '.headers."x-ms-test"')" hello "extra header sent"

# --- TLS: without --cacert the emulator's certificate is not trusted -> 7 ---
n=$(records)
t_expect_exit 7 "TLS failure without --cacert" -- "$MGCALL" keep-alive --graph-url "$EMU_URL" \
  --access-token-file "$T/token" "$ID"
t_grep "$T/err" "^mgcall: call $ID: network or TLS failure: .*(certificate|SSL)" "TLS error named"
t_eq "$(records)" "$n" "TLS failure: no request reached the emulator"

# --- odd ids: one percent-encoded segment on the wire, 404 from Graph ---
for bad in 'a/b' '..' 'x?y#z' 'sp ace' $'caf\xc3\xa9'; do
  t_expect_exit 4 "odd id $(printf %q "$bad") -> 404" -- "${KA[@]}" --debug "$bad"
  enc=$(jq -rn --arg s "$bad" '$s|@uri')
  [ "$bad" = ".." ] && enc=%2E%2E
  t_grep "$T/err" "^> POST /v1.0/communications/calls/$enc/keepAlive HTTP" \
    "odd id $(printf %q "$bad") sent as one segment"
done

# --- 404 after the call ends, with the hint ---
t_curl -f -X DELETE "$EMU_URL/v1.0/communications/calls/$ID" -H "Authorization: Bearer $TOK" ||
  t_fail "DELETE call"
t_expect_exit 4 "ended call -> 4" -- "${KA[@]}" "$ID"
t_grep "$T/err" "^mgcall: call $ID: HTTP 404, itemNotFound: \"Call not found.\", request-id [^ -][^ ]*, client-request-id [0-9a-f-]{36}, date [^ -][^ ]*.*; hint: the call has ended, clean up its resources\$" \
  "404 line: status, code, message, ids, date, hint"
t_eq "$(wc -l <"$T/err" | tr -d ' ')" 1 "one line per error"

# --- 401: a bad token, refreshed once (an access token stays the same) -> 5 ---
n=$(records)
t_expect_exit 5 "bad token -> 5" -- env MGCALL_ACCESS_TOKEN=garbage "$MGCALL" keep-alive \
  --graph-url "$EMU_URL" --cacert "$EMU_CA" "$ID"
t_grep "$T/err" "^mgcall: call $ID: HTTP 401, InvalidAuthenticationToken" "401 line"
t_eq "$(( $(records) - n ))" 2 "401: sent twice (one refresh), not more"

# --- refused credentials -> 3, and the token endpoint is not hammered ---
printf 'wrong' >"$T/secret"
n=$(grep -c '/oauth2/v2.0/token' "$REC")
k=$(grep -c '/keepAlive' "$REC")
seq 40 | "$MGCALL" keep-alive --graph-url "$EMU_URL" --authority-url "$EMU_URL" \
  --cacert "$EMU_CA" --tenant-id tenant-a --client-id app1 --client-secret-file "$T/secret" \
  --no-token-cache >"$T/out" 2>"$T/err"
t_eq "$?" 3 "refused client secret -> 3"
t_grep "$T/err" 'invalid_client' "AAD error reported"
t_grep "$T/err" 'more calls not sent: no usable credentials' "the rest not sent, said once"
asked=$(( $(grep -c '/oauth2/v2.0/token' "$REC") - n ))
t_ok '[ "$asked" -ge 1 ] && [ "$asked" -le 2 ]' "token endpoint asked $asked time(s) for 40 calls"
t_eq "$(grep -c '/keepAlive' "$REC")" "$k" "no keepAlive sent without a token"

# --- 403: a token without a Calls role, hint names its roles ---
t_emulator_start --tls-cert "$EMU_CERT" --tls-key "$EMU_KEY" --client app2:pw \
  --roles User.Read.All,Group.Read.All || { t_done; exit 1; }
TOK2=$(t_emulator_token tenant-b app2 pw)
t_expect_exit 5 "token without Calls role -> 5" -- env MGCALL_ACCESS_TOKEN="$TOK2" \
  "$MGCALL" keep-alive --graph-url "$EMU_URL" --cacert "$EMU_CA" some-call
t_grep "$T/err" "^mgcall: call some-call: HTTP 403, Forbidden.*hint: keepAlive needs the application permission Calls.Initiate.All or Calls.AccessMedia.All \(delegated tokens are not supported\); the token carries the roles User.Read.All,Group.Read.All\$" \
  "403 line with hint and the token's roles"
t_done
