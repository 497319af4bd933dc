#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# Fleet mode when the database holds a statement without answering (here a
# lock held elsewhere on the calls table for 18 s; in production also a pooler
# queueing statements while the server is down): a registration and a
# removal answer 503 within the store's bound (5 s) instead of waiting for
# the database, their statements are cancelled so that neither lands later,
# the keepers keep sending meanwhile, and the progress held during the stall
# is written once the lock is gone.  Through PgBouncer (the other side, see
# below) the cancellation goes through PgBouncer to the server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
. "$(dirname "$0")/fleet_lib.sh"
# both sides at once: directly to PostgreSQL over HTTP/1.1, and through
# PgBouncer in transaction mode over HTTP/2 (h2tls) (lib.sh t_side_by_side)
t_side_by_side h2tls FLEET_VIA=pgbouncer

f_setup a b || t_done
f_gap_start
export MGCALL_KEEPER_URL=${F_URL[a]}
k_calls_tracked 20 "$T/ids" || t_fail "registering 20 calls"
k_until 10 f_kept_since 0 20 || t_fail "calls not all kept at first"
victim=$(head -1 "$T/ids")

# writes to the calls table wait for this lock (reads do not); 18 s: a
# request may first wait for the store connection behind a progress write
# (itself bounded at 5 s), then 5 s for its own statement, plus up to 1 s
# for the cancellation
pg_sql "BEGIN; LOCK TABLE mgcall_calls IN EXCLUSIVE MODE;
  SELECT pg_sleep(18); COMMIT" >"$T/lock.out" 2>&1 &
lock_pid=$!
locked() {
  [ "$(pg_sql "SELECT count(*) FROM pg_locks l JOIN pg_class c
      ON c.oid = l.relation WHERE c.relname = 'mgcall_calls'
      AND l.mode = 'ExclusiveLock' AND l.granted")" = 1 ]
}
k_until 5 locked || t_fail "the lock was not taken"

# a registration through a, a removal through b, at once; each notes
# whether the lock was still held when its answer came
ask() { # NAME CURL-ARGS...
  local name=$1
  shift
  curl -sS --noproxy '*' -m 40 -o "$T/$name.json" -w '%{http_code}' "$@" \
    >"$T/$name.code"
  if kill -0 "$lock_pid" 2>/dev/null; then echo held; else echo released; fi \
    >"$T/$name.lock"
}
ask post -X POST -H 'Content-Type: application/json' \
  -d '{"callId":"during-stall-1"}' "${F_URL[a]}/calls" &
post_pid=$!
ask delete -X DELETE "${F_URL[b]}/calls/$victim" &
delete_pid=$!
wait "$post_pid"
t_eq "$?" 0 "the registration's client ran"
wait "$delete_pid"
t_eq "$?" 0 "the removal's client ran"
t_eq "$(cat "$T/post.code")" 503 \
  "a registration while the calls table is locked answers 503"
t_eq "$(cat "$T/post.lock")" held \
  "... while the lock was still held (the keeper did not wait for it)"
t_ok 'jq -e "(.error.code == \"storeUnavailable\") and
    (.error.message | test(\"no answer within 5000 ms\"))" "$T/post.json" >/dev/null' \
  "... saying the database had no answer within the bound: $(jq -c . "$T/post.json" 2>/dev/null)"
t_eq "$(cat "$T/delete.code")" 503 \
  "a removal while the calls table is locked answers 503"
t_eq "$(cat "$T/delete.lock")" held "... while the lock was still held"

wait "$lock_pid"
t_eq "$?" 0 "the lock was held for its 18 s and released ($(tr '\n' ' ' <"$T/lock.out"))"
back=$(date +%s%3N)
t_eq "$(pg_sql "SELECT count(*) FROM mgcall_calls WHERE call_id = 'during-stall-1'")" \
  0 "the cancelled registration left nothing behind"
t_eq "$(pg_sql "SELECT state FROM mgcall_calls WHERE call_id = '$victim'")" \
  active "the cancelled removal left the call active"
T_COUNT=$((T_COUNT + 1))
if k_until 10 f_kept_since "$back" 20; then
  t_pass "every call's progress written after the lock was released"
else
  t__failed "progress not caught up: $(pg_sql "SELECT count(*) FROM mgcall_calls WHERE last_success_ms > $back")"
fi
code=$(curl -sS --noproxy '*' -m 30 -o /dev/null -w '%{http_code}' -X POST \
  -H 'Content-Type: application/json' -d '{"callId":"after-stall-1"}' \
  "${F_URL[b]}/calls")
t_eq "$code" 201 "a registration after the stall answers 201"
t_eq "$(pg_sql "SELECT count(*) FROM mgcall_calls WHERE call_id = 'after-stall-1'")" \
  1 "... and is in the database"
f_check_nothing_lost 20
t_done
