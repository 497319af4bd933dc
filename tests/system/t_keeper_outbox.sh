#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_keeper_outbox.sh - the cleanup hooks are a durable outbox in the store:
# - kill -9 after a call's end was acknowledged and before its hook ran: the
#   hook runs once after the restart, with the same event id
#   (MGCALL_EVENT_ID for the command, "eventId" in the POST);
# - --stop-timeout: a hook that hangs does not hold the keeper at SIGTERM;
#   its job stays pending in the store and runs after the restart;
# - --retention: old ended/lost calls and finished hook jobs are purged,
#   live calls, recent ends and pending jobs are kept.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"

printf 'test-token\n' >"$T/graph-token"
GRAPH=(--access-token-file "$T/graph-token" --graph-url http://127.0.0.1:9)

# The hook: logs "start CALL EVENT PID", waits (at most 30 s) for $T/gate,
# then logs "done CALL EVENT".
cat >"$T/hook" <<HOOK
#!/bin/sh
echo "start \$MGCALL_CALL_ID \$MGCALL_EVENT_ID \$\$" >>"$T/hook.log"
for i in \$(seq 600); do
  [ -e "$T/gate" ] && break
  sleep 0.05
done
[ -e "$T/gate" ] || exit 1
echo "done \$MGCALL_CALL_ID \$MGCALL_EVENT_ID" >>"$T/hook.log"
HOOK
chmod +x "$T/hook"
: >"$T/hook.log"

t_sink_start || { t_done; exit 1; }
HOOKS=(--on-ended "$T/hook" --on-ended-url "$SINK_URL/ended" --hook-timeout 60s
  --hook-retries 2)
jobs_of() { # jobs_of CALL: "kind:state:attempts" of its hook jobs, by kind
  sqlite3 "$K_DB" "SELECT kind || ':' || state || ':' || attempts FROM hook_jobs
    WHERE call_id = '$1' ORDER BY kind" | tr '\n' ' '
}
count() { grep -c "^$1 $2 " "$T/hook.log"; }

# ---- kill -9 between the end and the hook ----
k_start --interval 1h --deadline 3h "${HOOKS[@]}" "${GRAPH[@]}" || { t_done; exit 1; }
t_expect_exit 0 "add a" -- "$MGCALL" keeper add call-a --tenant-id tenant-o
t_expect_exit 0 "add b" -- "$MGCALL" keeper add call-b --tenant-id tenant-o
t_expect_exit 0 "remove a" -- "$MGCALL" keeper remove call-a
k_until 10 grep -q '^start call-a ' "$T/hook.log"
t_eq $? 0 "a's command hook started (and waits)"
# the hook thread is busy with a: b's end is acknowledged, its hook not run
t_expect_exit 0 "remove b" -- "$MGCALL" keeper remove call-b
t_eq "$(jobs_of call-b)" "1:pending:0 2:pending:0 " \
  "b's end wrote its two hook jobs with it"
kill -9 "$K_PID"
wait "$K_PID" 2>/dev/null
kill "$(awk '$1 == "start" { print $4 }' "$T/hook.log")" 2>/dev/null # the orphan
t_eq "$(count start call-b)" 0 "killed before b's hook ran"
t_eq "$(sqlite3 "$K_DB" "SELECT state FROM calls WHERE call_id = 'call-b'")" ended \
  "b's end is in the store"
ev_b=$(sqlite3 "$K_DB" "SELECT DISTINCT event_id FROM hook_jobs WHERE call_id = 'call-b'")
t_eq "$(printf '%s\n' "$ev_b" | grep -cE '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')" 1 \
  "one event id (a UUID) for b's end, shared by both kinds"

# restart with the gate still closed: a's command runs again and waits; the
# outbox metric shows what is pending
k_start --interval 1h --deadline 3h "${HOOKS[@]}" "${GRAPH[@]}" || { t_done; exit 1; }
a_again() { [ "$(count start call-a)" -ge 2 ]; }
k_until 10 a_again
t_eq $? 0 "after the restart a's command hook runs again"
outbox_pending() { k_metric mgcall_keeper_hook_outbox_pending; }
at_least_3() { [ "$(outbox_pending)" -ge 3 ] 2>/dev/null; }
k_until 10 at_least_3
t_eq $? 0 "mgcall_keeper_hook_outbox_pending counts the jobs left"
touch "$T/gate"
b_ran() { [ "$(count done call-b)" -ge 1 ] && [ "$(wc -l <"$SINK_FILE")" -ge 2 ]; }
k_until 20 b_ran
t_eq $? 0 "b's hooks ran after the restart"
none_pending() { [ "$(outbox_pending)" = 0 ]; }
k_until 10 none_pending
t_eq $? 0 "nothing pending once delivered"
t_eq "$(count start call-b) $(count done call-b) $(count done call-a)" "1 1 1" \
  "b's command ran once, a's completed once"
t_eq "$(awk '$1 == "done" && $2 == "call-b" { print $3 }' "$T/hook.log")" "$ev_b" \
  "MGCALL_EVENT_ID is the stored event id"
t_eq "$(jq -r '.body | fromjson | select(.callId == "call-b") | .eventId' "$SINK_FILE")" \
  "$ev_b" "the POST carries the same eventId"
t_eq "$(jq -c '.body | fromjson | select(.callId == "call-b") | del(.eventId)' "$SINK_FILE")" \
  '{"callId":"call-b","tenantId":"tenant-o","reason":"removed"}' "the POST body"
t_eq "$(jq -r '.body | fromjson | .callId' "$SINK_FILE" | sort | tr '\n' ' ')" \
  "call-a call-b " "one POST per end"
t_eq "$(jobs_of call-b)" "1:delivered:1 2:delivered:1 " "b's jobs delivered, once each"
t_eq "$(jobs_of call-a)" "1:delivered:2 2:delivered:1 " \
  "a's command delivered at its second attempt"
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"

# ---- --stop-timeout ----
rm -f "$T/gate"
k_start --interval 1h --deadline 3h "${HOOKS[@]}" --stop-timeout 1s "${GRAPH[@]}" ||
  { t_done; exit 1; }
t_expect_exit 0 "add c" -- "$MGCALL" keeper add call-c
t_expect_exit 0 "remove c" -- "$MGCALL" keeper remove call-c
k_until 10 grep -q '^start call-c ' "$T/hook.log"
t_eq $? 0 "c's command hook started (and hangs)"
start=$(date +%s)
k_stop TERM
took=$(($(date +%s) - start))
echo "# SIGTERM with a hanging hook: exited after ${took}s (--stop-timeout 1s, hook timeout 60s)"
t_eq "$K_STATUS" 0 "exit 0 with a hook left"
t_eq "$([ "$took" -lt 20 ] && echo bounded)" bounded "the keeper did not wait for the hook"
t_grep "$T/keeper.err" "call call-c: on-ended .*stop timeout ran out: left pending" \
  "the cut hook is logged"
t_eq "$(jobs_of call-c | cut -d' ' -f1)" "1:pending:0" \
  "its job is pending, the cut attempt not counted"
touch "$T/gate"
k_start --interval 1h --deadline 3h "${HOOKS[@]}" "${GRAPH[@]}" || { t_done; exit 1; }
k_until 10 grep -q '^done call-c ' "$T/hook.log"
t_eq $? 0 "c's hook ran after the restart"
c_delivered() { [ "$(jobs_of call-c)" = "1:delivered:1 2:delivered:1 " ]; }
k_until 10 c_delivered
t_eq $? 0 "c's jobs delivered"
k_stop TERM

# ---- --retention ----
now=$(($(date +%s) * 1000))
old=$((now - 3 * 86400000))
recent=$((now - 60000))
sqlite3 "$K_DB" "
INSERT INTO calls (call_id, state, reason, added_ms, ended_ms) VALUES
  ('old-ended', 'ended', 'removed', $old, $old),
  ('old-lost', 'lost', 'lost', $old, $old),
  ('recent-ended', 'ended', 'removed', $old, $recent);
INSERT INTO calls (call_id, state, added_ms, last_success_ms)
  VALUES ('old-live', 'active', $old, $recent);
INSERT INTO hook_jobs (event_id, kind, call_id, reason, state, created_ms,
  next_attempt_ms, done_ms) VALUES
  ('ev-old-done', 1, 'old-ended', 'removed', 'delivered', $old, $old, $old),
  ('ev-old-failed', 1, 'old-lost', 'lost', 'failed', $old, $old, $old),
  ('ev-recent', 1, 'recent-ended', 'removed', 'delivered', $recent, $recent, $recent);"
# an old job still pending, of a kind this keeper does not run: never purged
sqlite3 "$K_DB" "INSERT INTO hook_jobs (event_id, kind, call_id, reason,
  created_ms, next_attempt_ms) VALUES ('ev-old-pending', 2, 'x', 'lost', $old, $old)"
purged() {
  [ "$(sqlite3 "$K_DB" "SELECT count(*) FROM calls WHERE call_id LIKE 'old-%'
    AND state <> 'active'") $(sqlite3 "$K_DB" "SELECT count(*) FROM hook_jobs
    WHERE event_id IN ('ev-old-done', 'ev-old-failed')")" = "0 0" ]
}
t_eq "$(purged && echo yes)" "" "old rows are there before the keeper starts"
k_start --interval 1h --deadline 3h --on-ended "$T/hook" --retention 1d "${GRAPH[@]}" ||
  { t_done; exit 1; }
k_until 10 purged
t_eq $? 0 "ended and lost calls, finished jobs older than --retention purged"
t_eq "$(sqlite3 "$K_DB" "SELECT call_id FROM calls WHERE call_id IN ('old-live',
  'recent-ended', 'call-a', 'call-b', 'call-c') ORDER BY call_id" | tr '\n' ' ')" \
  "call-a call-b call-c old-live recent-ended " "live and recent calls kept"
t_eq "$(sqlite3 "$K_DB" "SELECT event_id FROM hook_jobs WHERE event_id IN
  ('ev-recent', 'ev-old-pending') ORDER BY event_id" | tr '\n' ' ')" \
  "ev-old-pending ev-recent " "recent and pending jobs kept"
t_grep "$T/keeper.err" "retention: 4 rows older than 86400 s purged" "purge logged"
t_expect_exit 2 "bad --retention" -- "$MGCALL" keeper run --retention 0s
t_expect_exit 2 "bad --stop-timeout" -- "$MGCALL" keeper run --stop-timeout x
k_stop TERM
t_done
