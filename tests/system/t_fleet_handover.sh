#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# Fleet mode: a keeper that loses shards keeps sending their calls (never
# writing for them) until their new owner is seen keeping them.
# 1. Keeper a's shards are given, in the database, to an owner that never
#    loads or sends them (a keeper that took them and stalled, or whose load
#    keeps failing).  a keeps their calls alive for as long as that stalled
#    lease lasts, then takes the shards back; no call ends and nothing stale
#    is written.  Before the fix a dropped the calls at once and they ended.
# 2. A real handover: keeper c joins, a and b give up the shards above the
#    fair share and keep sending for them until c has written progress for
#    their calls; then every call is in exactly one keeper's memory.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
. "$(dirname "$0")/fleet_lib.sh"
# both sides at once: directly to PostgreSQL over HTTP/1.1, and through
# PgBouncer in transaction mode over HTTP/2 (h2tls) (lib.sh t_side_by_side)
t_side_by_side h2tls FLEET_VIA=pgbouncer

f_setup a b || t_done
f_gap_start
export MGCALL_KEEPER_URL=${F_URL[a]}
k_calls_tracked 30 "$T/ids" || t_fail "registering 30 calls"
k_until 10 f_kept_since 0 30 || t_fail "calls not all kept at first"
f_stale_watch

of_a=$(pg_sql "SELECT count(*) FROM mgcall_calls c JOIN mgcall_shards s
  USING (shard) WHERE s.owner = 'a'")
T_COUNT=$((T_COUNT + 1))
if [ "$of_a" -gt 0 ]; then
  t_pass "keeper a holds $of_a of the 30 calls"
else
  t_fail "keeper a holds none of the calls: the test proves nothing"
fi
# 12 s: twice the emulator's 6 s inactivity timeout
pg_sql "UPDATE mgcall_shards SET owner = 'stalled', term = term + 1,
  expires_at = now() + interval '12 seconds' WHERE owner = 'a'" >/dev/null
stolen_at=$(date +%s%3N)
T_COUNT=$((T_COUNT + 1))
if k_until 5 f_lost_logged a; then
  t_pass "a noticed: $(grep -o 'lost [0-9]* shards\? to another keeper[^"]*' "$T/a.err" | head -1)"
else
  t_fail "keeper a logged no lost shards"
fi
# Past the emulator's timeout (8 s after the theft; the wait for a's log
# above counts in it), the stalled lease still held: every call must still
# be established (a kept sending for its former calls).
f_sleep_until $((stolen_at + 8000))
held=$(pg_sql "SELECT count(*) FROM mgcall_shards WHERE owner = 'stalled'
  AND expires_at > now()")
echo "$(($(date +%s%3N) - stolen_at)) ms after the theft the stalled owner holds $held shards"
T_COUNT=$((T_COUNT + 1))
if [ "$held" -gt 0 ]; then
  t_pass "the stalled lease is still held $(( ($(date +%s%3N) - stolen_at) / 1000 )) s on"
else
  t_fail "the stalled lease expired too early: the check below proves nothing"
fi
t_eq "$(k_stats endedByTimeout)" 0 \
  "no call ended while its shard's new owner never sent for it"
t_eq "$(pg_sql "SELECT count(*) FROM mgcall_calls WHERE state <> 'active'")" \
  0 "no call ended in the store"
T_COUNT=$((T_COUNT + 1))
if k_until 15 f_settled 2; then
  t_pass "the stalled lease expired and the two keepers hold every shard again"
else
  t_fail "shards not taken back: $(pg_sql "SELECT owner, count(*) FROM mgcall_shards GROUP BY owner")"
fi
back=$(date +%s%3N)
T_COUNT=$((T_COUNT + 1))
if k_until 10 f_kept_since "$back" 30; then
  t_pass "every call's progress is written again"
else
  t_fail "progress not written after the shards came back"
fi
t_eq "$(f_stale_count)" 0 "no write under a term older than the shard's"

# ---- 2. a real handover: c joins ----
f_start c "${F_KARGS[@]}" || t_done
T_COUNT=$((T_COUNT + 1))
if k_until 15 f_settled 3; then
  t_pass "c took its fair share"
else
  t_fail "the three keepers did not share the shards"
fi
active_in() {
  curl -sS --noproxy '*' "${F_URL[$1]}/metrics" |
    awk '$1 == "mgcall_keeper_calls{state=\"active\"}" { print $2 }'
}
in_memory() {
  local n sum=0 v
  for n in a b c; do
    v=$(active_in "$n")
    sum=$((sum + ${v:-1000}))
  done
  echo "$sum"
}
once_each() { [ "$(in_memory)" = 30 ]; }
T_COUNT=$((T_COUNT + 1))
if k_until 15 once_each; then
  t_pass "after the handover every call is in exactly one keeper's memory"
else
  t_fail "calls in memory over a, b and c: $(in_memory) (30 expected)"
fi
handed=$(grep -ho 'handed over [0-9]* calls' "$T/a.err" "$T/b.err" |
  awk '{ s += $3 } END { print s + 0 }')
of_c=$(pg_sql "SELECT count(*) FROM mgcall_calls c JOIN mgcall_shards s
  USING (shard) WHERE s.owner = 'c'")
echo "a and b handed over $handed calls; c owns $of_c"
T_COUNT=$((T_COUNT + 1))
if [ "$of_c" -gt 0 ] && [ "$handed" -ge "$of_c" ]; then
  t_pass "a and b forgot c's calls only after handing them over ($handed >= $of_c)"
else
  t_fail "handed over $handed calls, c owns $of_c"
fi
sleep 2
t_eq "$(f_stale_count)" 0 "still no stale write"
f_check_nothing_lost 30
t_done
