#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# Fleet mode: three keepers share 60 calls on one PostgreSQL (interval 1s,
# deadline 5s, lease TTL 2s, the emulator ends a call after 6s without a
# keepAlive).  kill -9 of the keeper holding most calls: the other two
# adopt its shards and its calls, and no call ends by timeout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
. "$(dirname "$0")/fleet_lib.sh"
# both sides at once: directly to PostgreSQL over HTTP/1.1, and through
# PgBouncer in transaction mode over HTTP/2 (h2tls) (lib.sh t_side_by_side)
t_side_by_side h2tls FLEET_VIA=pgbouncer

f_setup a b c || t_done
fleet_of_b() {
  [ "$(f_fleet b | jq '[.members[] | select(.shards > 0)] | length')" = 3 ]
}
T_COUNT=$((T_COUNT + 1))
if k_until 5 fleet_of_b; then
  t_pass "GET /fleet on any node lists three members holding shards"
else
  t_fail "GET /fleet of b: $(f_fleet b)"
fi
t_eq "$(f_fleet b | jq '[.members[] | select(.self)] | .[0].nodeId' -r)" b \
  "GET /fleet marks the node asked as self"

f_gap_start
export MGCALL_KEEPER_URL=${F_URL[a]}
k_calls_tracked 60 "$T/ids" || t_fail "registering 60 calls through node a"
all_kept() {
  [ "$(pg_sql "SELECT count(*) FROM mgcall_calls WHERE claimed
      AND last_success_ms > 0 AND state = 'active'")" = 60 ]
}
T_COUNT=$((T_COUNT + 1))
if k_until 10 all_kept; then
  t_pass "every call claimed by its shard's owner and kept alive"
else
  t_fail "calls not all kept: $(pg_sql "SELECT claimed, state, last_success_ms > 0, count(*) FROM mgcall_calls GROUP BY 1, 2, 3")"
fi
holders=$(pg_sql "SELECT count(DISTINCT s.owner) FROM mgcall_calls c
  JOIN mgcall_shards s USING (shard)")
t_eq "$holders" 3 "the calls are spread over the three keepers"

f_stale_watch
victim=$(pg_sql "SELECT s.owner FROM mgcall_calls c JOIN mgcall_shards s
  USING (shard) GROUP BY s.owner ORDER BY count(*) DESC, s.owner LIMIT 1")
held=$(pg_sql "SELECT count(*) FROM mgcall_calls c JOIN mgcall_shards s
  USING (shard) WHERE s.owner = '$victim'")
echo "killing keeper $victim (-9), which holds $held calls"
killed_at=$(date +%s%3N)
f_kill "$victim" KILL

T_COUNT=$((T_COUNT + 1))
if k_until 10 f_settled 2; then
  t_pass "the two survivors hold every shard ($(($(date +%s%3N) - killed_at)) ms after the kill)"
else
  t_fail "shards not adopted: $(pg_sql "SELECT owner, expires_at > now(), count(*) FROM mgcall_shards GROUP BY 1, 2")"
fi
adopted=0
for n in a b c; do
  [ "$n" = "$victim" ] && continue
  v=$(curl -sS --noproxy '*' "${F_URL[$n]}/metrics" |
    awk '$1 == "mgcall_keeper_calls_adopted_total" { print $2 }')
  adopted=$((adopted + ${v:-0}))
done
T_COUNT=$((T_COUNT + 1))
if [ "$adopted" -ge "$held" ]; then
  t_pass "mgcall_keeper_calls_adopted_total of the survivors: $adopted (>= $held)"
else
  t_fail "calls adopted: $adopted, want at least $held"
fi

# 8 s after the kill, longer than the emulator's 6 s inactivity timeout:
# a call nobody kept since the kill has ended by now (the wait for the
# survivors above counts in it)
f_sleep_until $((killed_at + 8000))
written=$(pg_sql "SELECT count(*) FROM mgcall_calls c JOIN mgcall_shards s
  USING (shard) WHERE s.owner <> '$victim' AND c.term = s.term
  AND c.last_success_ms > $killed_at")
t_eq "$(f_stale_count)" 0 "no write under a term older than the shard's"
t_eq "$written" 60 "every call's progress written by its new owner under the shard's term"
f_check_nothing_lost 60
t_done
