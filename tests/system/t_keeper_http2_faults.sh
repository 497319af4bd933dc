#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keeper_http2_faults.sh - the keeper against what HTTP/2 servers do
# (issue 12 item 3), on the emulator over TLS (h2 by ALPN), 40 calls kept
# alive every second against a 3 s inactivity timeout:
#  1. streams the server did not process (RST_STREAM REFUSED_STREAM on 5%
#     of streams, two GOAWAYs below the streams in flight): retried at once
#     on a new connection, and not counted: no failed keepAlive, no retry
#     in the metrics;
#  2. streams whose outcome is unknown (RST_STREAM INTERNAL_ERROR after the
#     keepAlive was done, connection resets with streams in flight, 5%):
#     retried as the retry policy says, each failure rescheduled once;
#  3. --max-requests-per-connection 25: graceful GOAWAYs, nothing failed.
# In every phase no call ends by timeout and none is lost.  Faults are
# seeded (T_SEED).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"

t_make_cert || { t_fail "t_make_cert"; t_done; exit 1; }
k_emulator --tls-cert "$EMU_CERT" --tls-key "$EMU_KEY" \
  --inactivity-timeout $((3 * T_SCALE))s || { t_done; exit 1; }
k_start --interval "${T_SCALE}s" --deadline $((3 * T_SCALE))s --cacert "$EMU_CA" \
  "${KAUTH[@]}" || { t_done; exit 1; }
t_ok 'k_calls_tracked 40 "$T/ids"' "40 calls registered"
faults() { t_curl -o /dev/null -w '%{http_code}' -X PUT -d "$1" "$EMU_URL/_emulator/faults"; }
h2() { t_curl "$EMU_URL/_emulator/stats" | jq -r ".protocols.h2.$1"; }
# failed: keepAlive answers other than 200 and 404 (network errors
# included) and retries, "FAILED RETRIES", from one GET /metrics
failed() {
  curl -sS --noproxy '*' "$K_URL/metrics" | awk '
    /^mgcall_keeper_keepalives_total\{/ && !/status="(200|404)"/ { f += $2 }
    /^mgcall_keeper_retries_total / { r = $2 }
    END { print f + 0, r + 0 }'
}
t_wait 15 '[ "$(h2 requests)" -ge 80 ]' "keepAlives over HTTP/2"

# ---- 1. not processed -----------------------------------------------------------
before=$(failed)
ka0=$(k_stats keepAlives)
t_eq "$(faults "{\"rate\":0.05,\"statuses\":[\"rst_stream\"],\"seed\":$T_SEED,\"sequence\":[\"goaway\",\"goaway\"]}")" \
  200 "faults: RST_STREAM REFUSED_STREAM on 5%, and two GOAWAYs"
t_wait 30 '[ "$(k_stats keepAlives)" -ge $((ka0 + 200)) ]' "200 keepAlives done under them"
t_ok '[ "$(h2 rstStreamFaults)" -ge 1 ] && [ "$(h2 goawayFaults)" -eq 2 ]' \
  "streams refused ($(h2 rstStreamFaults)) and 2 GOAWAYs"
t_eq "$(failed)" "$before" "refused streams: no failed keepAlive, no retry counted ($before)"
t_eq "$(k_stats endedByTimeout)" 0 "refused streams: no call ended by timeout"

# ---- 2. outcome unknown -----------------------------------------------------------
# one of each first (the sequence), so that both kinds happen whatever the
# random draws (5% of 200 keepAlives split between two kinds left no reset
# at all in about one run of a hundred), then 5% at random
r0=$(h2 resetFaults) s0=$(h2 rstStreamFaults)
t_eq "$(faults '{"rate":0.05,"statuses":["rst_stream","reset"],"rstStreamError":"INTERNAL_ERROR","sequence":["reset","rst_stream"]}')" \
  200 "faults: a connection reset, an RST_STREAM INTERNAL_ERROR, then both on 5%"
ka0=$(k_stats keepAlives)
t_wait 30 '[ "$(k_stats keepAlives)" -ge $((ka0 + 200)) ]' "200 keepAlives done under them"
t_ok '[ "$(h2 resetFaults)" -gt "$r0" ] && [ "$(h2 rstStreamFaults)" -gt "$s0" ]' \
  "connections reset ($(( $(h2 resetFaults) - r0 ))), streams reset ($(( $(h2 rstStreamFaults) - s0 )))"
t_eq "$(faults '{"rate":0}')" 200 "faults off"
retries_match() { failed | awk '{ exit !($1 > 0 && $1 == $2) }'; }
t_wait 10 retries_match "unknown outcome: every failed keepAlive retried once ($(failed))" ||
  echo "  failed, retries: $(failed)" >&2
t_eq "$(k_stats endedByTimeout)" 0 "unknown outcome: no call ended by timeout"

# ---- 3. graceful GOAWAY -----------------------------------------------------------------
before=$(failed)
g0=$(h2 goaways)
t_eq "$(faults '{"maxRequestsPerConnection":25}')" 200 "25 requests a connection"
ka0=$(k_stats keepAlives)
t_wait 30 '[ "$(k_stats keepAlives)" -ge $((ka0 + 200)) ]' "200 keepAlives done"
t_ok '[ "$(h2 goaways)" -ge $((g0 + 4)) ]' "graceful GOAWAYs ($(( $(h2 goaways) - g0 )))"
t_eq "$(failed)" "$before" "graceful GOAWAY: no failed keepAlive, no retry"

t_eq "$(k_stats endedByTimeout)" 0 "no call ended by timeout"
t_eq "$(k_stats callsActive)" 40 "40 calls live in the emulator"
t_eq "$(k_metric 'mgcall_keeper_calls{state="lost"}')" 0 "no call lost"
k_stop TERM
t_eq "$K_STATUS" 0 "keeper: SIGTERM -> exit 0"
t_done
