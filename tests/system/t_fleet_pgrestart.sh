#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# Fleet mode when PostgreSQL goes away: a fast restart, then an outage
# longer than the lease TTL followed by pg_terminate_backend of every
# keeper connection.  The keepers keep sending for the calls they hold
# (none ends), registrations during the outage answer 503 and leave
# nothing behind, and held progress is written once the server is back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
. "$(dirname "$0")/fleet_lib.sh"
# both sides at once: directly to PostgreSQL over HTTP/1.1, and through
# PgBouncer in transaction mode over HTTP/2 (h2tls) (lib.sh t_side_by_side)
t_side_by_side h2tls FLEET_VIA=pgbouncer

f_setup a b c || t_done
f_gap_start
export MGCALL_KEEPER_URL=${F_URL[a]}
k_calls_tracked 30 "$T/ids" || t_fail "registering 30 calls"
k_until 10 f_kept_since 0 30 || t_fail "calls not all kept at first"

"$PGTMP" ctl "$PG_DIR" restart -m fast >/dev/null ||
  t_fail "pg_ctl restart -m fast"
back=$(date +%s%3N)
T_COUNT=$((T_COUNT + 1))
if k_until 10 f_kept_since "$back" 30; then
  t_pass "after pg_ctl restart -m fast every call's progress is written again"
else
  t_fail "progress not written after the restart"
fi

"$PGTMP" ctl "$PG_DIR" stop -m fast >/dev/null || t_fail "pg_ctl stop"
down_at=$(date +%s%3N)
before=$(k_stats keepAlives)
code=$(curl -sS --noproxy '*' -o "$T/503.json" -w '%{http_code}' -X POST \
  -H 'Content-Type: application/json' -d '{"callId":"during-outage-1"}' \
  "${F_URL[b]}/calls")
t_eq "$code" 503 "a registration while the database is down answers 503"
sleep 4 # twice the lease TTL
during=$(($(k_stats keepAlives) - before))
T_COUNT=$((T_COUNT + 1))
if [ "$during" -ge 60 ]; then
  t_pass "the keepers kept sending while the database was down ($during keepAlives in 4 s)"
else
  t_fail "only $during keepAlives while the database was down"
fi
"$PGTMP" ctl "$PG_DIR" start >/dev/null || t_fail "pg_ctl start"
# once the keepers are back on it, cut every connection of theirs again
if [ "${FLEET_VIA:-}" = pgbouncer ]; then
  # PgBouncer's server connections: they carry no keeper's application_name
  conns="datname = 'mgcall' AND backend_type = 'client backend'
      AND pid <> pg_backend_pid()"
  want=1
else
  conns="application_name LIKE 'mgcall-keeper%'"
  want=6 # two per keeper
fi
reconnected() {
  [ "$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE $conns")" -ge $want ]
}
k_until 10 reconnected || t_fail "the keepers did not reconnect"
killed=$(pg_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
  WHERE $conns")
echo "database down for $(($(date +%s%3N) - down_at)) ms; $killed keeper connections terminated after the start"
back=$(date +%s%3N)
T_COUNT=$((T_COUNT + 1))
if k_until 10 f_kept_since "$back" 30; then
  t_pass "every call's progress written again after the outage"
else
  t_fail "progress not caught up: $(pg_sql "SELECT count(*) FROM mgcall_calls WHERE last_success_ms > $back")"
fi
t_eq "$(pg_sql "SELECT count(*) FROM mgcall_calls WHERE call_id = 'during-outage-1'")" \
  0 "the refused registration left nothing behind"
k_until 10 f_settled 3 || t_fail "shards not settled after the outage"
id=$(t_emulator_call "$EMU_TOKEN") || t_fail "creating a call"
code=$(curl -sS --noproxy '*' -o /dev/null -w '%{http_code}' -X POST \
  -H 'Content-Type: application/json' \
  -d "{\"callId\":\"$id\",\"tenantId\":\"tenant-k\"}" "${F_URL[c]}/calls")
t_eq "$code" 201 "a registration after the outage answers 201"
sleep 7
f_check_nothing_lost 31
t_done
