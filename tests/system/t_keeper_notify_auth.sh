#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_keeper_notify_auth.sh - the keeper with --notification-app-id verifies
# Graph's bearer JWT on POST /notifications against the keys of
# --notification-openid-url (here the emulator's, pinned with
# --notification-key so js/forge_token.mjs can sign with the same key):
#   - forged or stale tokens (tampered signature, wrong aud, wrong iss,
#     expired, alg none, HS256 keyed with the public key, no tid, none at
#     all) get 403, nothing changes, no hook runs, the log says why without
#     the token;
#   - an unknown kid makes the keeper fetch the keys once more (counted in
#     the emulator's --record), then 403; a second one within the minute gets
#     403 without a fetch;
#   - a valid token: 202, the call ends (hook once: the command and the
#     --on-ended-url POST, on HTTPS in the h2tls variant); an established
#     one is tracked with the token's tid as its tenant, not the body's;
#   - end to end: the emulator's signed callbacks go straight to the keeper;
#     a hang-up ends the call through the terminated notification before any
#     keepAlive could see the 404 (--interval 10m), the hook runs once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
. "$(dirname "$0")/js_lib.sh"
t_js_install || { t_done; exit 1; }

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/nkey.pem" 2>/dev/null
chmod 600 "$T/nkey.pem"
k_emulator --notification-key "$T/nkey.pem" --record "$T/record.jsonl" ||
  { t_done; exit 1; }
KID=$(t_curl "$EMU_URL/v1/keys" | jq -r '.keys[0].kid')
cat >"$T/hook" <<HOOK
#!/bin/sh
echo "\$MGCALL_CALL_ID \$MGCALL_TENANT_ID \$MGCALL_REASON" >>"$T/hook.log"
HOOK
chmod +x "$T/hook"
: >"$T/hook.log"
# --on-ended-url too, on HTTPS when the emulator is (variant h2tls: the
# keeper's hook POSTs trust what its other requests trust)
sink_tls=()
[ "${EMU_URL#https://}" != "$EMU_URL" ] && sink_tls=(CERT="$EMU_CERT" KEY="$EMU_KEY")
: >"$T/urlhook.jsonl"
t_js_start hook_sink.mjs "$T/sink.out" FILE="$T/urlhook.jsonl" "${sink_tls[@]}" ||
  { t_done; exit 1; }
k_start --interval 10m --deadline 30m --on-ended "$T/hook" --on-ended-url "$JS_URL/ended" \
  --notification-app-id other-app,app-k \
  --notification-openid-url "$EMU_URL/v1/.well-known/OpenIdConfiguration" \
  "${KAUTH[@]}" || { t_done; exit 1; }
t_wait 10 'grep -q "notification keys: 1 from" "$T/keeper.err"' "the keeper fetched the notification keys"
# the keeper's key fetches, from the emulator's record (its User-Agent)
keys_fetched() { grep '"path":"/v1/keys"' "$T/record.jsonl" | grep -c 'mgcall-keeper/'; }
t_wait 5 '[ "$(keys_fetched)" -ge 1 ]' "the emulator recorded the key fetch"
t_eq "$(keys_fetched)" 1 "keys fetched once at start"

forge() { node "$JS_DIR/forge_token.mjs" "$T/nkey.pem" "$KID" "$1" "${2:-app-k}" tenant-k; }
ended_body() {
  printf '{"@odata.type":"#microsoft.graph.commsNotifications","value":[{"@odata.type":"#microsoft.graph.commsNotification","changeType":"deleted","resourceUrl":"/communications/calls/%s","resourceData":{"@odata.type":"#microsoft.graph.call","state":"terminated","resultInfo":{"code":200,"subcode":5001}}}]}' "$1"
}
post() { # post TOKEN BODY: prints the status
  curl -sS --noproxy '*' -o "$T/answer" -w '%{http_code}' -X POST "$K_URL/notifications" \
    -H 'Content-Type: application/json' ${1:+-H "Authorization: Bearer $1"} -d "$2"
}

ID=$(t_emulator_call "$EMU_TOKEN")
"$MGCALL" keeper add "$ID" --tenant-id tenant-k >/dev/null 2>&1
t_wait 10 '[ "$(curl -s "$K_URL/calls/$ID" | jq -r .lastSuccess)" != null ]' "the call's first keepAlive succeeded"
calls_view() { # what a refused notification must not change
  curl -s "$K_URL/calls" | jq -c '.calls[] | [.callId, .tenantId, .state, .reason, .lastSuccess, .ended, .consecutiveFailures]'
}
before=$(calls_view)
t_eq "$(k_state "$ID")" active "a tracked call"

for c in tampered wrong-aud wrong-iss expired alg-none hs256-pubkey no-tid; do
  tok=$(forge "$c")
  [ -n "$tok" ] || t_fail "forge_token.mjs $c printed nothing"
  t_eq "$(post "$tok" "$(ended_body "$ID")")" 403 "$c: 403"
  t_eq "$(jq -r .error.code "$T/answer")" forbidden "$c: error code forbidden"
  t_nogrep "$T/keeper.err" "${tok:0:40}" "$c: the token is not logged"
done
t_eq "$(post "" "$(ended_body "$ID")")" 403 "no Authorization: 403"
t_eq "$(post "not-a-jwt" "$(ended_body "$ID")")" 403 "not a JWT: 403"
t_grep "$T/keeper.err" 'refused \(403\): signature does not verify' "log: tampered -> signature"
t_grep "$T/keeper.err" 'refused \(403\): audience \(aud\)' "log: wrong aud"
t_grep "$T/keeper.err" 'refused \(403\): issuer \(iss\)' "log: wrong iss"
t_grep "$T/keeper.err" 'refused \(403\): token expired' "log: expired"
t_grep "$T/keeper.err" 'refused \(403\): algorithm \(alg\) not accepted' "log: alg none / HS256"
t_grep "$T/keeper.err" 'refused \(403\): no tenant \(tid\)' "log: no tid"
t_grep "$T/keeper.err" 'refused \(403\): no Authorization header' "log: no header"

# unknown kid: one refresh, then 403; again within the minute: no refresh
tok=$(forge unknown-kid)
t_eq "$(post "$tok" "$(ended_body "$ID")")" 403 "unknown kid: 403"
t_wait 5 '[ "$(keys_fetched)" -ge 2 ]' "unknown kid: a key fetch recorded"
t_eq "$(keys_fetched)" 2 "unknown kid: the keys were fetched once more"
t_eq "$(post "$tok" "$(ended_body "$ID")")" 403 "unknown kid again: 403"
t_eq "$(keys_fetched)" 2 "unknown kid again within a minute: no fetch"
t_grep "$T/keeper.err" 'refused \(403\): signed by an unknown key' "log: unknown key"

t_eq "$(calls_view)" "$before" "after every refused notification: nothing changed"
t_eq "$(wc -l <"$T/hook.log")" 0 "no hook ran"

# valid tokens (botframework RS256, graph issuer RS512): 202
ID2=$(t_emulator_call "$EMU_TOKEN")
estab=$(printf '{"value":[{"changeType":"updated","resourceUrl":"/communications/calls/%s","resourceData":{"@odata.type":"#microsoft.graph.call","state":"established","tenantId":"body-tenant"}}]}' "$ID2")
t_eq "$(post "$(forge graph-iss)" "$estab")" 202 "valid (iss graph.microsoft.com): 202"
t_eq "$(jq -r .tracked "$T/answer")" 1 "the established call is tracked"
t_eq "$(curl -s "$K_URL/calls/$ID2" | jq -r .tenantId)" tenant-k "its tenant is the token's tid, not the body's"
t_eq "$(post "$(forge rs512)" "$(ended_body "$ID")")" 202 "valid (RS512): 202"
t_eq "$(jq -r .ended "$T/answer")" 1 "the call ended"
t_eq "$(k_state "$ID")" ended "state ended"
t_eq "$(curl -s "$K_URL/calls/$ID" | jq -r .reason)" terminated "reason terminated"
t_wait 10 '[ -s "$T/hook.log" ]' "the hook ran"
t_eq "$(cat "$T/hook.log")" "$ID tenant-k terminated" "the hook ran once"
t_wait 10 '[ -s "$T/urlhook.jsonl" ]' "the --on-ended-url POST arrived (${JS_URL%%:*})"
t_eq "$(jq -r '.path + " " + (.body | fromjson | .callId + " " + .reason)' "$T/urlhook.jsonl")" \
  "/ended $ID terminated" "the --on-ended-url POST, once"

# end to end: the emulator's own signed callbacks, straight to the keeper
: >"$T/hook.log"
refused=$(grep -c 'refused (403)' "$T/keeper.err")
k_calls 1 "$T/ids" "$K_URL/notifications" || t_fail "cannot create a call"
E2E=$(cat "$T/ids")
t_wait 10 '[ "$(k_state "$E2E")" = active ]' "signed established callback: tracked"
t_eq "$(curl -s "$K_URL/calls/$E2E" | jq -r .tenantId)" tenant-k "tenant from the callback's tid"
t_wait 10 '[ "$(curl -s "$K_URL/calls/$E2E" | jq -r .lastSuccess)" != null ]' "its first keepAlive succeeded"
t_eq "$(k_hangup "$E2E")" 204 "hang-up in the emulator"
t_wait 10 '[ "$(k_state "$E2E")" = ended ]' "the hung-up call ended"
t_eq "$(curl -s "$K_URL/calls/$E2E" | jq -r '.state + " " + .reason')" "ended terminated" \
  "ended through the signed terminated notification"
t_eq "$(k_stats keepAlivesNotFound)" 0 "no keepAlive saw the 404"
t_wait 10 '[ -s "$T/hook.log" ]' "the hook ran"
t_eq "$(cat "$T/hook.log")" "$E2E tenant-k terminated" "the hook ran once"
t_eq "$(grep -c 'refused (403)' "$T/keeper.err")" "$refused" "no callback of the emulator was refused"
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"
t_done
