#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Not serial: no check depends on timing (counts, order, bounded waits).
# t_keeper_slowdisk.sh - POST /notifications and the disk
# (tests/helpers/preload.c counts and holds the keeper's fsync/fdatasync):
#  - the calls a notification body ends are written in ONE transaction, not
#    one (one fsync) per call;
#  - the write happens off the control API's thread: while the disk holds
#    it, GET /healthz still answers, and the POST answers 202 once the
#    write is on disk.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"

PRELOAD="${MGCALL_BUILD_DIR:?}/tests/libmgcall-test-preload.so"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
printf 'test-token\n' >"$T/graph-token"
mkdir "$T/hold"
export LD_PRELOAD="$PRELOAD" MGCALL_TEST_FSYNC_LOG="$T/fsync.log" \
  MGCALL_TEST_FSYNC_HOLD="$T/hold"
# interval 1 h and calls started just now: no keepAlive, so no progress
# writes, during the test: every fsync is the test's own
k_start --interval 1h --deadline 3h --access-token-file "$T/graph-token" \
  --graph-url http://127.0.0.1:9 || { t_done; exit 1; }
unset LD_PRELOAD MGCALL_TEST_FSYNC_LOG MGCALL_TEST_FSYNC_HOLD
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
fsyncs() { wc -l <"$T/fsync.log" 2>/dev/null || echo 0; }

# 41 calls, registered in one POST /calls
jq -nc --arg t "$now" '[range(41) | {callId: "call-\(.)", startedAt: $t}]' >"$T/calls.json"
code=$(curl -sS --noproxy '*' -o "$T/body" -w '%{http_code}' -X POST "$K_URL/calls" \
  -H 'Content-Type: application/json' --data-binary "@$T/calls.json")
t_eq "$code $(jq -r .created "$T/body")" "201 41" "41 calls registered in one request"

# one body that ends 40 of them
notif() { # notif FIRST LAST: a commsNotifications body, calls FIRST..LAST terminated
  jq -nc --argjson a "$1" --argjson b "$2" '{value: [range($a; $b + 1) |
    {changeType: "deleted", resourceUrl: "/communications/calls/call-\(.)",
     resourceData: {state: "terminated"}}]}'
}
notif 0 39 >"$T/n40.json"
before=$(fsyncs)
code=$(curl -sS --noproxy '*' -o "$T/body" -w '%{http_code}' -X POST \
  "$K_URL/notifications" -H 'Content-Type: application/json' --data-binary "@$T/n40.json")
after=$(fsyncs)
t_eq "$code $(jq -r .ended "$T/body")" "202 40" "one notification body ends 40 calls"
t_ok '[ $((after - before)) -ge 1 ] && [ $((after - before)) -le 4 ]' \
  "written in one transaction: $((after - before)) fsync(s) for 40 calls (one per call before)"

# the last call: its end waits for a held disk
notif 40 40 >"$T/n1.json"
: >"$T/hold/hold"
curl -sS --noproxy '*' -o "$T/slow.body" -w '%{http_code}' -X POST \
  "$K_URL/notifications" -H 'Content-Type: application/json' \
  --data-binary "@$T/n1.json" >"$T/slow.code" 2>"$T/slow.err" &
SLOW=$!
T_PIDS+=("$SLOW")
t_wait 10 '[ -e "$T/hold/held" ]' "the notification's write reached the disk and is held there"
code=$(curl -sS --noproxy '*' --max-time 5 -o /dev/null -w '%{http_code}' "$K_URL/healthz")
t_eq "$code" 200 "GET /healthz answers while that write waits for the disk"
t_ok '[ ! -s "$T/slow.code" ]' "the POST has not answered yet (durable before acknowledged)"
rm -f "$T/hold/hold"
wait "$SLOW"
t_eq "$(cat "$T/slow.code") $(jq -r .ended "$T/slow.body")" "202 1" \
  "once the disk lets go the POST answers 202"
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"
t_eq "$(sqlite3 "$K_DB" "select count(*) from calls where state = 'ended'")" 41 \
  "41 ended calls in the store"
t_done
