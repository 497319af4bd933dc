#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_keeper_status_page.sh - the keeper's status page (GET /) in a real
# headless Chromium (Debian's chromium, driven by puppeteer-core from
# tests/system/js/status_page.mjs): a keeper against the emulator with
# healthy calls, calls at risk and lost (their tenant's token endpoint
# fails), calls ended every way with hooks that succeed or fail, and call
# ids that are HTML; the DOM is checked against GET /calls and a
# screenshot is kept in the build directory
# ($MGCALL_BUILD_DIR/artifacts/status_page.png).  Also: the page needs the
# token (401) and the Host/Origin guard applies (403).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
. "$(dirname "$0")/js_lib.sh"

CHROMIUM=$(command -v chromium || true)
if [ -z "$CHROMIUM" ]; then
  t_fail "chromium is required (scripts/bootstrap installs it)"
  t_done
  exit 1
fi
t_js_install || {
  t_done
  exit 1
}
k_emulator || {
  t_done
  exit 1
}
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
k_start "${KAUTH[@]}" --interval 10m --deadline 20m --api-token-file "$T/api-token" \
  --on-ended "$T/hook" --hook-retries 0 || {
  t_done
  exit 1
}
AUTH=(-H "Authorization: Bearer $TOKEN")
JSON=(-H 'Content-Type: application/json')
code() {
  curl -s --noproxy '*' -o "$T/body" -w '%{http_code}' "$@"
}
reg() { # reg JSON-BODY
  code -X POST "${AUTH[@]}" "${JSON[@]}" "$K_URL/calls" -d "$1"
}
ago() { date -u -d "-$1 sec" +%Y-%m-%dT%H:%M:%SZ; }

# the token endpoint of tenant "tenant-broken" answers 503: its calls fail
t_eq "$(t_curl -o /dev/null -w '%{http_code}' -X PUT "$EMU_URL/_emulator/faults" \
  -d '{"tenantFault":{"tenant":"tenant-broken","status":503}}')" 200 "emulator: tenant-broken's tokens fail"

# healthy calls (Graph knows them) ...
k_calls 6 "$T/ids" || t_fail "emulator calls"
mapfile -t ID <"$T/ids"
for id in "${ID[@]}"; do
  t_eq "$(reg "{\"callId\":\"$id\",\"tenantId\":\"tenant-k\"}")" 201 "register $id"
done
# ... at risk: started 18 min ago, 2 min left, keepAlives failing; their
# ids are HTML
RISK=('<script>window.pwned=1</script>' '"><img src=x onerror="document.title=`pwned`">' "at-risk & 'quoted'")
for id in "${RISK[@]}"; do
  body=$(jq -nc --arg id "$id" --arg s "$(ago 1080)" '{callId: $id, tenantId: "tenant-broken", startedAt: $s}')
  t_eq "$(reg "$body")" 201 "register at-risk $id"
done
# ... lost within seconds: started 19m56s ago
for id in lost-1 lost-2; do
  t_eq "$(reg "{\"callId\":\"$id\",\"tenantId\":\"tenant-broken\",\"startedAt\":\"$(ago 1196)\"}")" 201 "register $id"
done
# ... ended: removed (one hook fails), terminated, not-found
t_eq "$(code -X DELETE "${AUTH[@]}" "$K_URL/calls/${ID[4]}")" 204 "remove a call"
t_eq "$(reg '{"callId":"hook-will-fail","tenantId":"tenant-k"}')" 201 "register hook-will-fail"
t_wait 10 '[ "$(curl -s --noproxy "*" "${AUTH[@]}" "$K_URL/calls/hook-will-fail" | jq -r .state)" = ended ]' \
  "hook-will-fail (unknown to Graph) ends: not-found"
t_eq "$(code -X POST "${AUTH[@]}" "${JSON[@]}" "$K_URL/notifications" \
  -d "{\"value\":[{\"changeType\":\"deleted\",\"resourceUrl\":\"/communications/calls/${ID[5]}\",\"resourceData\":{\"state\":\"terminated\"}}]}")" \
  202 "a notification ends a call"
t_wait 15 '[ "$(curl -s --noproxy "*" "${AUTH[@]}" "$K_URL/calls?state=lost" | jq ".calls | length")" = 2 ]' \
  "the two calls past their deadline are lost"
t_wait 15 '[ "$(wc -l <"$T/hook.log" 2>/dev/null || echo 0)" -ge 5 ]' "the 5 hooks ran"
t_eq "$(curl -s --noproxy '*' "${AUTH[@]}" "$K_URL/calls?state=at-risk" | jq '.calls | length')" 3 \
  "3 calls at risk"
HOOKS=$(jq -nc --arg a "${ID[4]}" --arg b "${ID[5]}" \
  '{($a): "delivered", ($b): "delivered", "hook-will-fail": "failed", "lost-1": "delivered", "lost-2": "delivered"}')

# --- authorization and the guard --------------------------------------------
t_eq "$(code "$K_URL/")" 401 "GET / without the token: 401"
t_eq "$(code -H 'Host: attacker.example' "${AUTH[@]}" "$K_URL/")" 403 "GET / with a foreign Host: 403"
t_eq "$(code -H 'Origin: http://attacker.example' "${AUTH[@]}" "$K_URL/")" 403 "GET / from a foreign Origin: 403"
t_eq "$(code -X POST "${AUTH[@]}" "$K_URL/")" 405 "POST /: 405"

# --- the browser ----------------------------------------------------------------
ART="${MGCALL_BUILD_DIR:-$T}/artifacts"
mkdir -p "$ART" "$T/profile"
SHOT="$ART/status_page.png"
rm -f "$SHOT"
(cd "$JS_DIR" && env NO_PROXY='*' no_proxy='*' KEEPER_URL="$K_URL" TOKEN="$TOKEN" \
  CHROMIUM="$CHROMIUM" PROFILE="$T/profile" SHOT="$SHOT" HOOKS="$HOOKS" \
  timeout 180 node status_page.mjs) >"$T/browser.out" 2>&1
rc=$?
grep -v '^ok ' "$T/browser.out" | sed 's/^/  status_page.mjs: /' >&2
t_eq "$rc" 0 "the page in Chromium matches GET /calls ($(tail -1 "$T/browser.out"))"
t_ok '[ -s "$SHOT" ]' "screenshot kept: $SHOT"
k_stop
t_eq "$K_STATUS" 0 "keeper exits 0"
t_done
