# SPDX-License-Identifier: MIT
# status_page_lib.sh - the calls both status page tests show
# (t_keeper_status_page.sh, t_fleet_status_page.sh).  Source after lib.sh
# and keeper_lib.sh, once k_emulator has run.
#
# sp_setup
#   Writes the API token ($T/api-token, sets TOKEN, AUTH, JSON) and the
#   hook $T/hook (appends "ID REASON" to $T/hook.log, fails for ids with
#   "fail").  Keepers run with --interval 10m --deadline 20m: at risk under
#   4m26s before the deadline.
# sp_register URL N
#   Through the control API at URL: the token endpoint of tenant
#   "tenant-broken" fails (503); N healthy calls Graph knows (ids in the
#   array ID); 3 at risk (started 18 min ago, 2 min left, keepAlives
#   failing; ids that are HTML, in RISK); lost-1 and lost-2 (started 19m56s
#   ago: lost within seconds); hook-will-fail (unknown to Graph: ends
#   not-found).
# sp_code CURL-ARGS...   the HTTP status (body in $T/body).
# sp_need_chromium
#   Sets CHROMIUM; without it the test fails (and ends).
# sp_hooks REMOVED TERMINATED
#   Sets HOOKS, the hook outcomes the page must show: the removed and the
#   terminated call, lost-1 and lost-2 delivered, hook-will-fail failed.
# sp_browser PNG SECONDS WHAT [VAR=VALUE...]
#   Runs tests/system/js/status_page.mjs in Chromium (at most SECONDS) with
#   TOKEN, HOOKS and VAR=VALUE (KEEPER_URL, FLEET_URLS): checks that it
#   passed ("WHAT") and left its screenshot $MGCALL_BUILD_DIR/artifacts/PNG.

sp_setup() {
  TOKEN="api-token-$RANDOM$RANDOM"
  printf '%s\n' "$TOKEN" >"$T/api-token"
  chmod 600 "$T/api-token"
  AUTH=(-H "Authorization: Bearer $TOKEN")
  JSON=(-H 'Content-Type: application/json')
  cat >"$T/hook" <<HOOK
#!/bin/sh
echo "\$MGCALL_CALL_ID \$MGCALL_REASON" >>"$T/hook.log"
case "\$MGCALL_CALL_ID" in *fail*) exit 1 ;; esac
exit 0
HOOK
  chmod +x "$T/hook"
}

sp_code() {
  curl -s --noproxy '*' -o "$T/body" -w '%{http_code}' "$@"
}

sp_register() {
  local url=$1 id body
  sp_reg() { sp_code -X POST "${AUTH[@]}" "${JSON[@]}" "$url/calls" -d "$1"; }
  sp_ago() { date -u -d "-$1 sec" +%Y-%m-%dT%H:%M:%SZ; }
  t_eq "$(t_curl -o /dev/null -w '%{http_code}' -X PUT "$EMU_URL/_emulator/faults" \
    -d '{"tenantFault":{"tenant":"tenant-broken","status":503}}')" 200 "emulator: tenant-broken's tokens fail"
  k_calls "$2" "$T/ids" || t_fail "emulator calls"
  mapfile -t ID <"$T/ids"
  for id in "${ID[@]}"; do
    t_eq "$(sp_reg "{\"callId\":\"$id\",\"tenantId\":\"tenant-k\"}")" 201 "register $id"
  done
  RISK=('<script>window.pwned=1</script>' '"><img src=x onerror="document.title=`pwned`">' "at-risk & 'quoted'")
  for id in "${RISK[@]}"; do
    body=$(jq -nc --arg id "$id" --arg s "$(sp_ago 1080)" '{callId: $id, tenantId: "tenant-broken", startedAt: $s}')
    t_eq "$(sp_reg "$body")" 201 "register at-risk $id"
  done
  for id in lost-1 lost-2; do
    t_eq "$(sp_reg "{\"callId\":\"$id\",\"tenantId\":\"tenant-broken\",\"startedAt\":\"$(sp_ago 1196)\"}")" 201 "register $id"
  done
  t_eq "$(sp_reg '{"callId":"hook-will-fail","tenantId":"tenant-k"}')" 201 "register hook-will-fail"
}

sp_need_chromium() {
  CHROMIUM=$(command -v chromium || true)
  if [ -z "$CHROMIUM" ]; then
    t_fail "chromium is required (scripts/bootstrap installs it)"
    t_done
    exit 1
  fi
}

sp_hooks() {
  HOOKS=$(jq -nc --arg a "$1" --arg b "$2" \
    '{($a): "delivered", ($b): "delivered", "hook-will-fail": "failed", "lost-1": "delivered", "lost-2": "delivered"}')
}

sp_browser() {
  local art="${MGCALL_BUILD_DIR:-$T}/artifacts" secs=$2 what=$3 rc
  local shot="$art/$1"
  shift 3
  mkdir -p "$art" "$T/profile"
  rm -f "$shot"
  (cd "$JS_DIR" && env NO_PROXY='*' no_proxy='*' "$@" TOKEN="$TOKEN" \
    CHROMIUM="$CHROMIUM" PROFILE="$T/profile" SHOT="$shot" HOOKS="$HOOKS" \
    timeout "$secs" node status_page.mjs) >"$T/browser.out" 2>&1
  rc=$?
  grep -v '^ok ' "$T/browser.out" | sed 's/^/  status_page.mjs: /' >&2
  t_eq "$rc" 0 "$what ($(tail -1 "$T/browser.out"))"
  t_ok '[ -s "$shot" ]' "screenshot kept: $shot"
}
