#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_keeper_notify_keys.sh - the keeper's notification keys when their server
# misbehaves: unreachable, the keeper starts, logs why, and a notification
# gets 403 (after one refresh attempt) instead of waiting; hanging, a
# notification waits suspended (the control API keeps answering others) and
# SIGTERM still stops the keeper at once with exit 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
. "$(dirname "$0")/js_lib.sh"
t_js_install || { t_done; exit 1; }

printf 'tok' >"$T/at"
chmod 600 "$T/at"
KOPTS=(--access-token-file "$T/at" --graph-url http://127.0.0.1:9)
# a token naming a key nobody publishes
H=$(printf '{"alg":"RS256","kid":"k1"}' | base64 -w0 | tr '+/' '-_' | tr -d =)
TOKEN="$H.e30.c2lnbmF0dXJl"
post() {
  curl -sS --noproxy '*' -m "${1:-20}" -o /dev/null -w '%{http_code}' -X POST \
    "$K_URL/notifications" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{}'
}

# ---- unreachable: a port nothing listens on (the sink's, once stopped)
t_sink_start
dead="$SINK_URL"
kill "$SINK_PID"
wait "$SINK_PID" 2>/dev/null
k_start "${KOPTS[@]}" --notification-app-id app-k \
  --notification-openid-url "$dead/v1/.well-known/OpenIdConfiguration" ||
  { t_done; exit 1; }
t_wait 10 'grep -q "notification keys: GET .*(keeping 0 known)" "$T/keeper.err"' \
  "unreachable key server: the keeper says why"
t_eq "$(post)" 403 "unreachable key server: 403"
t_grep "$T/keeper.err" 'refused \(403\): signed by an unknown key' "log: unknown key"
k_stop TERM
t_eq "$K_STATUS" 0 "exit 0"

# ---- hanging: the request waits, others are served, SIGTERM stops at once
t_js_start hang_server.mjs "$T/hang.out" || { t_done; exit 1; }
k_start "${KOPTS[@]}" --notification-app-id app-k \
  --notification-openid-url "$JS_URL/v1/.well-known/OpenIdConfiguration" ||
  { t_done; exit 1; }
post 30 >"$T/waiting.status" 2>/dev/null &
WAITER=$!
t_wait 5 '[ "$(curl -s -o /dev/null -w "%{http_code}" "$K_URL/healthz")" = 200 ]' \
  "the control API answers while a notification waits for keys"
t_ok 'kill -0 "$WAITER" 2>/dev/null' "the notification is still waiting"
start=$(date +%s)
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM with a request waiting for keys: exit 0"
t_ok '[ $(( $(date +%s) - start )) -le 10 ]' "and before the 15 s transfer timeout of the key fetch"
wait "$WAITER"
t_nogrep "$T/keeper.err" 'PANIC|suspended connections' "no libmicrohttpd panic"
t_done
