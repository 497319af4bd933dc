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
. "$(dirname "$0")/status_page_lib.sh"

sp_need_chromium
t_js_install || {
  t_done
  exit 1
}
k_emulator || {
  t_done
  exit 1
}
sp_setup
k_start "${KAUTH[@]}" --interval 10m --deadline 20m --api-token-file "$T/api-token" \
  --on-ended "$T/hook" --hook-retries 0 || {
  t_done
  exit 1
}
sp_register "$K_URL" 6
# ... ended: removed, terminated, not-found (hook-will-fail: its hook fails)
t_eq "$(sp_code -X DELETE "${AUTH[@]}" "$K_URL/calls/${ID[4]}")" 204 "remove a call"
t_wait 10 '[ "$(curl -s --noproxy "*" "${AUTH[@]}" "$K_URL/calls/hook-will-fail" | jq -r .state)" = ended ]' \
  "hook-will-fail (unknown to Graph) ends: not-found"
t_eq "$(sp_code -X POST "${AUTH[@]}" "${JSON[@]}" "$K_URL/notifications" \
  -d "{\"value\":[{\"changeType\":\"deleted\",\"resourceUrl\":\"/communications/calls/${ID[5]}\",\"resourceData\":{\"state\":\"terminated\"}}]}")" \
  202 "a notification ends a call"
t_wait 15 '[ "$(curl -s --noproxy "*" "${AUTH[@]}" "$K_URL/calls?state=lost" | jq ".calls | length")" = 2 ]' \
  "the two calls past their deadline are lost"
t_wait 15 '[ "$(wc -l <"$T/hook.log" 2>/dev/null || echo 0)" -ge 5 ]' "the 5 hooks ran"
t_eq "$(curl -s --noproxy '*' "${AUTH[@]}" "$K_URL/calls?state=at-risk" | jq '.calls | length')" 3 \
  "3 calls at risk"
sp_hooks "${ID[4]}" "${ID[5]}"

# --- authorization and the guard --------------------------------------------
t_eq "$(sp_code "$K_URL/")" 401 "GET / without the token: 401"
t_eq "$(sp_code -H 'Host: attacker.example' "${AUTH[@]}" "$K_URL/")" 403 "GET / with a foreign Host: 403"
t_eq "$(sp_code -H 'Origin: http://attacker.example' "${AUTH[@]}" "$K_URL/")" 403 "GET / from a foreign Origin: 403"
t_eq "$(sp_code -X POST "${AUTH[@]}" "$K_URL/")" 405 "POST /: 405"

# --- the browser ----------------------------------------------------------------
sp_browser status_page.png 180 "the page in Chromium matches GET /calls" KEEPER_URL="$K_URL"
k_stop
t_eq "$K_STATUS" 0 "keeper exits 0"
t_done
