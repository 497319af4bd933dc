#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keeper_notifications.sh - calls whose callbackUri is the keeper's
# POST /notifications: the emulator's "established" commsNotification makes
# the keeper track them (tenant from the notification), they are kept alive
# past the inactivity timeout, and the "terminated"/"deleted" notification
# of a hang-up ends the call (hook once).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
t_side_by_side h2tls

k_emulator --inactivity-timeout $((3 * T_SCALE))s || { t_done; exit 1; }
cat >"$T/hook" <<HOOK
#!/bin/sh
echo "\$MGCALL_CALL_ID \$MGCALL_TENANT_ID \$MGCALL_REASON" >>"$T/hook.log"
HOOK
chmod +x "$T/hook"
k_start --interval "${T_SCALE}s" --deadline $((3 * T_SCALE))s --on-ended "$T/hook" "${KAUTH[@]}" ||
  { t_done; exit 1; }
k_calls 3 "$T/ids" "$K_URL/notifications" ||
  { t_fail "cannot create calls"; t_done; exit 1; }
t_wait 10 '[ "$(k_live_count)" = 3 ]' "3 calls tracked from established notifications"
one=$(head -1 "$T/ids")
t_eq "$(curl -s "$K_URL/calls/$one" | jq -r .tenantId)" tenant-k \
  "tenant taken from the notification"
before=$(k_stats keepAlives)
t_wait 20 '[ "$(k_stats keepAlives)" -ge $((before + 18)) ]' \
  "18 more keepAlives (two inactivity timeouts)"
t_eq "$(k_stats endedByTimeout)" 0 "kept alive past the inactivity timeout"

t_eq "$(k_hangup "$one")" 204 "hang-up in the emulator"
t_wait 10 '[ "$(k_state "$one")" = ended ]' "hung-up call ended"
reason=$(curl -s "$K_URL/calls/$one" | jq -r .reason)
# the notification normally wins; a keepAlive 404 in the same instant is
# the other legitimate path
t_eq "$(echo "$reason" | grep -Ec '^(terminated|not-found)$')" 1 \
  "ended by the notification (reason $reason)"
t_wait 10 '[ -s "$T/hook.log" ]' "the hook ran"
t_eq "$(k_live_count)" 2 "the other two still tracked"
t_eq "$(k_stats endedByTimeout)" 0 "none ended by timeout"
if [ "$T_FAILS" -gt 0 ]; then # diagnostics
  t_curl "$EMU_URL/_emulator/stats" | jq -c .notifications >&2
  grep -E 'notif|control API|error' "$T/keeper.err" | head -10 >&2
  cat "$T/ids" >&2
  curl -s "$K_URL/calls" | jq -c '.calls[] | [.callId, .state, .reason]' >&2
  uptime >&2
fi
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"
# every queued hook ran before the keeper stopped: the log is final
t_eq "$(cat "$T/hook.log")" "$one tenant-k $reason" "the hook ran exactly once"
t_done
