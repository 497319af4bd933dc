#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_emulator_notify.sh - the emulator's callbacks as Graph sends them, checked
# by a receiver written as Microsoft's samples validate them
# (js/notify_receiver.mjs, node's http + jose): every callback carries a
# bearer JWT that verifies against the keys the emulator publishes at
# /v1/.well-known/OpenIdConfiguration and /v1/keys (x5c, kid = x5t), with
# iss, aud (the app), tid, iat/nbf/exp (1 h); the lifecycle is establishing,
# established, terminating (updated), terminated (deleted) with integer
# resultInfo (200/5001 hang-up, 408/8537 timeout) and the shapes Graph uses.
# Also: --notification-reorder, --unsigned-callbacks, --notification-key
# (same kid after a restart).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/js_lib.sh"
t_js_install || { t_done; exit 1; }

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/nkey.pem" 2>/dev/null
chmod 600 "$T/nkey.pem"
t_emulator_start --client app-n:s3cret --establish-delay 100ms \
  --inactivity-timeout 2s --notification-key "$T/nkey.pem" || { t_done; exit 1; }
TOK=$(t_emulator_token tenant-n app-n s3cret)
KID=$(t_curl "$EMU_URL/v1/keys" | jq -r '.keys[0].kid')
t_eq "$(t_curl "$EMU_URL/v1/.well-known/OpenIdConfiguration" | jq -r '.jwks_uri + " " + .issuer')" \
  "$EMU_URL/v1/keys https://api.botframework.com" "OpenID configuration: jwks_uri and issuer"
t_eq "$(t_curl "$EMU_URL/v1/keys" | jq -r '.keys[0] | [.kty, .use, (.x5c | length), (.kid == .x5t)] | map(tostring) | join(" ")')" \
  "RSA sig 1 true" "JWKS: one RSA signing key with x5c, kid = x5t"
t_eq "$(t_curl -o /dev/null -w '%{http_code}' -X POST "$EMU_URL/v1/keys")" 405 "POST /v1/keys: 405"

OUT="$T/received.jsonl"
t_js_start notify_receiver.mjs "$T/receiver.out" \
  OPENID_URL="$EMU_URL/v1/.well-known/OpenIdConfiguration" APP_ID=app-n OUT="$OUT" ||
  { t_done; exit 1; }
RCV="$JS_URL"

# ---- a call hung up by the bot: establishing, established, terminating, terminated
ID=$(t_emulator_call "$TOK" "$RCV/callback/one")
t_ok 't_wait_lines "$OUT" 2' "establishing/established callbacks arrive"
t_curl -o /dev/null -X DELETE -H "Authorization: Bearer $TOK" "$EMU_URL/v1.0/communications/calls/$ID"
t_ok 't_wait_lines "$OUT" 4' "terminating/terminated callbacks arrive"
jq -c '.' "$OUT" >"$T/one.jsonl" 2>/dev/null
t_eq "$(jq -r '.verified' "$T/one.jsonl" | sort -u)" true "every callback's JWT verifies against the published keys"
t_eq "$(jq -r '.error // empty' "$T/one.jsonl")" "" "no verification error"
t_eq "$(jq -r '.keyProblems | length' "$T/one.jsonl" | sort -u)" 0 "the x5c certificate holds the key; kid and x5t are its thumbprint"
t_eq "$(jq -r '.header | [.alg, .kid, .x5t, .typ] | join(" ")' "$T/one.jsonl" | sort -u)" \
  "RS256 $KID $KID JWT" "header: RS256, kid and x5t of the pinned key"
t_eq "$(jq -r '.claims | [.iss, .aud, .tid, (.exp - .iat), (.nbf <= .iat)] | map(tostring) | join(" ")' "$T/one.jsonl" | sort -u)" \
  "https://api.botframework.com app-n tenant-n 3600 true" "claims: iss, aud (the app), tid, exp 1 h after iat"
now=$(date +%s)
t_eq "$(jq -r --argjson now "$now" '.claims.iat | (. <= $now + 5 and . >= $now - 120)' "$T/one.jsonl" | sort -u)" \
  true "iat is now"
t_eq "$(jq -r '.path' "$T/one.jsonl" | sort -u)" /callback/one "POSTed to the callbackUri's path"
B='.body | fromjson'
t_eq "$(jq -r "$B | .value[0] | .changeType + \"/\" + .resourceData.state" "$T/one.jsonl" | tr '\n' ' ')" \
  "updated/establishing updated/established updated/terminating deleted/terminated " \
  "sequence: establishing, established, terminating (updated), terminated (deleted)"
t_eq "$(jq -r "$B | .value[0].resourceData[\"@odata.etag\"]" "$T/one.jsonl" | tr '\n' ' ')" \
  'W/"1" W/"2" W/"3" W/"4" ' "@odata.etag grows with each notification"
t_eq "$(jq -r "$B | [.[\"@odata.type\"], .value[0][\"@odata.type\"], .value[0].resource, .value[0].resourceUrl, .value[0].resourceData[\"@odata.type\"], .value[0].resourceData[\"@odata.id\"], .value[0].resourceData.callChainId] | join(\" \")" "$T/one.jsonl" | sort -u)" \
  "#microsoft.graph.commsNotifications #microsoft.graph.commsNotification /app/calls/$ID /communications/calls/$ID #microsoft.graph.call /communications/calls/$ID $ID" \
  "shapes: @odata.type, resource, resourceUrl, @odata.id, callChainId"
last=$(tail -n 1 "$T/one.jsonl")
t_eq "$(jq -r "$B | .value[0].resourceData.resultInfo | [.[\"@odata.type\"], (.code | type), .code, .subcode, .message] | map(tostring) | join(\"|\")" <<<"$last")" \
  "#microsoft.graph.resultInfo|number|200|5001|The conversation has ended." "hang-up: resultInfo 200/5001 as integers"
t_eq "$(jq -r "$B | .value[0].resourceData.resultInfo // \"none\"" "$T/one.jsonl" | head -3 | sort -u)" none \
  "no resultInfo before terminated"

# ---- a call that times out: 408/8537 ---------------------------------------
: >"$OUT"
ID2=$(t_emulator_call "$TOK" "$RCV/callback/two")
t_ok 't_wait_lines "$OUT" 4 8' "callbacks for the timed-out call arrive"
t_eq "$(jq -r "$B | .value[0].resourceData.state" "$OUT" | tr '\n' ' ')" \
  "establishing established terminating terminated " "timeout: the same sequence"
t_eq "$(tail -n 1 "$OUT" | jq -r "$B | .value[0].resourceData.resultInfo | [(.subcode | type), .code, .subcode] | map(tostring) | join(\" \")")" \
  "number 408 8537" "timeout: resultInfo 408/8537 as integers"
t_eq "$(jq -r '.verified' "$OUT" | sort -u)" true "timeout callbacks verify"
t_eq "$(tail -n 1 "$OUT" | jq -r "$B | .value[0].resourceData.id")" "$ID2" "timeout: the right call"

# ---- the pinned key survives a restart; --notification-reorder -----------
t_emulator_stop
t_emulator_start --client app-n:s3cret --establish-delay 100ms \
  --notification-key "$T/nkey.pem" --notification-reorder || { t_done; exit 1; }
t_eq "$(t_curl "$EMU_URL/v1/keys" | jq -r '.keys[0].kid')" "$KID" "--notification-key: the same kid after a restart"
TOK=$(t_emulator_token tenant-n app-n s3cret)
: >"$OUT"
# the receiver read the keys of the first run; the pinned key keeps it working
ID3=$(t_emulator_call "$TOK" "$RCV/callback/three")
t_ok 't_wait_lines "$OUT" 2' "callbacks with --notification-reorder arrive"
t_eq "$(jq -r "$B | .value[0].resourceData.state" "$OUT" | tr '\n' ' ')" \
  "established establishing " "--notification-reorder: established arrives before establishing"
t_eq "$(jq -r '.verified' "$OUT" | sort -u)" true "callbacks of the restarted emulator verify with the old keys"

# ---- --unsigned-callbacks ----------------------------------------------------
t_emulator_stop
t_emulator_start --client app-n:s3cret --establish-delay 100ms --unsigned-callbacks ||
  { t_done; exit 1; }
TOK=$(t_emulator_token tenant-n app-n s3cret)
: >"$OUT"
t_emulator_call "$TOK" "$RCV/callback/four" >/dev/null
t_ok 't_wait_lines "$OUT" 1' "an unsigned callback arrives"
t_eq "$(head -n 1 "$OUT" | jq -r '[.verified, .error] | map(tostring) | join(" ")')" \
  "false no bearer token" "--unsigned-callbacks: no Authorization (the receiver refuses it)"
t_emulator_stop
t_eq "$EMU_STATUS" 0 "emulator exits 0"
if [ "$T_FAILS" -gt 0 ]; then
  sed 's/^/  received: /' "$OUT" "$T/one.jsonl" >&2
  sed 's/^/  receiver: /' "$T/receiver.out.err" >&2
fi
t_done
