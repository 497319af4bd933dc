#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# Fleet mode: a fourth keeper joins three (within two lease TTLs every
# member holds its fair share, ceil(64/4) = 16 shards at most), then a
# rolling restart of all four (SIGTERM hands the shards over at once).  No
# call ends, and mgcall keeper fleet lists the members.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
. "$(dirname "$0")/fleet_lib.sh"
# both sides at once: directly to PostgreSQL over HTTP/1.1, and through
# PgBouncer in transaction mode over HTTP/2 (h2tls) (lib.sh t_side_by_side)
t_side_by_side h2tls FLEET_VIA=pgbouncer

f_setup a b c || t_done
f_gap_start
export MGCALL_KEEPER_URL=${F_URL[c]}
k_calls_tracked 40 "$T/ids" || t_fail "registering 40 calls"
k_until 10 f_kept_since 0 40 || t_fail "calls not all kept"
# GET /calls pages over the whole fleet in the database: any node gives the
# same 40 calls in the same order, 15 per page
pages_of() { # $1 = keeper URL: every call id, one per line, following "next"
  local after="" n=0 body
  while [ $n -lt 10 ]; do
    n=$((n + 1))
    body=$(curl -sS --noproxy '*' -G "$1/calls" --data-urlencode "limit=15" \
      ${after:+--data-urlencode "after=$after"}) || return 1
    jq -r '.calls[].callId' <<<"$body" || return 1
    after=$(jq -r '.next // empty' <<<"$body")
    [ -n "$after" ] || return 0
  done
  return 1
}
pages_of "${F_URL[a]}" >"$T/ids_a" || t_fail "paging GET /calls on a"
pages_of "${F_URL[b]}" >"$T/ids_b" || t_fail "paging GET /calls on b"
t_eq "$(sort -u "$T/ids_a" | wc -l)" 40 "GET /calls on a (pages of 15): the fleet's 40 calls"
t_eq "$(cat "$T/ids_a")" "$(cat "$T/ids_b")" "GET /calls on b: the same calls in the same order"
t_eq "$(LC_ALL=C sort "$T/ids" | tr -d ' ')" "$(tr -d ' ' <"$T/ids_a")" "in call-id order, byte-wise"

f_start d "${F_KARGS[@]}" || t_done
joined=$(date +%s%3N)
T_COUNT=$((T_COUNT + 1))
if k_until 4 f_settled 4; then
  t_pass "four members hold a fair share $(($(date +%s%3N) - joined)) ms after the join (two TTLs: 4000 ms)"
else
  t_fail "no fair share within two TTLs: $(pg_sql "SELECT owner, count(*) FROM mgcall_shards GROUP BY owner")"
fi
# each node's view is as of its last renewal (every TTL/4): wait for it
view_of_a() {
  "$MGCALL" keeper fleet --json --keeper-url "${F_URL[a]}" >"$T/fleet.json" &&
    [ "$(jq '[.members[].shards] | add' "$T/fleet.json")" = 64 ] &&
    [ "$(jq '.members | length' "$T/fleet.json")" = 4 ]
}
T_COUNT=$((T_COUNT + 1))
if k_until 3 view_of_a; then
  t_pass "keeper fleet --json on a: four members whose shards add up to 64"
else
  t_fail "keeper fleet --json on a: $(cat "$T/fleet.json")"
fi
t_eq "$(jq '.shards' "$T/fleet.json")" 64 "keeper fleet --json: 64 shards"
t_expect_exit 0 "mgcall keeper fleet (text)" -- \
  "$MGCALL" keeper fleet --keeper-url "${F_URL[d]}"
t_grep "$T/out" '^d .*\(this node\)' "the text view marks the node asked"

for n in a b c d; do
  f_kill "$n" TERM
  t_eq "$?" 0 "keeper $n stopped with status 0"
  f_start "$n" "${F_KARGS[@]}" || t_done
  T_COUNT=$((T_COUNT + 1))
  if k_until 8 f_settled 4; then
    t_pass "rolling restart: $n back, four members settled"
  else
    t_fail "rolling restart of $n: $(pg_sql "SELECT owner, count(*) FROM mgcall_shards GROUP BY owner")"
  fi
done
grep -h "released .*leaving the fleet" "$T"/[abcd].err | head -1 | sed 's/^/  log: /'
now=$(date +%s%3N)
sleep 2
k_until 8 f_kept_since "$now" 40 || t_fail "calls not all kept after the rolling restart"
sleep 5
f_check_nothing_lost 40
t_done
