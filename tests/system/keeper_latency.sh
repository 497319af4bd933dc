# SPDX-License-Identifier: MIT
# keeper_latency.sh - body of t_keeper_latency*.sh (source it after setting
# LAT_LATENCY, e.g. 100ms, and LAT_JITTER, percent): the keeper keeps up at
# Graph-like latency with default options, then backs off under throttling
# without losing a call, and recovers.
#   1. 5,000 calls at --interval 5s (1,000 keepAlives/s needed; below), emulator
#      --latency $LAT_LATENCY --latency-jitter $LAT_JITTER: after a warm-up
#      round, over the next round (about 5,000 keepAlives, each call once):
#      achieved >= 95% of the need,
#      lateness p99 <= 1 s (the keeper's histogram), no call at risk, no
#      falling-behind warning;
#   2. PUT /_emulator/faults {"throttle": 500}: the in-flight target falls
#      to half or less, the warning is logged;
#   3. throttle off: the backlog drains and the target comes back, no call
#      lost (keeper and emulator agree).
# Under the sanitizers (T_SCALE > 1) the rate is divided by T_SCALE (333/s
# under TSan: 1,665 calls, throttle at 166/s): every process of the run is
# instrumented, the emulator too, and at 1,000/s on TLS the two cores were
# the limit, not the keeper (make tsan: the in-flight target at its maximum
# with the emulator answering after 0.67 s instead of 0.3).  The checks are
# the same; the keeper's throughput is measured by make check and bench/.
# Checks read the keeper's /metrics and the emulator's /_emulator/stats;
# waits are bounded conditions (k_until), never proof.  Heavy: RUN_SERIAL,
# and never side by side (t_side_by_side): one run takes about 0.8 of a core
# (keeper_latency) or 1.1 (keeper_latency_jitter).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"

RATE=$((1000 / T_SCALE)) # keepAlives/s needed
NCALLS=$((RATE * 5))
THROTTLE=$((RATE / 2))
k_emulator --latency "$LAT_LATENCY" --latency-jitter "$LAT_JITTER" \
  --inactivity-timeout 40s || { t_done; exit 1; }
k_start --interval 5s --deadline 40s "${KAUTH[@]}" || { t_done; exit 1; }

# metrics snapshot to a file; m FILE NAME: one value of it
snap() { curl -sS --noproxy '*' "$K_URL/metrics" >"$1"; }
m() { awk -v n="$2" '$1 == n { print $2 }' "$1"; }
answered() { awk '/^mgcall_keeper_keepalives_total/ { n += $2 } END { print n + 0 }' "$1"; }
now_ms() { date +%s%3N; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }

# 1. the calls, registered as started over the last interval (the steady
# state of a running keeper: their keepAlives spread over 5 s)
T_COUNT=$((T_COUNT + 1))
t_curl -f -X POST "$EMU_URL/_emulator/calls" \
  -d "{\"count\":$NCALLS,\"tenantId\":\"tenant-k\",\"appId\":\"app-k\"}" |
  jq -r '.ids[]' >"$T/ids"
now=$(now_ms)
jq -R -s -c --argjson now "$now" 'split("\n") | map(select(length > 0)) | length as $n |
  to_entries | map({callId: .value, tenantId: "tenant-k",
  startedAt: (($now - (.key * 5000 / $n | floor)) as $t
    | ($t / 1000 | floor | todate)
    | sub("Z$"; "." + ($t % 1000 + 1000 | tostring | .[1:]) + "Z"))})' \
  "$T/ids" >"$T/regs.json"
code=$(curl -sS --noproxy '*' -o "$T/reg.out" -w '%{http_code}' -X POST \
  "$K_URL/calls" -H 'Content-Type: application/json' --data-binary @"$T/regs.json")
if [ "$code" = 201 ] && [ "$(jq .created "$T/reg.out")" = "$NCALLS" ]; then
  t_pass "$NCALLS calls registered"
else
  t_fail "registration: HTTP $code $(head -c 300 "$T/reg.out")"
  t_done
  exit 1
fi
echo "emulator: --latency $LAT_LATENCY --latency-jitter $LAT_JITTER"

# warm-up: one round of keepAlives (each call once)
warm() { snap "$T/mw" && [ "$(answered "$T/mw")" -ge "$NCALLS" ]; }
k_until 30 warm
T_COUNT=$((T_COUNT + 1))
if warm; then t_pass "warm-up: a round of $NCALLS keepAlives answered"; else
  t_fail "warm-up: only $(answered "$T/mw") keepAlives answered in 30 s"; fi

# the measured window: one more round, about 5,000 keepAlives (5 s when
# keeping up): every call sent once more at the steady state the warm-up
# reached
warnings() { grep -c 'falling behind' "$T/keeper.err"; }
w0=$(warnings)
snap "$T/m0"
t0=$(now_ms)
e0=$(k_stats keepAlives)
window() { [ "$(k_stats keepAlives)" -ge $((e0 + NCALLS)) ]; }
k_until 30 window
t1=$(now_ms)
snap "$T/m1"
e1=$(k_stats keepAlives)
ok0=$(m "$T/m0" 'mgcall_keeper_keepalives_total{status="200"}')
ok1=$(m "$T/m1" 'mgcall_keeper_keepalives_total{status="200"}')
need=$(m "$T/m1" mgcall_keeper_needed_keepalives_per_second)
achieved=$(awk -v n=$((ok1 - ok0)) -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", n * 1000 / ms }')
emu_rate=$(awk -v n=$((e1 - e0)) -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", n * 1000 / ms }')
target=$(m "$T/m1" mgcall_keeper_inflight_target)
echo "window: $((t1 - t0)) ms; keeper 200s $((ok1 - ok0)) ($achieved/s), emulator keepAlives $((e1 - e0)) ($emu_rate/s); needed $need/s (gauge); in flight $(m "$T/m1" mgcall_keeper_inflight_requests), target $target, latency $(m "$T/m1" mgcall_keeper_keepalive_latency_seconds) s"
t_eq "$(awk -v n="$need" -v r="$RATE" 'BEGIN { print (n >= 0.99 * r && n <= 1.01 * r) ? "yes" : n }')" yes \
  "needed rate: $NCALLS calls / 5 s = $RATE/s ($need)"
t_eq "$(ge "$achieved" "$(awk -v n="$need" 'BEGIN { print 0.95 * n }')" && echo yes)" yes \
  "achieved >= 95% of the need ($achieved/s of $need/s)"
t_eq "$(ge "$emu_rate" $((RATE * 95 / 100)) && echo yes)" yes \
  "the emulator saw >= $((RATE * 95 / 100)) keepAlives/s ($emu_rate/s)"
# lateness over the window: keepAlives sent within 1 s of their due time
le1() { awk '$1 == "mgcall_keeper_lateness_seconds_bucket{le=\"1\"}" { print $2 }' "$1"; }
cnt() { m "$1" mgcall_keeper_lateness_seconds_count; }
late_n=$(($(cnt "$T/m1") - $(cnt "$T/m0")))
late_ok=$(($(le1 "$T/m1") - $(le1 "$T/m0")))
t_eq "$([ "$late_n" -gt 0 ] && [ $((late_ok * 100)) -ge $((late_n * 99)) ] && echo yes)" yes \
  "lateness p99 <= 1 s ($late_ok of $late_n sends within 1 s)"
t_eq "$(m "$T/m1" 'mgcall_keeper_calls{state="at-risk"}')" 0 "no call at risk"
t_eq "$(m "$T/m1" 'mgcall_keeper_calls{state="active"}')" "$NCALLS" "all calls active"
t_eq "$(ge "$target" "$(m "$T/m1" mgcall_keeper_inflight_max)" && echo at-max || echo below)" below \
  "the in-flight target is sized by demand ($target), below --max-concurrency"
t_eq "$(warnings)" "$w0" "no falling-behind warning in the window"
grep 'falling behind' "$T/keeper.err" | sed 's/^/  keeper: /'

# 2. throttling: half the need (500 requests/s) for the keeper's application
code=$(t_curl -o /dev/null -w '%{http_code}' -X PUT "$EMU_URL/_emulator/faults" \
  -H 'Content-Type: application/json' -d "{\"throttle\":$THROTTLE}")
t_eq "$code" 200 "emulator throttles at $THROTTLE/s"
fell() {
  snap "$T/mt" &&
    [ "$(m "$T/mt" mgcall_keeper_inflight_target)" -le $((target / 2)) ] &&
    [ "$(m "$T/mt" mgcall_keeper_inflight_decreases_total)" -gt 0 ]
}
k_until 20 fell
T_COUNT=$((T_COUNT + 1))
if fell; then
  t_pass "under 429s the target fell from $target to $(m "$T/mt" mgcall_keeper_inflight_target) ($(m "$T/mt" mgcall_keeper_inflight_decreases_total) decreases)"
else
  t_fail "the target did not fall to $((target / 2)) or less: $(grep -E '^mgcall_keeper_(inflight|keepalives_total)' "$T/mt" | tr '\n' ' ')"
fi
warned() { [ "$(warnings)" -gt "$w0" ]; }
k_until 20 warned
t_grep "$T/keeper.err" 'warn .*falling behind: keepAlives sent up to .* late and growing' \
  "the keeper warns that it falls behind"
t_eq "$(ge "$(k_stats throttled)" 1 && echo yes)" yes "the emulator throttled ($(k_stats throttled) answers 429)"

# 3. throttle off: back on time
code=$(t_curl -o /dev/null -w '%{http_code}' -X PUT "$EMU_URL/_emulator/faults" \
  -H 'Content-Type: application/json' -d '{"throttle":0}')
t_eq "$code" 200 "throttle off"
recovered() {
  snap "$T/mr" &&
    [ "$(m "$T/mr" mgcall_keeper_due_backlog)" -lt 50 ] &&
    ge "$(m "$T/mr" mgcall_keeper_achieved_keepalives_per_second)" \
      "$(awk -v n="$(m "$T/mr" mgcall_keeper_needed_keepalives_per_second)" 'BEGIN { print 0.95 * n }')" &&
    [ "$(m "$T/mr" mgcall_keeper_inflight_ceiling)" -ge "$target" ]
}
k_until 60 recovered
T_COUNT=$((T_COUNT + 1))
if recovered; then
  t_pass "recovered: backlog $(m "$T/mr" mgcall_keeper_due_backlog), achieved $(m "$T/mr" mgcall_keeper_achieved_keepalives_per_second)/s of $(m "$T/mr" mgcall_keeper_needed_keepalives_per_second)/s, target $(m "$T/mr" mgcall_keeper_inflight_target), ceiling $(m "$T/mr" mgcall_keeper_inflight_ceiling)"
else
  t_fail "no recovery in 60 s: $(grep -E '^mgcall_keeper_(inflight|due|achieved|needed|calls)' "$T/mr" | tr '\n' ' ')"
fi
t_eq "$(m "$T/mr" 'mgcall_keeper_calls{state="lost"}')" 0 "no call lost (keeper)"
t_eq "$(k_stats endedByTimeout)" 0 "no call ended by the emulator's timeout"
t_eq "$(k_stats callsActive)" "$NCALLS" "all $NCALLS calls live in the emulator"
t_eq "$(($(m "$T/mr" 'mgcall_keeper_calls{state="active"}') + $(m "$T/mr" 'mgcall_keeper_calls{state="at-risk"}')))" \
  "$NCALLS" "the keeper still keeps all $NCALLS calls"
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"
t_done
