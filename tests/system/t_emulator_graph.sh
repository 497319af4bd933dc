#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# mgcall emulator, Graph side: create / get / keepAlive / delete, the OData
# errors (401, 403, 404, 405, 400, 413), the inactivity timeout with its
# resultInfo and the commsNotifications callback, /_emulator/calls, stats.
. "$(dirname "$0")/lib.sh"

# req METHOD PATH [CURL ARGS...]: status in $S, body in $T/body, headers in
# $T/hdr.
req() {
  local m=$1 p=$2
  shift 2
  S=$(t_curl -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$m" "$EMU_URL$p" "$@")
}
hdr() { # hdr NAME: value of a response header
  tr -d '\r' <"$T/hdr" | sed -n "s/^$1: //Ip" | head -n 1
}
body() { jq -r "$1" "$T/body"; }

t_sink_start
t_emulator_start --client app1:s3cret --inactivity-timeout 2s \
  --establish-delay 100ms || { t_done; exit 1; }
t_grep "$EMU_OUT" '^mgcall emulator: listening on http://127\.0\.0\.1:[0-9]+$' \
  "one listening line with the port"

TOK=$(t_emulator_token tenant-a app1 s3cret)
t_ok '[ -n "$TOK" ]' "a token from the emulator"
AUTH=(-H "Authorization: Bearer $TOK")
CB="$SINK_URL/callback"

# ---- create --------------------------------------------------------------
req POST /v1.0/communications/calls "${AUTH[@]}" -H 'Content-Type: application/json' \
  -d "{\"callbackUri\":\"$CB\",\"requestedModalities\":[\"audio\"],\"mediaConfig\":{\"@odata.type\":\"#microsoft.graph.serviceHostedMediaConfig\"},\"source\":{\"identity\":{\"application\":{\"id\":\"app1\"}}}}"
t_eq "$S" 201 "create: 201"
ID=$(body .id)
t_eq "$(body .state)" establishing "create: state establishing"
t_eq "$(body .callbackUri)" "$CB" "create: callbackUri echoed"
t_eq "$(body .tenantId)" tenant-a "create: tenantId from the token"
t_eq "$(body '.source.identity.application.id')" app1 "create: source echoed"
t_eq "$(hdr Location)" "$EMU_URL/v1.0/communications/calls/$ID" "create: Location"
t_eq "$(body '."@odata.type"')" "#microsoft.graph.call" "create: @odata.type"

# The checks below take longer than the 2 s timeout on a loaded machine
# (seen: a call timed out before its first keepAlive at load 11): the call
# is kept alive meanwhile from here on (a failed keepAlive is noted in
# alive.fail, and checked).
: >"$T/alive.fail"
(
  for _ in $(seq 600); do
    c=$(t_curl -o /dev/null -w '%{http_code}' -X POST \
      "$EMU_URL/v1.0/communications/calls/$ID/keepAlive" "${AUTH[@]}")
    [ "$c" = 200 ] || echo "$c" >>"$T/alive.fail"
    sleep 0.3
  done
) &
ALIVE_PID=$!
T_PIDS+=("$ALIVE_PID")

# ---- establishing -> established (bounded polling) -------------------------
state=
for _ in $(seq 50); do
  req GET "/v1.0/communications/calls/$ID" "${AUTH[@]}"
  state=$(body .state)
  [ "$state" = established ] && break
  sleep 0.1
done
t_eq "$state" established "get: the call becomes established"
t_eq "$S" 200 "get: 200"
t_ok 't_wait_lines "$SINK_FILE" 2' "establishing and established notifications arrive"
t_eq "$(head -n 2 "$SINK_FILE" | jq -r '.body | fromjson | .value[0].resourceData.state' | tr '\n' ' ')" \
  "establishing established " "callbacks: establishing, then established"

# ---- keepAlive -----------------------------------------------------------------
req POST "/v1.0/communications/calls/$ID/keepAlive" "${AUTH[@]}" \
  -H 'client-request-id: 0e0c4a43-6a1b-4d35-9f4e-5f1e5b1d2c3a' -H 'Content-Length: 0'
t_eq "$S" 200 "keepAlive: 200"
t_eq "$(hdr client-request-id)" 0e0c4a43-6a1b-4d35-9f4e-5f1e5b1d2c3a \
  "keepAlive: client-request-id echoed"
t_ok '[ -n "$(hdr request-id)" ]' "keepAlive: request-id"
t_ok '[ -n "$(hdr Date)" ]' "keepAlive: Date"
t_eq "$(hdr Content-Length)" 0 "keepAlive: empty body"
req POST "/beta/communications/calls/$ID/keepAlive" "${AUTH[@]}"
t_eq "$S" 200 "keepAlive under /beta: 200"

# keepAlive keeps the call alive past the 2 s timeout.
start=$(date +%s%N)
ok=1
while [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 3000 ]; do
  req POST "/v1.0/communications/calls/$ID/keepAlive" "${AUTH[@]}"
  [ "$S" = 200 ] || { ok=0; break; }
  sleep 0.3
done
t_eq "$ok" 1 "keepAlives every 0.3 s keep the call past the 2 s timeout"


# ---- errors ----------------------------------------------------------------------
req POST "/v1.0/communications/calls/$ID/keepAlive" "${AUTH[@]}" -d 'x'
t_eq "$S" 400 "keepAlive with a body: 400"
t_eq "$(body .error.code)" BadRequest "keepAlive with a body: OData error"

req GET "/v1.0/communications/calls/$ID/keepAlive" "${AUTH[@]}"
t_eq "$S" 405 "GET keepAlive: 405"
t_grep "$T/hdr" '^[Aa]llow: POST' "405 carries Allow"
req PUT "/v1.0/communications/calls/$ID" "${AUTH[@]}"
t_eq "$S" 405 "PUT call: 405"

req POST "/v1.0/communications/calls/$ID/keepAlive"
t_eq "$S" 401 "no token: 401"
t_eq "$(body .error.code)" InvalidAuthenticationToken "no token: InvalidAuthenticationToken"
t_grep "$T/hdr" '^[Ww][Ww][Ww]-[Aa]uthenticate: Bearer' "401 carries WWW-Authenticate: Bearer"

# Tamper one byte of the signature.
sig=${TOK##*.}
first=${sig:0:1}
[ "$first" = A ] && repl=B || repl=A
BAD="${TOK%.*}.$repl${sig:1}"
req POST "/v1.0/communications/calls/$ID/keepAlive" -H "Authorization: Bearer $BAD"
t_eq "$S" 401 "tampered signature: 401"
# Tamper one byte of the claims.
claims=$(cut -d. -f2 <<<"$TOK")
[ "${claims:5:1}" = A ] && c2=B || c2=A
BAD2="$(cut -d. -f1 <<<"$TOK").${claims:0:5}$c2${claims:6}.$sig"
req POST "/v1.0/communications/calls/$ID/keepAlive" -H "Authorization: Bearer $BAD2"
t_eq "$S" 401 "tampered claims: 401"
req POST "/v1.0/communications/calls/$ID/keepAlive" -H "Authorization: Bearer not.a.jwt"
t_eq "$S" 401 "garbage token: 401"

req POST /v1.0/communications/calls "${AUTH[@]}" -H 'Content-Type: application/json' -d '{"callbackUri":'
t_eq "$S" 400 "bad JSON: 400"
t_eq "$(body .error.code)" BadRequest "bad JSON: OData error"
req POST /v1.0/communications/calls "${AUTH[@]}" -H 'Content-Type: application/json' -d '{"state":"x"}'
t_eq "$S" 400 "no callbackUri: 400"

head -c 70000 /dev/zero | tr '\0' a >"$T/big"
req POST /v1.0/communications/calls "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary @"$T/big"
t_eq "$S" 413 "oversized body: 413"

req GET /v1.0/me "${AUTH[@]}"
t_eq "$S" 404 "unknown path: 404"
t_eq "$(body .error.code)" BadRequest "unknown path: OData error"
req GET /nothing/here
t_eq "$S" 404 "unknown top-level path: 404"

# (over 24 KiB; below 64 KiB, a field nghttp2's HPACK decoder takes)
big=$(head -c 30000 /dev/zero | tr '\0' b)
req GET /_emulator/stats -H "X-Big: $big"
t_eq "$S" 431 "oversized headers: 431"

UNKNOWN=00000000-0000-4000-8000-000000000000
req POST "/v1.0/communications/calls/$UNKNOWN/keepAlive" "${AUTH[@]}" -H 'client-request-id: crid-1'
t_eq "$S" 404 "unknown call: 404"
t_eq "$(body .error.code)" itemNotFound "404: code itemNotFound"
t_eq "$(body .error.message)" "Call not found." "404: message"
t_eq "$(body .error.innerError.code)" 8522 "404: innerError.code 8522"
t_eq "$(body '.error.innerError."client-request-id"')" crid-1 "404: innerError client-request-id"
t_ok '[ "$(body ".error.innerError[\"request-id\"]")" != null ]' "404: innerError request-id"
t_ok '[ "$(body .error.innerError.date)" != null ]' "404: innerError date"

# A token of another tenant for this call: 401.
TOKB=$(t_emulator_token tenant-b app1 s3cret)
kill "$ALIVE_PID"
wait "$ALIVE_PID" 2>/dev/null
t_ok '[ ! -s "$T/alive.fail" ]' "the call stayed alive through the error checks"
req POST "/v1.0/communications/calls/$ID/keepAlive" -H "Authorization: Bearer $TOKB"
t_eq "$S" 401 "token of another tenant: 401"

# ---- delete -> 404 + terminated callback --------------------------------------------
req DELETE "/v1.0/communications/calls/$ID" "${AUTH[@]}"
t_eq "$S" 204 "delete: 204"
req POST "/v1.0/communications/calls/$ID/keepAlive" "${AUTH[@]}"
t_eq "$S" 404 "keepAlive after delete: 404"
req GET "/v1.0/communications/calls/$ID" "${AUTH[@]}"
t_eq "$S" 404 "get after delete: 404"
req DELETE "/v1.0/communications/calls/$ID" "${AUTH[@]}"
t_eq "$S" 404 "delete twice: 404"
t_ok 't_wait_lines "$SINK_FILE" 4' "two notifications arrive after delete"
t_eq "$(sed -n 3,4p "$SINK_FILE" | jq -r '.body | fromjson | .value[0] | .changeType + "/" + .resourceData.state' | tr '\n' ' ')" \
  "updated/terminating deleted/terminated " "callbacks after delete: terminating (updated), then terminated (deleted)"
req GET "/_emulator/calls/$ID"
t_eq "$(body .state)" terminated "ended call still visible in /_emulator/calls"
t_eq "$(body .endReason)" deleted "end reason: deleted"

# ---- inactivity timeout ------------------------------------------------------------------
ID2=$(t_emulator_call "$TOK" "$CB")
t_ok '[ -n "$ID2" ]' "second call created"
state=
for _ in $(seq 100); do
  req GET "/_emulator/calls/$ID2"
  state=$(body .state)
  [ "$state" = terminated ] && break
  sleep 0.1
done
t_eq "$state" terminated "no keepAlive: the call ends after the timeout"
t_eq "$(body .resultInfo.code)" 408 "timeout: resultInfo.code 408"
t_eq "$(body .resultInfo.subcode)" 8537 "timeout: resultInfo.subcode 8537"
t_eq "$(body .resultInfo.message)" "Keep Alive timeout, cleaned up inactive call." "timeout: message"
t_eq "$(body .endReason)" inactivityTimeout "timeout: endReason"
req POST "/v1.0/communications/calls/$ID2/keepAlive" "${AUTH[@]}"
t_eq "$S" 404 "keepAlive after the timeout: 404"

# The timeout's callback: value[0] deleted / terminated / 408 / 8537.
found=
for _ in $(seq 50); do
  found=$(jq -c --arg id "$ID2" '.body | fromjson | .value[0] | select(.resourceData.id == $id and .changeType == "deleted")' "$SINK_FILE" 2>/dev/null | head -n 1)
  [ -n "$found" ] && break
  sleep 0.1
done
t_eq "$(jq -r .resourceData.state <<<"$found")" terminated "timeout callback: state terminated"
t_eq "$(jq -r .resourceData.resultInfo.code <<<"$found")" 408 "timeout callback: 408"
t_eq "$(jq -r .resourceData.resultInfo.subcode <<<"$found")" 8537 "timeout callback: 8537"
t_eq "$(jq -r .resourceUrl <<<"$found")" "/communications/calls/$ID2" "timeout callback: resourceUrl"
t_eq "$(jq -r 'select(.path == "/callback") | .method' "$SINK_FILE" | sort -u)" POST "callbacks are POSTs to the callbackUri path"

# ---- inspection ---------------------------------------------------------------------
req GET /_emulator/calls
t_eq "$S" 200 "/_emulator/calls: 200"
t_eq "$(body '.value | length')" 2 "/_emulator/calls lists both calls"
req GET '/_emulator/calls?state=active'
t_eq "$(body '.value | length')" 0 "/_emulator/calls?state=active: none"
req GET /_emulator/stats
t_eq "$S" 200 "/_emulator/stats: 200"
t_eq "$(body .callsCreated)" 2 "stats: callsCreated"
t_eq "$(body .endedByTimeout)" 1 "stats: endedByTimeout"
t_eq "$(body .endedByDelete)" 1 "stats: endedByDelete"
t_ok '[ "$(body .keepAlives)" -ge 3 ]' "stats: keepAlives counted ($(body .keepAlives))"
t_ok '[ "$(body ".requestsByStatus[\"404\"]")" -ge 3 ]' "stats: 404s counted"
t_ok '[ "$(body .notifications.sent)" -ge 3 ]' "stats: notifications sent ($(jq -c .notifications "$T/body"))"

# ---- /_emulator: bulk create, remote hang-up, health -------------------------------
req POST /_emulator/calls -d "{\"count\":3,\"tenantId\":\"tenant-a\",\"callbackUri\":\"$CB\"}"
t_eq "$S $(body .created) $(body '.ids | length')" "201 3 3" "POST /_emulator/calls creates calls in bulk"
BULK=$(body '.ids[0]')
req POST "/v1.0/communications/calls/$BULK/keepAlive" "${AUTH[@]}"
t_eq "$S" 200 "a bulk-created call of the token's tenant takes keepAlive"
req DELETE "/_emulator/calls/$BULK"
t_eq "$S" 204 "DELETE /_emulator/calls/{id}: remote hang-up 204"
req GET "/_emulator/calls/$BULK"
t_eq "$(body .state) $(body .endReason) $(body .resultInfo.subcode)" "terminated remoteHangUp 5000" "remote hang-up: state, reason, subcode"
req POST /_emulator/calls -d '{"count":0}'
t_eq "$S" 400 "bulk create: count 0 is refused"
req GET /_emulator/health
t_eq "$S $(body .status)" "200 ok" "/_emulator/health"

# ---- callbacks are retried -------------------------------------------------------
t_sink_start --fail 1
FAILING="$SINK_FILE"
req POST /_emulator/calls -d "{\"count\":1,\"tenantId\":\"tenant-a\",\"callbackUri\":\"$SINK_URL/cb\"}"
RID=$(body '.ids[0]')
for _ in $(seq 50); do
  req GET "/_emulator/calls/$RID"
  [ "$(body .state)" = established ] && break
  sleep 0.1
done
t_ok 't_wait_lines "$FAILING" 2' "the failed established callback is retried"
req DELETE "/_emulator/calls/$RID"
t_ok 't_wait_lines "$FAILING" 4' "four callbacks reach the failing sink"
t_eq "$(jq -r '.body | fromjson | .value[0].resourceData.state' "$FAILING" | tr '\n' ' ')" \
  "established established terminating terminated " \
  "a failed callback (500) is retried: the sink saw established twice, then terminating and terminated"

# ---- 403: a token without a Calls role --------------------------------------------------
t_emulator_start --client app1:s3cret --roles User.Read.All
TOK3=$(t_emulator_token t1 app1 s3cret)
req POST /v1.0/communications/calls -H "Authorization: Bearer $TOK3" -H 'Content-Type: application/json' -d "{\"callbackUri\":\"$CB\"}"
t_eq "$S" 403 "token without Calls.* role: 403"
t_eq "$(body .error.code)" Forbidden "403: code Forbidden"
t_grep "$T/body" 'User\.Read\.All' "403 names the roles the token has"

# ---- clean shutdown -------------------------------------------------------------------
t_emulator_stop
t_eq "$EMU_STATUS" 0 "SIGTERM: exit 0"
t_done
