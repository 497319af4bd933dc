#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# Fleet mode: a keeper paused (SIGSTOP) for longer than its lease TTL loses
# its shards to the other two; resumed (SIGCONT), it notices, drops those
# calls and writes nothing stale (every row of its former shards carries
# the new owner's term), then takes its fair share again.  No call ends.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
. "$(dirname "$0")/fleet_lib.sh"
# both sides at once: directly to PostgreSQL over HTTP/1.1, and through
# PgBouncer in transaction mode over HTTP/2 (h2tls) (lib.sh t_side_by_side)
t_side_by_side h2tls FLEET_VIA=pgbouncer

f_setup a b c || t_done
f_gap_start
export MGCALL_KEEPER_URL=${F_URL[b]}
k_calls_tracked 45 "$T/ids" || t_fail "registering 45 calls"
all_kept() {
  [ "$(pg_sql "SELECT count(*) FROM mgcall_calls WHERE claimed
      AND last_success_ms > 0 AND state = 'active'")" = 45 ]
}
k_until 10 all_kept || t_fail "calls not all kept before the pause"
f_stale_watch

victim=$(pg_sql "SELECT s.owner FROM mgcall_calls c JOIN mgcall_shards s
  USING (shard) GROUP BY s.owner ORDER BY count(*) DESC, s.owner LIMIT 1")
pg_sql "SELECT shard, term FROM mgcall_shards WHERE owner = '$victim'" \
  >"$T/before"
shards=$(cut -d'|' -f1 "$T/before" | paste -sd, -)
echo "pausing keeper $victim (SIGSTOP), shards $shards"
kill -STOP "${F_PID[$victim]}"
paused_at=$(date +%s%3N)

T_COUNT=$((T_COUNT + 1))
if k_until 10 f_settled 2; then
  t_pass "the other two took every shard while $victim was paused ($(($(date +%s%3N) - paused_at)) ms)"
else
  t_fail "shards not taken over: $(pg_sql "SELECT owner, expires_at > now(), count(*) FROM mgcall_shards GROUP BY 1, 2")"
fi
vals=$(sed 's/^\([0-9]*\)|\([0-9]*\)$/(\1, \2)/' "$T/before" | paste -sd, -)
newer=$(pg_sql "SELECT count(*) FROM mgcall_shards s JOIN (VALUES $vals)
  AS v(shard, term) USING (shard) WHERE s.owner <> '$victim'
  AND s.term > v.term")
t_eq "$newer" "$(wc -l <"$T/before")" "each of its shards has a new owner and a higher term"
sleep 1
kill -CONT "${F_PID[$victim]}"
resumed_at=$(date +%s%3N)
echo "resumed $victim after $((resumed_at - paused_at)) ms"

T_COUNT=$((T_COUNT + 1))
if k_until 5 f_lost_logged "$victim"; then
  t_pass "the resumed keeper noticed: $(grep -o 'lost [0-9]* shards\? to another keeper[^"]*' "$T/$victim.err" | head -1)"
else
  t_fail "the resumed keeper logged no lost shards"
fi
# it sent overdue keepAlives on waking (harmless); its writes were fenced
sleep 3
stale=$(pg_sql "SELECT count(*) FROM mgcall_calls c JOIN mgcall_shards s
  USING (shard) WHERE c.shard IN ($shards) AND c.state = 'active'
  AND c.term <> s.term")
t_eq "$stale" 0 "no row of its former shards carries a stale term"
t_eq "$(f_stale_count)" 0 "no write at all under a term older than the shard's"
lost=$(curl -sS --noproxy '*' "${F_URL[$victim]}/metrics" |
  awk '$1 == "mgcall_keeper_leases_lost_total" { print $2 }')
t_eq "$lost" "$(wc -l <"$T/before")" "mgcall_keeper_leases_lost_total counts its shards"
T_COUNT=$((T_COUNT + 1))
if k_until 10 f_settled 3; then
  t_pass "the resumed keeper took its fair share again"
else
  t_fail "no fair share after resuming: $(pg_sql "SELECT owner, count(*) FROM mgcall_shards GROUP BY owner")"
fi
sleep 6
f_check_nothing_lost 45
t_done
