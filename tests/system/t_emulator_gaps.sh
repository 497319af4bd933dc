#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_emulator_gaps.sh - maxGapMs per call in /_emulator/calls and
# maxKeepAliveGapMs in /_emulator/stats: the longest time a call went
# without a successful keepAlive, counted from its creation (and
# openKeepAliveGapMs: the longest such gap still open now), measured on
# gaps this test makes on purpose (each figure checked between the gap made
# and a generous upper bound), also across a restart with --state.
. "$(dirname "$0")/lib.sh"

printf 'g-secret' >"$T/secret"
t_emulator_start --client "app-g:@$T/secret" --establish-delay 50ms \
  --inactivity-timeout 4s --state "$T/state.json" || { t_done; exit 1; }
TOKEN=$(t_emulator_token tenant-g app-g g-secret) || { t_fail "token"; t_done; exit 1; }
ka() {
  t_curl -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Length: 0' "$EMU_URL/v1.0/communications/calls/$1/keepAlive"
}
gap_of() { t_curl "$EMU_URL/_emulator/calls/$1" | jq -r .maxGapMs; }
stat() { t_curl "$EMU_URL/_emulator/stats" | jq -r ".$1"; }
# between LO HI VALUE NAME: LO <= VALUE < HI
between() {
  echo "# $4: $3 ms (want $1..$2)"
  t_eq "$([ "$3" -ge "$1" ] && [ "$3" -lt "$2" ] && echo yes)" yes "$4"
}

t_eq "$(stat maxKeepAliveGapMs)" 0 "no call yet: 0"
t_eq "$(stat openKeepAliveGapMs)" 0 "no call yet: no open gap"
a=$(t_emulator_call "$TOKEN") || t_fail "create a"
t_eq "$(ka "$a")" 200 "keepAlive right after creation"
sleep 1.2 # a gap of at least 1200 ms, on purpose
between 1200 3900 "$(stat openKeepAliveGapMs)" "stats: openKeepAliveGapMs is a's gap, still open"
t_eq "$(ka "$a")" 200 "keepAlive after the gap"
between 0 1200 "$(stat openKeepAliveGapMs)" "stats: openKeepAliveGapMs after the keepAlive, the gap closed"
ga=$(gap_of "$a")
between 1200 3900 "$ga" "a's maxGapMs covers the 1.2 s gap"
st=$(stat maxKeepAliveGapMs)
between "$ga" 3900 "$st" "stats: maxKeepAliveGapMs at least a's"
t_eq "$(ka "$a")" 200 "keepAlive at once"
t_eq "$(gap_of "$a")" "$ga" "a short gap does not lower it"
t_eq "$(t_curl -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $TOKEN" \
  "$EMU_URL/v1.0/communications/calls/$a")" 204 "a hung up"
t_eq "$(gap_of "$a")" "$ga" "an ended call keeps its figure"

# a call left alone is ended by the inactivity timeout (4 s): its whole gap
# counts, from creation, also once it has ended
b=$(t_emulator_call "$TOKEN") || t_fail "create b"
for i in $(seq 150); do
  [ "$(t_curl "$EMU_URL/_emulator/calls/$b" | jq -r .state)" = terminated ] && break
  sleep 0.1
done
t_eq "$(t_curl "$EMU_URL/_emulator/calls/$b" | jq -r .endReason)" inactivityTimeout \
  "b ended by the inactivity timeout"
gb=$(gap_of "$b")
between 4000 9000 "$gb" "b's maxGapMs is its whole gap (the timeout)"
between "$gb" 9000 "$(stat maxKeepAliveGapMs)" "stats: maxKeepAliveGapMs includes the ended call"
t_eq "$(t_curl "$EMU_URL/_emulator/calls?state=ended" | jq -r \
  --arg b "$b" '.value[] | select(.id == $b) | .maxGapMs')" "$gb" "listed with its maxGapMs"
t_eq "$(stat openKeepAliveGapMs)" 0 "no live call: no open gap"
t_emulator_stop

# --state keeps each call's figure across a restart
t_emulator_start --client "app-g:@$T/secret" --inactivity-timeout 4s \
  --state "$T/state.json" || { t_done; exit 1; }
t_eq "$(gap_of "$a")" "$ga" "a's maxGapMs (not its last gap) after a restart with --state"
t_eq "$(gap_of "$b")" "$gb" "b's maxGapMs after a restart with --state"
between "$gb" 9000 "$(stat maxKeepAliveGapMs)" "stats after the restart"
t_emulator_stop
t_done
