#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_fleet_status_page.sh - the status page (GET /) in fleet mode, in a real
# headless Chromium (tests/system/js/status_page.mjs with FLEET_URLS): two
# keepers on one PostgreSQL (tests/helpers/pgtmp) against the emulator,
# with the calls of status_page_lib.sh (healthy, at risk, lost, HTML ids)
# and ends of every kind (one removed through the keeper that does not
# hold it, one by a notification to that keeper) with hooks that succeed
# or fail.  Each keeper's page shows
# the live calls it holds and the ends it made (together the fleet's
# figures in GET /calls), the whole fleet's last ends with their hook
# outcomes from the store (list_ended), and the members as GET /fleet has
# them.  Screenshot: $MGCALL_BUILD_DIR/artifacts/status_page_fleet.png.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
. "$(dirname "$0")/fleet_lib.sh"
. "$(dirname "$0")/js_lib.sh"
. "$(dirname "$0")/status_page_lib.sh"

sp_need_chromium
t_js_install || { t_done; exit 1; }
pg_start || { t_done; exit 1; }
k_emulator || { t_done; exit 1; }
sp_setup
for n in a b; do
  f_start "$n" "${KAUTH[@]}" --interval 10m --deadline 20m --lease-ttl 2s \
    --api-token-file "$T/api-token" --on-ended "$T/hook" --hook-retries 0 || { t_done; exit 1; }
done
k_until 15 f_settled 2 || t_fail "the two keepers did not share the shards"
A=${F_URL[a]}
B=${F_URL[b]}
sp_register "$A" 8
state_of() { # state_of ID: the state in the store
  pg_sql "SELECT state FROM mgcall_calls WHERE call_id = '$1'"
}
owner_of() {
  pg_sql "SELECT s.owner FROM mgcall_calls c JOIN mgcall_shards s USING (shard)
    WHERE c.call_id = '$1' AND c.claimed"
}
# held_by NODE: a healthy call keeper NODE holds (once it claimed it),
# registering more (at most 20) until the hash gives it one
held_by() {
  local i id
  for i in $(seq 21); do
    for id in "${ID[@]}"; do
      if [ "$(owner_of "$id")" = "$1" ] && [ "$id" != "${x:-}" ]; then
        echo "$id"
        return 0
      fi
    done
    k_calls 1 "$T/more" || return 1
    id=$(cat "$T/more")
    [ "$(sp_code -X POST "${AUTH[@]}" "${JSON[@]}" "$A/calls" \
      -d "{\"callId\":\"$id\",\"tenantId\":\"tenant-k\"}")" = 201 ] || return 1
    ID+=("$id")
    k_until 10 eval '[ -n "$(owner_of "$id")" ]' || return 1
  done
  return 1
}
kept() {
  [ "$(pg_sql "SELECT count(*) FROM mgcall_calls WHERE claimed AND call_id IN
      ($(printf "'%s'," "${ID[@]}")'-')")" = "${#ID[@]}" ]
}
k_until 15 kept || t_fail "the healthy calls are not all held"
# ... ended: one keeper a holds removed through b; one b holds by a
# notification to a
x=$(held_by a)
t_ok '[ -n "$x" ]' "keeper a holds a healthy call ($x)"
y=$(held_by b)
t_ok '[ -n "$y" ]' "keeper b holds a healthy call ($y)"
t_eq "$(sp_code -X DELETE "${AUTH[@]}" "$B/calls/$x")" 204 "remove it through keeper b"
t_eq "$(sp_code -X POST "${AUTH[@]}" "${JSON[@]}" "$A/notifications" \
  -d "{\"value\":[{\"changeType\":\"deleted\",\"resourceUrl\":\"/communications/calls/$y\",\"resourceData\":{\"state\":\"terminated\"}}]}")" \
  202 "a notification to keeper a ends it"
k_until 15 eval '[ "$(state_of hook-will-fail)" = ended ]' ||
  t_fail "hook-will-fail (unknown to Graph) did not end"
k_until 15 eval '[ "$(pg_sql "SELECT count(*) FROM mgcall_calls WHERE state = '"'lost'"'")" = 2 ]' ||
  t_fail "the two calls past their deadline are not lost"
k_until 15 eval '[ "$(wc -l <"$T/hook.log" 2>/dev/null || echo 0)" -ge 5 ]' ||
  t_fail "the 5 hooks did not run"
t_eq "$(pg_sql "SELECT string_agg(call_id || ':' || state || ':' || reason, ' ' ORDER BY call_id)
  FROM mgcall_calls WHERE state <> 'active' AND call_id IN ('$x', '$y')")" \
  "$(printf '%s\n' "$x:ended:removed" "$y:ended:terminated" | sort | tr '\n' ' ' | sed 's/ $//')" \
  "the removed and the terminated call ended"
risk=0
for u in "$A" "$B"; do
  n=$(curl -s --noproxy '*' "${AUTH[@]}" "$u/calls?state=at-risk" | jq '.calls | length')
  risk=$((risk + n))
done
t_eq "$risk" 3 "3 calls at risk in the fleet (each on the keeper holding it)"
t_ok '[ "$(curl -s --noproxy "*" "${AUTH[@]}" "$A/fleet" | jq ".members | length")" = 2 ]' "GET /fleet: 2 members"
sp_hooks "$x" "$y"
t_eq "$(sp_code "$B/")" 401 "GET / without the token: 401"

# --- the browser ----------------------------------------------------------------
sp_browser status_page_fleet.png 240 \
  "the pages in Chromium match GET /calls and GET /fleet" KEEPER_URL="$A" FLEET_URLS="$A $B"
[ "$T_FAILS" = 0 ] 2>/dev/null || f_logs
for n in a b; do
  kill -TERM "${F_PID[$n]}"
  wait "${F_PID[$n]}"
  t_eq "$?" 0 "keeper $n exits 0"
done
t_done
