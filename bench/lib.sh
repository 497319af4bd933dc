# SPDX-License-Identifier: MIT
# bench/lib.sh - helpers shared by the keeper benchmarks (bench/keeper.sh,
# bench/fleet.sh).  Source it after setting T (a private temporary
# directory), ncalls and the pids array (every process started here is
# appended to it, so the caller's cleanup stops it).
#
# rss_kib PID / hwm_kib PID   resident set / its peak, KiB
# cpu_ms PID                  user + system CPU of PID so far, ms
# now_ms                      wall clock, ms
# hist METRICS_FILE           the keeper's lateness histogram as "le count"
# quantile Q                  (stdin: "le count" lines, cumulative) the upper
#                             bound of the first bucket reaching Q (0..1)
# kas METRICS_FILE...         keepAlives counted by the keepers' metrics
# emulator_url                the URL of the emulator writing $T/emu.out
# bench_emulator ARGS...      an emulator on loopback (--inactivity-timeout
#                             180s, the client bench:bench-secret, --threads 2,
#                             ARGS); sets EMU and EMU_PID, writes $T/secret
# create_calls N              N new calls in the emulator, ids appended to
#                             $T/ids (100,000 per request)
# register_ids URL [FILE]     registers the ids of FILE (default $T/ids) with
#                             the keeper at URL, bulk POST /calls of 10,000,
#                             with startedAt spread over the minute before
#                             each request so that the first keepAlives
#                             spread over the minute after it (the steady
#                             state of a keeper that has run for a while,
#                             however long the registration takes); sets
#                             reg_ms

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
cpu_ms() {
  awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"
}
now_ms() { date +%s%3N; }
hist() {
  sed -n 's/^mgcall_keeper_lateness_seconds_bucket{le="\([^"]*\)"} \([0-9]*\)$/\1 \2/p' "$1"
}
quantile() {
  awk -v q="$1" '{ le[NR] = $1; c[NR] = $2 } END {
    total = c[NR]; if (total == 0) { print "n/a"; exit }
    for (i = 1; i <= NR; i++) if (c[i] >= q * total) { print "<= " le[i] " s"; exit } }'
}
kas() { awk '/^mgcall_keeper_keepalives_total/ { n += $2 } END { print n + 0 }' "$@"; }

# emulator_url: the URL an emulator started with its output in $T/emu.out
# prints when ready (waits up to 10 s; exits with its errors otherwise)
emulator_url() {
  local i url=
  for i in $(seq 100); do
    url=$(sed -n 's/^mgcall emulator: listening on //p' "$T/emu.out")
    [ -n "$url" ] && { echo "$url"; return 0; }
    sleep 0.1
  done
  echo "bench: the emulator did not start" >&2
  cat "$T/emu.err" >&2
  exit 1
}

bench_emulator() {
  "$MGCALL" emulator --listen 127.0.0.1:0 --inactivity-timeout 180s --client bench:bench-secret \
    --threads 2 "$@" >"$T/emu.out" 2>"$T/emu.err" </dev/null &
  EMU_PID=$!
  pids+=("$EMU_PID")
  EMU=$(emulator_url)
  printf 'bench-secret' >"$T/secret"
  chmod 600 "$T/secret"
}

create_calls() {
  local left=$1 n
  while [ "$left" -gt 0 ]; do
    n=$((left < 100000 ? left : 100000))
    curl -sf -X POST "$EMU/_emulator/calls" -H "Content-Type: application/json" \
      -d "{\"count\":$n,\"tenantId\":\"bench-tenant\",\"appId\":\"bench\"}" |
      jq -r '.ids[]' >>"$T/ids"
    left=$((left - n))
  done
}

register_ids() {
  local url=$1 file=${2:-$T/ids} t0 f
  t0=$(now_ms)
  split -l 10000 "$file" "$T/regs."
  for f in "$T"/regs.[a-z][a-z]; do
    # startedAt within the minute before this chunk is sent, not before the
    # registration began: a registration slower than the interval would
    # otherwise hand the keepers calls already overdue, all due again one
    # interval later (a wave the benchmark would measure instead of the
    # steady state)
    awk -v now="$(now_ms)" '
      function iso(ms,   s, z, era, doe, yoe, doy, mp, d, m, y) { # UTC RFC 3339
        s = int(ms / 1000); z = int(s / 86400) + 719468
        era = int(z / 146097); doe = z - era * 146097
        yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
        doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100)); mp = int((5 * doy + 2) / 153)
        d = doy - int((153 * mp + 2) / 5) + 1; m = mp < 10 ? mp + 3 : mp - 9
        y = yoe + era * 400 + (m <= 2)
        return sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d,
                       int(s % 86400 / 3600), int(s % 3600 / 60), s % 60, ms % 1000)
      }
      BEGIN { srand(7) }
      { printf "{\"callId\":\"%s\",\"startedAt\":\"%s\"}\n", $1, iso(now - int(rand() * 60000)) }' \
      "$f" | jq -s -c . | curl -sf -X POST "$url/calls" -H "Content-Type: application/json" \
      --data-binary @- >/dev/null
  done
  rm -f "$T"/regs.[a-z][a-z]
  reg_ms=$(($(now_ms) - t0))
}
