#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The emulator's control endpoints (/_emulator/*) refuse what a web page
# could send (issue 12): a Host that does not name loopback (a page on a
# name rebound to 127.0.0.1 sends its own name: DNS rebinding) and an
# Origin other than the Host's (a simple cross-site POST or fetch), over
# HTTP/1.1 and HTTP/2 (h2c), and change nothing then; loopback names, no
# Origin and a same-origin Origin pass; the Graph endpoints are not
# concerned (they emulate a remote service).
. "$(dirname "$0")/lib.sh"

t_emulator_start --client app1:s3cret || { t_done; exit 1; }
PORT=${EMU_URL##*:}
code() { t_curl -o "$T/body" -w '%{http_code}' "$@"; }
faults() { t_curl "$EMU_URL/_emulator/faults" | jq -c '[.rate, .statuses]'; }
created() { t_curl "$EMU_URL/_emulator/stats" | jq -r .callsCreated; }
F0=$(faults)
C0=$(created)

for proto in http1.1 http2-prior-knowledge; do
  P=(--"$proto")
  # ---- allowed ----
  t_eq "$(code "${P[@]}" "$EMU_URL/_emulator/stats")" 200 "$proto: Host 127.0.0.1:$PORT"
  t_eq "$(code "${P[@]}" -H "Host: localhost:$PORT" "$EMU_URL/_emulator/stats")" 200 \
    "$proto: Host localhost:$PORT"
  t_eq "$(code "${P[@]}" -H "Host: LOCALHOST.:$PORT" "$EMU_URL/_emulator/faults")" 200 \
    "$proto: Host LOCALHOST. (case, trailing dot)"
  t_eq "$(code "${P[@]}" -H "Host: 127.1.2.3" "$EMU_URL/_emulator/health")" 200 \
    "$proto: Host 127.1.2.3 without a port"
  t_eq "$(code "${P[@]}" -H "Origin: http://127.0.0.1:$PORT" "$EMU_URL/_emulator/stats")" 200 \
    "$proto: Origin of the same origin"
  # ---- DNS rebinding: a foreign Host ----
  t_eq "$(code "${P[@]}" -H "Host: rebind.example:$PORT" "$EMU_URL/_emulator/stats")" 403 \
    "$proto: GET with Host rebind.example: 403"
  t_grep "$T/body" '"code":"Forbidden".*Host header' "$proto: the answer says why"
  t_eq "$(code "${P[@]}" -X PUT -H "Host: rebind.example:$PORT" \
    -H "Origin: http://rebind.example:$PORT" -d '{"rate":1,"statuses":[503]}' \
    "$EMU_URL/_emulator/faults")" 403 "$proto: PUT faults from a rebound page (same-origin to it): 403"
  t_eq "$(code "${P[@]}" -H "Host: 127.0.0.1.rebind.example" "$EMU_URL/_emulator/stats")" 403 \
    "$proto: a name starting like a loopback address: 403"
  t_eq "$(code "${P[@]}" -H "Host: 10.0.0.1:$PORT" "$EMU_URL/_emulator/stats")" 403 \
    "$proto: a non-loopback address: 403"
  t_eq "$(code "${P[@]}" -H "Host: localhost:80x" "$EMU_URL/_emulator/stats")" 403 \
    "$proto: a bad port: 403"
  # ---- a page of another origin ----
  t_eq "$(code "${P[@]}" -X PUT -H "Origin: http://evil.example" -H 'Content-Type: text/plain' \
    -d '{"rate":1,"statuses":[503]}' "$EMU_URL/_emulator/faults")" 403 \
    "$proto: a simple cross-site PUT: 403"
  t_eq "$(code "${P[@]}" -H 'Content-Type: text/plain' -H "Origin: http://evil.example" \
    -d '{"count":5,"tenantId":"t","appId":"a"}' "$EMU_URL/_emulator/calls")" 403 \
    "$proto: a simple cross-site POST of calls: 403"
  t_eq "$(code "${P[@]}" -H "Origin: null" "$EMU_URL/_emulator/stats")" 403 "$proto: Origin null: 403"
  t_eq "$(code "${P[@]}" -H "Origin: http://127.0.0.1:1$PORT" "$EMU_URL/_emulator/stats")" 403 \
    "$proto: Origin of another port: 403"
  t_eq "$(code "${P[@]}" -H "Origin: file://" "$EMU_URL/_emulator/stats")" 403 "$proto: Origin file://: 403"
  # ---- the Graph endpoints are not concerned ----
  t_eq "$(code "${P[@]}" -H "Host: graph.example" -H "Origin: http://evil.example" \
    "$EMU_URL/v1/keys")" 200 "$proto: GET /v1/keys with any Host and Origin: 200"
done
t_eq "$(faults)" "$F0" "faults unchanged"
t_eq "$(created)" "$C0" "no call created"
t_eq "$(code -X PUT -d '{"rate":0}' "$EMU_URL/_emulator/faults")" 200 "curl without Origin: PUT faults 200"

# ---- IPv6 loopback ----
if t_emulator_start --listen '[::1]:0' 2>/dev/null; then
  PORT6=${EMU_URL##*:}
  t_eq "$(code "$EMU_URL/_emulator/stats")" 200 "[::1]: Host [::1]:$PORT6"
  t_eq "$(code -H "Host: [::2]:$PORT6" "$EMU_URL/_emulator/stats")" 403 "[::1]: Host [::2]: 403"
  t_eq "$(code -H "Host: [::1" "$EMU_URL/_emulator/stats")" 403 "[::1]: Host '[::1' (unclosed): 403"
fi
t_done
