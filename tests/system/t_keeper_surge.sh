#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keeper_surge.sh - the start-up surge: the keeper restarts on a store of
# 3,000 calls that are all overdue (last successes 21..56 s ago, --interval
# 20s, --deadline 60s).  It spreads the backlog over 1/8 of each call's time
# left, most urgent deadline first, and a call registered meanwhile is not
# stuck behind it.  Checked on the emulator's --record (which call's
# keepAlive arrived when) and the keeper's metrics.  Heavy: RUN_SERIAL.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"

N=3000
REC="$T/rec.jsonl"
k_emulator --latency 100ms --inactivity-timeout 10m --record "$REC" ||
  { t_done; exit 1; }
T_COUNT=$((T_COUNT + 1))
t_curl -f -X POST "$EMU_URL/_emulator/calls" \
  -d "{\"count\":$N,\"tenantId\":\"tenant-k\",\"appId\":\"app-k\"}" |
  jq -r '.ids[]' >"$T/ids"
if [ "$(wc -l <"$T/ids")" -eq "$N" ]; then t_pass "$N calls in the emulator"; else
  t_fail "could not create $N calls"; t_done; exit 1; fi

# The store as a keeper that was down for a while leaves it: call i was
# last kept alive 21 s + i * 35000/N ms ago (its deadline 39 .. 4 s away).
AGE='21000 + int((NR - 1) * 35000 / n)'
k_restore_calls "$T/ids" 60000 "$AGE" \
  --interval 20s --deadline 60s --jitter 0 "${KAUTH[@]}" || { t_done; exit 1; }
t_eq "$(sqlite3 "$K_DB" "select count(*) from calls where state = 'active'")" "$N" \
  "$N overdue calls in the store"

# the call registered in the middle of the surge: made in the emulator
# first, registered with curl (a sanitizer build's CLI can take seconds to
# start: under TSan the registration once arrived after the whole backlog)
fresh=$(t_emulator_call "$EMU_TOKEN" http://127.0.0.1:9/callback)
k_start --interval 20s --deadline 60s --jitter 0 "${KAUTH[@]}" || { t_done; exit 1; }
asked=$(date +%s%3N)
code=$(curl -sS --noproxy '*' -o "$T/add.out" -w '%{http_code}' -X POST \
  -H 'Content-Type: application/json' \
  -d "{\"callId\":\"$fresh\",\"tenantId\":\"tenant-k\"}" "$K_URL/calls")
t_eq "$code" 201 "a new call registered during the surge"
t_grep "$T/keeper.err" "store: $N active calls loaded" "the keeper restarted on $N calls"

# every call's first keepAlive after the restart, in arrival order:
# "epoch-ms call-id"
firsts() {
  jq -r 'select(.path | endswith("/keepAlive")) | select(.status == 200)
    | ((.time | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) * 1000
       + (.time | capture("\\.(?<ms>[0-9]+)Z$").ms | tonumber) | tostring)
      + " " + (.path | split("/") | .[-2])' "$REC" | awk '!seen[$2]++'
}
all_sent() { [ "$(firsts | wc -l)" -ge $((N + 1)) ]; }
k_until 40 all_sent
firsts >"$T/firsts"
t_eq "$(wc -l <"$T/firsts")" $((N + 1)) "every call got its keepAlive ($N restored + 1 new)"

# order: the restored calls' ages (ms since their last success) in arrival order
awk -v n="$N" "NR == FNR { age[\$1] = $AGE; next }
  (\$2 in age) { print \$1, age[\$2] }" "$T/ids" "$T/firsts" >"$T/ages"
read -r first_half second_half span < <(awk '{ t[NR] = $1; a[NR] = $2 } END {
  h = int(NR / 2); for (i = 1; i <= h; i++) s1 += a[i]; for (i = h + 1; i <= NR; i++) s2 += a[i]
  printf "%d %d %d\n", s1 / h / 1000, s2 / (NR - h) / 1000, t[NR] - t[1] }' "$T/ages")
echo "mean age of the first half sent: ${first_half} s, of the second half: ${second_half} s; backlog spread over ${span} ms"
t_eq "$([ "$first_half" -ge $((second_half + 8)) ] && echo yes)" yes \
  "most urgent first: the first half sent were older (${first_half} s vs ${second_half} s)"
t_eq "$([ "$span" -ge 2000 ] && echo yes)" yes \
  "the backlog is spread, not fired at once (${span} ms from first to last)"
# judged on the keepAlives that came after the registration was sent: the
# backlog still pending then, and where the new call's keepAlive fell in it
awk -v t="$asked" '$1 >= t' "$T/firsts" >"$T/after"
pending=$(grep -vc " $fresh\$" "$T/after")
t_eq "$([ "$pending" -ge $((N / 4)) ] && echo yes)" yes \
  "the registration came during the surge ($pending of $N restored keepAlives still to come)"
pos=$(awk -v id="$fresh" '$2 == id { print NR; exit }' "$T/after")
t_eq "$([ -n "$pos" ] && [ "$pos" -le $((pending / 2)) ] && echo yes)" yes \
  "the new registration was not stuck behind the backlog (keepAlive ${pos:-none} of the $((pending + 1)) after it)"
t_eq "$(k_metric 'mgcall_keeper_calls{state="lost"}')" 0 "no call lost"
t_eq "$(k_stats endedByTimeout)" 0 "none ended by the emulator"
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"
t_done
