#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# Fleet mode, cleanup hooks (the durable outbox in PostgreSQL):
# - a call removed through node a but owned by node b: its hook runs once
#   in the whole fleet (written with the end by the owner, claimed by one
#   node with SKIP LOCKED);
# - kill -9 of the node running a hook, before it finished: another node
#   runs it once the claim's lease is over, with the same event id.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
. "$(dirname "$0")/fleet_lib.sh"
# both sides at once: directly to PostgreSQL over HTTP/1.1, and through
# PgBouncer in transaction mode over HTTP/2 (h2tls) (lib.sh t_side_by_side)
t_side_by_side h2tls FLEET_VIA=pgbouncer

# The hook: "start CALL EVENT REASON PID", waits for $T/gate (at most 20
# s) unless the call is not in $T/slow, then "done CALL EVENT".
cat >"$T/hook" <<HOOK
#!/bin/sh
echo "start \$MGCALL_CALL_ID \$MGCALL_EVENT_ID \$MGCALL_REASON \$\$" >>"$T/hook.log"
if grep -qx "\$MGCALL_CALL_ID" "$T/slow" 2>/dev/null; then
  for i in \$(seq 400); do
    [ -e "$T/gate" ] && break
    sleep 0.05
  done
  [ -e "$T/gate" ] || exit 1
fi
echo "done \$MGCALL_CALL_ID \$MGCALL_EVENT_ID" >>"$T/hook.log"
HOOK
chmod +x "$T/hook"
: >"$T/hook.log"
: >"$T/slow"
count() { grep -c "^$1 $2 " "$T/hook.log"; }

pg_start || t_done
k_emulator --inactivity-timeout 30s || t_done
KARGS=(--interval 1s --deadline 5s --jitter 10 --lease-ttl 2s
  --on-ended "$T/hook" --hook-timeout 2s --hook-retries 1 "${KAUTH[@]}")
for n in a b c; do f_start "$n" "${KARGS[@]}" || t_done; done
k_until 15 f_settled 3 || t_fail "the three keepers did not share the shards"
export MGCALL_KEEPER_URL=${F_URL[a]}
k_calls_tracked 24 "$T/ids" || t_fail "registering 24 calls"
kept() {
  [ "$(pg_sql "SELECT count(*) FROM mgcall_calls WHERE claimed
      AND last_success_ms > 0 AND state = 'active'")" = 24 ]
}
k_until 10 kept || t_fail "calls not all kept"
owned_by() {
  pg_sql "SELECT c.call_id FROM mgcall_calls c JOIN mgcall_shards s
    USING (shard) WHERE s.owner = '$1' AND c.state = 'active'
    ORDER BY c.call_id LIMIT 1"
}

# ---- removed through a, owned by b: one hook in the fleet ----
x=$(owned_by b)
t_expect_exit 0 "remove a call of b through a" -- \
  "$MGCALL" keeper remove "$x" --keeper-url "${F_URL[a]}"
k_until 5 grep -q "^done $x " "$T/hook.log"
t_eq $? 0 "its hook ran"
sleep 3 # every node's hook thread looked again meanwhile
t_eq "$(count start "$x")" 1 "it ran once in the fleet"
t_eq "$(pg_sql "SELECT state || ':' || reason FROM mgcall_calls WHERE call_id = '$x'")" \
  "ended:removed" "the call ended with reason removed"
t_eq "$(pg_sql "SELECT count(*) || ':' || min(state) FROM mgcall_hook_jobs WHERE call_id = '$x'")" \
  "1:delivered" "one hook job, delivered"
t_grep "$T/b.err" "$x.*ended \(reason removed\)" "the owner (b) ended it"

# ---- kill -9 of the node running a hook ----
y=$(owned_by c)
echo "$y" >"$T/slow"
t_expect_exit 0 "remove a call of c through b" -- \
  "$MGCALL" keeper remove "$y" --keeper-url "${F_URL[b]}"
k_until 10 grep -q "^start $y " "$T/hook.log"
t_eq $? 0 "its hook started (and waits)"
runner=$(pg_sql "SELECT claimed_by FROM mgcall_hook_jobs WHERE call_id = '$y'")
victim=
for n in a b c; do
  # the default claimer name is host:pid
  case $runner in *:"${F_PID[$n]}") victim=$n ;; esac
done
T_COUNT=$((T_COUNT + 1))
if [ -n "$victim" ]; then
  t_pass "node $victim claimed the job ($runner)"
else
  t_fail "no node claimed the job: '$runner'"
fi
ev=$(awk -v y="$y" '$1 == "start" && $2 == y { print $3 }' "$T/hook.log")
[ -n "$victim" ] && f_kill "$victim" KILL
kill "$(awk -v y="$y" '$1 == "start" && $2 == y { print $5 }' "$T/hook.log")" 2>/dev/null
t_eq "$(count done "$y")" 0 "killed before the hook finished"
touch "$T/gate"
k_until 20 grep -q "^done $y " "$T/hook.log"
t_eq $? 0 "another node ran the hook after the claim's lease"
t_eq "$(awk -v y="$y" '$1 == "done" && $2 == y { print $3 }' "$T/hook.log")" "$ev" \
  "with the same event id"
sleep 2
t_eq "$(count done "$y")" 1 "once"
t_eq "$(pg_sql "SELECT state FROM mgcall_hook_jobs WHERE call_id = '$y'")" \
  delivered "its job is delivered"
[ "$T_FAILS" -gt 0 ] && f_logs
t_done
