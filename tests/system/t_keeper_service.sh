#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Not serial: no check depends on timing (counts, order, bounded waits).
# t_keeper_service.sh - what a service manager and a cleanup endpoint see:
# sd_notify READY=1 / RELOADING=1 / STOPPING=1 on NOTIFY_SOCKET (when built
# with libsystemd), the --on-ended-url JSON POST (retried after a failure),
# and the unit file in dist/.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"

printf 'test-token\n' >"$T/graph-token"
GRAPH=(--access-token-file "$T/graph-token" --graph-url http://127.0.0.1:9)

# the hook URL: the test sink fails the first POST, then records
t_sink_start --fail 1 || { t_done; exit 1; }

"${MGCALL_BUILD_DIR:?}/tests/mgcall-test-notify" "$T/notify.sock" "$T/notify.log" \
  >"$T/notify.out" 2>&1 &
T_PIDS+=($!)
t_wait 5 'grep -q listening "$T/notify.out"' "the notify socket listens"
export NOTIFY_SOCKET="$T/notify.sock"
k_start --interval 1h --deadline 3h --on-ended-url "$SINK_URL/ended" \
  --hook-retries 2 "${GRAPH[@]}" || { t_done; exit 1; }
unset NOTIFY_SOCKET
systemd=$(ldd "$MGCALL" | grep -c libsystemd)
if [ "$systemd" -gt 0 ]; then
  t_wait 5 'grep -q "^READY=1$" "$T/notify.log"' "READY=1 once serving"
fi

t_expect_exit 0 "add" -- "$MGCALL" keeper add call-u --tenant-id tenant-u
t_expect_exit 0 "remove" -- "$MGCALL" keeper remove call-u
t_ok 't_wait_lines "$SINK_FILE" 2 10' "two POSTs reach the hook URL"
t_eq "$(wc -l <"$SINK_FILE")" 2 "URL hook: a failed POST, then one that worked"
t_eq "$(tail -1 "$SINK_FILE" | jq -r .method)" POST "POST"
t_eq "$(tail -1 "$SINK_FILE" | jq -r .path)" /ended "to the path given"
t_eq "$(tail -1 "$SINK_FILE" | jq -r .contentType)" application/json "JSON"
t_eq "$(tail -1 "$SINK_FILE" | jq -c '.body | fromjson | del(.eventId)')" \
  '{"callId":"call-u","tenantId":"tenant-u","reason":"removed"}' "the body"
t_eq "$(jq -r '.body | fromjson | .eventId' "$SINK_FILE" | sort -u | grep -cE '^[0-9a-f-]{36}$')" \
  1 "the body's eventId: one UUID, the same at the retry"
t_eq "$(k_metric 'mgcall_keeper_hook_runs_total{kind="url",result="failed"}')" 1 \
  "metrics: one failed POST"
t_eq "$(k_metric 'mgcall_keeper_hook_runs_total{kind="url",result="ok"}')" 1 \
  "metrics: one good POST"

if [ "$systemd" -gt 0 ]; then
  kill -HUP "$K_PID"
  t_wait 5 'grep -q "^RELOADING=1$" "$T/notify.log"' "RELOADING=1 on SIGHUP"
  t_wait 5 '[ "$(grep -c "^READY=1$" "$T/notify.log")" -ge 2 ]' "READY=1 after RELOADING"
  t_eq "$(grep -c '^READY=1$' "$T/notify.log")" 2 "READY=1 again after the reload"
fi
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"
if [ "$systemd" -gt 0 ]; then
  t_grep "$T/notify.log" '^STOPPING=1$' "STOPPING=1 on SIGTERM"
fi

# the unit file
unit="${MGCALL_SOURCE_DIR:?}/dist/mgcall-keeper.service"
t_grep "$unit" '^Type=notify$' "unit: Type=notify"
t_grep "$unit" '^ExecStart=/usr/bin/mgcall keeper run' "unit: runs mgcall keeper run"
t_grep "$unit" '^ExecReload=/bin/kill -HUP \$MAINPID$' "unit: reload = SIGHUP"
for h in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
  DynamicUser=yes CapabilityBoundingSet= RestrictAddressFamilies= SystemCallFilter=; do
  t_grep "$unit" "^$h" "unit hardening: $h"
done
t_nogrep "$unit" '--client-secret[ =]|--access-token[ =]' "no secret on the command line"
t_done
