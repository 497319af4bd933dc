#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_keeper_api.sh - the keeper's control API and CLI without Graph: Graph is
# an unreachable port, so calls stay tracked (failing, retried, far from a
# 3 h deadline).  Registration, bulk add, bad input, notifications, removal
# with the cleanup hook, bearer auth, metrics, store errors, restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"

printf 'test-token\n' >"$T/graph-token"
chmod 600 "$T/graph-token"
cat >"$T/hook" <<HOOK
#!/bin/sh
echo "\$MGCALL_CALL_ID \$MGCALL_TENANT_ID \$MGCALL_REASON" >>"$T/hook.log"
HOOK
chmod +x "$T/hook"
GRAPH=(--access-token-file "$T/graph-token" --graph-url http://127.0.0.1:9)
JSON=(-H 'Content-Type: application/json')
SLOW=(--interval 1h --deadline 3h)

# --- help and usage -------------------------------------------------------
t_expect_exit 0 "keeper --help" -- "$MGCALL" keeper --help
t_grep "$T/out" 'keeper add' "keeper --help lists the commands"
for sub in run add remove list show; do
  t_expect_exit 0 "keeper $sub --help" -- "$MGCALL" keeper "$sub" --help
done
t_grep "$T/out" '--keeper-url' "show --help names --keeper-url"
t_expect_exit 0 "keeper run --help" -- "$MGCALL" keeper run --help
for o in --store --listen --interval --deadline --jitter --concurrency \
  --max-concurrency --on-ended --on-ended-url --api-token-file --log-format --tenant-id; do
  t_grep "$T/out" "$o" "run --help documents $o"
done
t_expect_exit 2 "interval >= deadline" -- "$MGCALL" keeper run \
  --interval 5m --deadline 1m "${GRAPH[@]}"
t_grep "$T/err" 'interval must be shorter' "says why"
t_expect_exit 2 "bad duration" -- "$MGCALL" keeper run --interval 5x
t_expect_exit 2 "bad jitter" -- "$MGCALL" keeper run --jitter 80
t_expect_exit 2 "bad --max-concurrency" -- "$MGCALL" keeper run --max-concurrency 0
t_expect_exit 2 "--concurrency above --max-concurrency" -- "$MGCALL" keeper run \
  --concurrency 100 --max-concurrency 10 "${GRAPH[@]}"
t_grep "$T/err" 'concurrency is above --max-concurrency' "says why"
t_expect_exit 2 "non-loopback listen needs a token" -- "$MGCALL" keeper run \
  --listen 0.0.0.0:0 --store "sqlite:$T/x.db" "${GRAPH[@]}"
t_grep "$T/err" 'api-token-file is required' "says --api-token-file"
t_expect_exit 2 "bad --on-ended" -- "$MGCALL" keeper run --on-ended "'x" \
  --store "sqlite:$T/x.db" "${GRAPH[@]}"
t_expect_exit 2 "add without id" -- "$MGCALL" keeper add
t_expect_exit 2 "bad --started-at" -- "$MGCALL" keeper add x --started-at 2026
t_expect_exit 7 "no keeper listening" -- "$MGCALL" keeper list \
  --keeper-url http://127.0.0.1:9

# --- store errors -----------------------------------------------------------
head -c 8192 /dev/urandom >"$T/corrupt.db"
t_expect_exit 1 "corrupt store" -- "$MGCALL" keeper run --listen 127.0.0.1:0 \
  --store "sqlite:$T/corrupt.db" "${GRAPH[@]}"
t_grep "$T/err" "mgcall: keeper: store sqlite:$T/corrupt.db: .*not a database" \
  "corrupt store: clear error"

# --- registration -----------------------------------------------------------
k_start "${SLOW[@]}" "${GRAPH[@]}" --on-ended "$T/hook" --hook-retries 0 || {
  t_done
  exit 1
}
t_expect_exit 0 "add" -- "$MGCALL" keeper add call-1 --tenant-id tenant-a
t_grep "$T/err" 'added call-1' "add reports it"
t_expect_exit 0 "add again" -- "$MGCALL" keeper add call-1
t_grep "$T/err" 'already tracked' "second add: already tracked"
started=$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$K_URL/calls" "${JSON[@]}" \
  -d "{\"callId\":\"call-2\",\"startedAt\":\"$started\"}")
t_eq "$code" 201 "POST /calls -> 201"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$K_URL/calls" "${JSON[@]}" \
  -d '{"callId":"call-2"}')
t_eq "$code" 200 "POST /calls again -> 200"
t_eq "$(jq -r .callId "$T/body")" call-2 "answer is the call"
t_eq "$(jq -r .startedAt "$T/body")" "${started%Z}.000Z" "startedAt kept"
seq -f 'bulk-%g' 1 50 >"$T/ids"
echo "# comment" >>"$T/ids"
echo "bulk-tenant tenant-b" >>"$T/ids"
t_expect_exit 0 "add - (stdin)" -- sh -c "'$MGCALL' keeper add - <'$T/ids'"
t_grep "$T/err" 'added 51, already tracked 0' "bulk add counts"
t_expect_exit 0 "list --json" -- "$MGCALL" keeper list --json
t_eq "$(jq '.calls | length' "$T/out")" 53 "53 calls tracked"
t_eq "$(jq -r '.calls[] | select(.callId=="bulk-tenant") | .tenantId' "$T/out")" \
  tenant-b "tenant from stdin"
t_expect_exit 0 "list" -- "$MGCALL" keeper list
t_grep "$T/out" '^CALL ID +TENANT +STATE' "list prints a table"
t_grep "$T/out" '^call-1 +tenant-a +(active|at-risk)' "call-1 in the table"
t_expect_exit 0 "show" -- "$MGCALL" keeper show call-1
t_grep "$T/out" '^tenantId +tenant-a' "show prints the tenant"
t_expect_exit 4 "show unknown" -- "$MGCALL" keeper show nope
t_expect_exit 0 "ids with slashes are one segment" -- "$MGCALL" keeper add 'a/b c'
t_expect_exit 0 "show it" -- "$MGCALL" keeper show --json 'a/b c'
t_eq "$(jq -r .callId "$T/out")" 'a/b c' "id round-trips"

# --- bad input ---------------------------------------------------------------
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$K_URL/calls" "${JSON[@]}" -d '{nope')
t_eq "$code" 400 "malformed JSON -> 400"
t_grep "$T/body" '"code":"badRequest"' "JSON error body"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$K_URL/calls" "${JSON[@]}" -d '{"id":"x"}')
t_eq "$code" 400 "no callId -> 400"
t_grep "$T/body" 'callId' "error names callId"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$K_URL/calls" "${JSON[@]}" \
  -d '{"callId":"x","startedAt":"yesterday"}')
t_eq "$code" 400 "bad startedAt -> 400"
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$T/huge"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$K_URL/calls" "${JSON[@]}" \
  --data-binary "@$T/huge")
t_eq "$code" 413 "huge body -> 413"
code=$(curl -s -o /dev/null -w '%{http_code}' "$K_URL/nope")
t_eq "$code" 404 "unknown endpoint -> 404"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$K_URL/calls")
t_eq "$code" 405 "wrong method -> 405"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$K_URL/healthz")
t_eq "$code" 200 "healthz"
t_eq "$(jq '.calls | length' <(curl -s "$K_URL/calls"))" 54 "nothing lost"

# --- notifications -------------------------------------------------------------
cat >"$T/est.json" <<'J'
{"value":[{"changeType":"updated","resourceUrl":"/communications/calls/notif-1",
 "resourceData":{"@odata.type":"#microsoft.graph.call","state":"established",
 "tenantId":"tenant-n"}}]}
J
cat >"$T/del.json" <<'J'
{"value":[{"changeType":"deleted","resourceUrl":"/communications/calls/notif-1",
 "resourceData":{"@odata.type":"#microsoft.graph.call","state":"terminated"}}]}
J
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$K_URL/notifications" \
  "${JSON[@]}" --data-binary "@$T/est.json")
t_eq "$code" 202 "established notification accepted"
t_eq "$(jq .tracked "$T/body")" 1 "established -> tracked"
t_eq "$(k_state notif-1)" active "notif-1 active"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$K_URL/notifications" \
  "${JSON[@]}" --data-binary "@$T/del.json")
t_eq "$(jq .ended "$T/body")" 1 "deleted -> ended"
t_eq "$(k_state notif-1)" ended "notif-1 ended"
t_eq "$(curl -s "$K_URL/calls/notif-1" | jq -r .reason)" terminated \
  "reason terminated"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$K_URL/notifications" \
  "${JSON[@]}" --data-binary "@$T/del.json")
t_eq "$(jq .ended "$T/body")" 0 "a repeated deletion ends nothing"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$K_URL/notifications" "${JSON[@]}" -d 'x')
t_eq "$code" 400 "bad notification -> 400"
# the subscription handshake: the token comes back as inert text/plain,
# never sniffed as HTML by a browser (issue 14 item 10)
code=$(curl -s -D "$T/vh" -o "$T/vbody" -w '%{http_code}' -X POST \
  "$K_URL/notifications?validationToken=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
t_eq "$code" 200 "validationToken -> 200"
t_eq "$(cat "$T/vbody")" '<script>alert(1)</script>' "the token echoed as sent"
t_grep "$T/vh" '^Content-Type: text/plain' "validationToken echo is text/plain"
t_grep "$T/vh" '^X-Content-Type-Options: nosniff' "validationToken echo has nosniff"

# --- removal and the hook --------------------------------------------------------
t_expect_exit 0 "remove" -- "$MGCALL" keeper remove call-1
t_eq "$(k_state call-1)" ended "removed call ended"
t_expect_exit 4 "remove unknown" -- "$MGCALL" keeper remove nope
t_wait 10 'grep -q "^call-1 " "$T/hook.log"' "the removal's hook ran"
t_grep "$T/hook.log" '^notif-1 tenant-n terminated$' "hook env for the notification"
t_grep "$T/hook.log" '^call-1 tenant-a removed$' "hook env for the removal"
t_eq "$(wc -l <"$T/hook.log")" 2 "each hook ran once"
t_eq "$(k_metric 'mgcall_keeper_calls{state="ended"}')" 2 "metrics: 2 ended"
t_eq "$(k_metric 'mgcall_keeper_hook_runs_total{kind="command",result="ok"}')" 2 \
  "metrics: 2 hook runs"
t_eq "$(k_metric 'mgcall_keeper_calls_ended_total{reason="removed"}')" 1 \
  "metrics: 1 removed"

# --- SIGTERM, restart: live calls come back ----------------------------------------
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"
t_eq "$(sqlite3 "$K_DB" "select count(*) from calls where state in ('active','at-risk')")" \
  53 "53 live calls in the store"
t_eq "$(sqlite3 "$K_DB" 'pragma journal_mode')" wal "store in WAL mode"
k_start "${SLOW[@]}" "${GRAPH[@]}" || {
  t_done
  exit 1
}
t_grep "$T/keeper.err" 'store: 53 active calls loaded' "restart loads 53 calls"
t_eq "$(curl -s "$K_URL/calls" | jq '[.calls[] | select(.state=="active" or .state=="at-risk")] | length')" \
  53 "all live calls tracked after restart"
t_eq "$(curl -s "$K_URL/calls/call-1" | jq -r .state)" ended \
  "ended call still shown from the store"
# SIGHUP: credentials reloaded (the token file is read again); a broken
# credential keeps the previous one.
t_eq "$(k_metric mgcall_keeper_token_refreshes_total)" 0 \
  "an access token needs no token request"
kill -HUP "$K_PID"
t_wait 10 'grep -q "SIGHUP: credentials reloaded" "$T/keeper.err"' "SIGHUP reloads credentials"
t_eq "$(k_metric mgcall_keeper_token_refreshes_total)" 0 \
  "a reload is not a token request"
: >"$T/graph-token"
kill -HUP "$K_PID"
t_wait 10 'grep -q "SIGHUP: .*keeping the previous credentials" "$T/keeper.err"' \
  "a failed reload keeps the previous credentials"
t_eq "$(curl -s -o /dev/null -w '%{http_code}' "$K_URL/healthz")" 200 "still serving"
printf 'test-token\n' >"$T/graph-token"
k_stop INT
t_eq "$K_STATUS" 0 "SIGINT -> exit 0"

# --- bearer token off loopback ------------------------------------------------------
printf 's3cret-api-token\n' >"$T/api-token"
chmod 600 "$T/api-token"
k_start "${SLOW[@]}" "${GRAPH[@]}" --listen 0.0.0.0:0 \
  --api-token-file "$T/api-token" || {
  t_done
  exit 1
}
code=$(curl -s -o /dev/null -w '%{http_code}' "$K_URL/calls")
t_eq "$code" 401 "no token -> 401"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$K_URL/calls")
t_eq "$code" 401 "wrong token -> 401"
code=$(curl -s -o /dev/null -w '%{http_code}' "$K_URL/healthz")
t_eq "$code" 200 "healthz needs no token"
t_expect_exit 5 "cli without token" -- "$MGCALL" keeper list
t_expect_exit 0 "cli with token" -- "$MGCALL" keeper list --api-token-file "$T/api-token"
t_nogrep "$T/keeper.err" 's3cret-api-token|test-token' "no secret in the log"
k_stop TERM
t_eq "$K_STATUS" 0 "exit 0"
t_done
