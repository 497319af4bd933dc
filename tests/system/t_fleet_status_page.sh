#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_fleet_status_page.sh - the status page (GET /) in fleet mode, in a real
# headless Chromium (tests/system/js/status_page.mjs with FLEET_URLS): two
# keepers on one PostgreSQL (tests/helpers/pgtmp) against the emulator,
# with healthy calls, calls at risk and lost, calls ended every way (one
# removed through the keeper that does not hold it) with hooks that
# succeed or fail, and call ids that are HTML.  Each keeper's page shows
# the live calls it holds and the ends it made (together the fleet's
# figures in GET /calls), the whole fleet's last ends with their hook
# outcomes from the store (list_ended), and the members as GET /fleet has
# them.  Screenshot: $MGCALL_BUILD_DIR/artifacts/status_page_fleet.png.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
. "$(dirname "$0")/fleet_lib.sh"
. "$(dirname "$0")/js_lib.sh"

CHROMIUM=$(command -v chromium || true)
if [ -z "$CHROMIUM" ]; then
  t_fail "chromium is required (scripts/bootstrap installs it)"
  t_done
  exit 1
fi
t_js_install || { t_done; exit 1; }
pg_start || { t_done; exit 1; }
k_emulator || { t_done; exit 1; }
TOKEN="api-token-$RANDOM$RANDOM"
printf '%s\n' "$TOKEN" >"$T/api-token"
chmod 600 "$T/api-token"
cat >"$T/hook" <<HOOK
#!/bin/sh
echo "\$MGCALL_CALL_ID \$MGCALL_REASON" >>"$T/hook.log"
case "\$MGCALL_CALL_ID" in *fail*) exit 1 ;; esac
exit 0
HOOK
chmod +x "$T/hook"
# deadline 20 min: at risk under 4m26s before it (2/9 of the deadline)
for n in a b; do
  f_start "$n" "${KAUTH[@]}" --interval 10m --deadline 20m --lease-ttl 2s \
    --api-token-file "$T/api-token" --on-ended "$T/hook" --hook-retries 0 || { t_done; exit 1; }
done
k_until 15 f_settled 2 || t_fail "the two keepers did not share the shards"
A=${F_URL[a]}
B=${F_URL[b]}
AUTH=(-H "Authorization: Bearer $TOKEN")
JSON=(-H 'Content-Type: application/json')
code() {
  curl -s --noproxy '*' -o "$T/body" -w '%{http_code}' "$@"
}
reg() { # reg JSON-BODY (through keeper a)
  code -X POST "${AUTH[@]}" "${JSON[@]}" "$A/calls" -d "$1"
}
ago() { date -u -d "-$1 sec" +%Y-%m-%dT%H:%M:%SZ; }
state_of() { # state_of ID: the state in the store
  pg_sql "SELECT state FROM mgcall_calls WHERE call_id = '$1'"
}

t_eq "$(t_curl -o /dev/null -w '%{http_code}' -X PUT "$EMU_URL/_emulator/faults" \
  -d '{"tenantFault":{"tenant":"tenant-broken","status":503}}')" 200 "emulator: tenant-broken's tokens fail"

# healthy calls (Graph knows them) ...
k_calls 8 "$T/ids" || t_fail "emulator calls"
mapfile -t ID <"$T/ids"
for id in "${ID[@]}"; do
  t_eq "$(reg "{\"callId\":\"$id\",\"tenantId\":\"tenant-k\"}")" 201 "register $id"
done
# ... at risk: started 18 min ago, 2 min left, keepAlives failing; ids
# that are HTML
RISK=('<script>window.pwned=1</script>' '"><img src=x onerror="document.title=`pwned`">' "at-risk & 'quoted'")
for id in "${RISK[@]}"; do
  body=$(jq -nc --arg id "$id" --arg s "$(ago 1080)" '{callId: $id, tenantId: "tenant-broken", startedAt: $s}')
  t_eq "$(reg "$body")" 201 "register at-risk $id"
done
# ... lost within seconds: started 19m56s ago
for id in lost-1 lost-2; do
  t_eq "$(reg "{\"callId\":\"$id\",\"tenantId\":\"tenant-broken\",\"startedAt\":\"$(ago 1196)\"}")" 201 "register $id"
done
t_eq "$(reg '{"callId":"hook-will-fail","tenantId":"tenant-k"}')" 201 "register hook-will-fail"
kept() {
  [ "$(pg_sql "SELECT count(*) FROM mgcall_calls WHERE claimed AND call_id IN
      ($(printf "'%s'," "${ID[@]}")'-')")" = "${#ID[@]}" ]
}
k_until 15 kept || t_fail "the healthy calls are not all held"
# ... ended: removed through b, a call a holds (so b does not hold it)
owner_of() {
  pg_sql "SELECT s.owner FROM mgcall_calls c JOIN mgcall_shards s USING (shard)
    WHERE c.call_id = '$1'"
}
x=
for id in "${ID[@]:0:6}"; do
  if [ "$(owner_of "$id")" = a ]; then
    x=$id
    break
  fi
done
t_ok '[ -n "$x" ]' "keeper a holds one of the first 6 healthy calls ($x)"
t_eq "$(code -X DELETE "${AUTH[@]}" "$B/calls/$x")" 204 "remove it through keeper b"
t_eq "$(code -X POST "${AUTH[@]}" "${JSON[@]}" "$A/notifications" \
  -d "{\"value\":[{\"changeType\":\"deleted\",\"resourceUrl\":\"/communications/calls/${ID[7]}\",\"resourceData\":{\"state\":\"terminated\"}}]}")" \
  202 "a notification ends a call"
k_until 15 eval '[ "$(state_of hook-will-fail)" = ended ]' ||
  t_fail "hook-will-fail (unknown to Graph) did not end"
k_until 15 eval '[ "$(pg_sql "SELECT count(*) FROM mgcall_calls WHERE state = '"'lost'"'")" = 2 ]' ||
  t_fail "the two calls past their deadline are not lost"
k_until 15 eval '[ "$(wc -l <"$T/hook.log" 2>/dev/null || echo 0)" -ge 5 ]' ||
  t_fail "the 5 hooks did not run"
t_eq "$(pg_sql "SELECT string_agg(call_id || ':' || state || ':' || reason, ' ' ORDER BY call_id)
  FROM mgcall_calls WHERE state <> 'active' AND call_id IN ('$x', '${ID[7]}')")" \
  "$(printf '%s\n' "$x:ended:removed" "${ID[7]}:ended:terminated" | sort | tr '\n' ' ' | sed 's/ $//')" \
  "the removed and the terminated call ended"
risk=0
for u in "$A" "$B"; do
  n=$(curl -s --noproxy '*' "${AUTH[@]}" "$u/calls?state=at-risk" | jq '.calls | length')
  risk=$((risk + n))
done
t_eq "$risk" 3 "3 calls at risk in the fleet (each on the keeper holding it)"
t_ok '[ "$(curl -s --noproxy "*" "${AUTH[@]}" "$A/fleet" | jq ".members | length")" = 2 ]' "GET /fleet: 2 members"
HOOKS=$(jq -nc --arg a "$x" --arg b "${ID[7]}" \
  '{($a): "delivered", ($b): "delivered", "hook-will-fail": "failed", "lost-1": "delivered", "lost-2": "delivered"}')
t_eq "$(code "$B/")" 401 "GET / without the token: 401"

# --- the browser ----------------------------------------------------------------
ART="${MGCALL_BUILD_DIR:-$T}/artifacts"
mkdir -p "$ART" "$T/profile"
SHOT="$ART/status_page_fleet.png"
rm -f "$SHOT"
(cd "$JS_DIR" && env NO_PROXY='*' no_proxy='*' KEEPER_URL="$A" FLEET_URLS="$A $B" \
  TOKEN="$TOKEN" CHROMIUM="$CHROMIUM" PROFILE="$T/profile" SHOT="$SHOT" HOOKS="$HOOKS" \
  timeout 240 node status_page.mjs) >"$T/browser.out" 2>&1
rc=$?
grep -v '^ok ' "$T/browser.out" | sed 's/^/  status_page.mjs: /' >&2
t_eq "$rc" 0 "the pages in Chromium match GET /calls and GET /fleet ($(tail -1 "$T/browser.out"))"
t_ok '[ -s "$SHOT" ]' "screenshot kept: $SHOT"
[ "$T_FAILS" = 0 ] 2>/dev/null || f_logs
for n in a b; do
  kill -TERM "${F_PID[$n]}"
  wait "${F_PID[$n]}"
  t_eq "$?" 0 "keeper $n exits 0"
done
t_done
