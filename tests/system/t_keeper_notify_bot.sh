#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_keeper_notify_bot.sh - the bot pattern: the emulator's signed callbacks go
# to a bot (js/notify_receiver.mjs: node's http + jose) that verifies each
# JWT as Microsoft's samples do and forwards verified notifications to the
# keeper's POST /notifications with the control API's bearer token.  The
# keeper (--api-token-file and --notification-app-id) tracks the call when
# established and ends it when it terminates; the hook runs once.  The
# keeper takes the API token or Graph's JWT, never an anonymous body.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
. "$(dirname "$0")/js_lib.sh"
t_js_install || { t_done; exit 1; }

k_emulator || { t_done; exit 1; }
printf 'api-token-of-the-bot-%s' "$RANDOM$RANDOM$RANDOM" >"$T/api-token"
chmod 600 "$T/api-token"
cat >"$T/hook" <<HOOK
#!/bin/sh
echo "\$MGCALL_CALL_ID \$MGCALL_TENANT_ID \$MGCALL_REASON" >>"$T/hook.log"
HOOK
chmod +x "$T/hook"
k_start --interval 10m --deadline 30m --on-ended "$T/hook" \
  --api-token-file "$T/api-token" --notification-app-id app-k \
  --notification-openid-url "$EMU_URL/v1/.well-known/OpenIdConfiguration" \
  "${KAUTH[@]}" || { t_done; exit 1; }
AUTH=(-H "Authorization: Bearer $(cat "$T/api-token")")

OUT="$T/bot.jsonl"
t_js_start notify_receiver.mjs "$T/bot.out" \
  OPENID_URL="$EMU_URL/v1/.well-known/OpenIdConfiguration" APP_ID=app-k \
  OUT="$OUT" KEEPER_URL="$K_URL" KEEPER_TOKEN_FILE="$T/api-token" ||
  { t_done; exit 1; }

ID=$(t_emulator_call "$EMU_TOKEN" "$JS_URL/api/calls")
t_wait 10 '[ "$(curl -s "${AUTH[@]}" "$K_URL/calls/$ID" | jq -r .state)" = active ]' "the call is tracked"
t_eq "$(curl -s "${AUTH[@]}" "$K_URL/calls/$ID" | jq -r '.state + " " + .tenantId')" \
  "active tenant-k" "the bot forwarded the established notification: tracked"
t_eq "$(k_hangup "$ID")" 204 "hang-up"
t_wait 10 '[ "$(curl -s "${AUTH[@]}" "$K_URL/calls/$ID" | jq -r .state)" = ended ]' "the call ended"
t_eq "$(curl -s "${AUTH[@]}" "$K_URL/calls/$ID" | jq -r '.state + " " + .reason')" \
  "ended terminated" "the forwarded terminated notification ended it"
t_wait 10 '[ -s "$T/hook.log" ]' "the hook ran"
t_eq "$(cat "$T/hook.log" 2>/dev/null)" "$ID tenant-k terminated" "the hook ran once"
t_ok 't_wait_lines "$OUT" 4' "the bot got four callbacks"
t_eq "$(jq -r '[.verified, .forwarded] | map(tostring) | join(" ")' "$OUT" | sort -u)" \
  "true 202" "the bot verified every callback and the keeper took each (202)"

# what the keeper itself accepts on /notifications
body='{"value":[{"changeType":"deleted","resourceUrl":"/communications/calls/x"}]}'
t_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' "$K_URL/notifications" -d "$body")" \
  403 "anonymous notification: 403"
t_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -H 'Authorization: Bearer wrong' "$K_URL/notifications" -d "$body")" \
  403 "wrong API token (not a JWT either): 403"
t_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' "${AUTH[@]}" "$K_URL/notifications" -d "$body")" \
  202 "the API token: 202"
t_eq "$(curl -s -o /dev/null -w '%{http_code}' "$K_URL/calls")" 401 "other endpoints still need the API token"
if [ "$T_FAILS" -gt 0 ]; then
  sed 's/^/  bot: /' "$OUT" "$T/bot.out.err" >&2
fi
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"
t_done
