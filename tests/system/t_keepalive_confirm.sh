#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall keep-alive --confirm (the cmdlet's -Confirm): the prompt is asked on
# the terminal for each call; y sends it, n skips it, a sends the rest
# without asking, q sends nothing more.  Without a terminal it is a usage
# error.  script(1) gives the command a pseudo-terminal and types the
# answers; the emulator's --record shows what was really sent.
. "$(dirname "$0")/lib.sh"
unset MGCALL_ACCESS_TOKEN MGCALL_GRAPH_URL https_proxy HTTPS_PROXY http_proxy
export XDG_CACHE_HOME=$T/cache
command -v script >/dev/null || { t_fail "script(1) (bsdutils) is missing"; t_done; exit 1; }

REC=$T/record.jsonl
t_emulator_start --client app1:s3cret --record "$REC" || { t_done; exit 1; }
TOK=$(t_emulator_token tenant-a app1 s3cret)
printf '%s' "$TOK" >"$T/token"
chmod 600 "$T/token"
IDS=()
for i in 1 2 3 4; do IDS+=("$(t_emulator_call "$TOK")"); done
sent() { grep -c "/calls/$1/keepAlive" "$REC" || true; }
KA="$MGCALL keep-alive --graph-url $EMU_URL --access-token-file $T/token --confirm"

# y, n, a: the first is sent, the second skipped, the last two sent unasked.
printf 'y\nn\na\n' >"$T/answers"
t_expect_exit 0 "--confirm y n a" -- \
  sh -c "script -qec '$KA ${IDS[*]}' /dev/null <'$T/answers'"
t_grep "$T/out" "Keep call ${IDS[0]} alive\? \[y\]es \[n\]o \[a\]ll \[q\]uit:" \
  "prompt names the call, as the cmdlet asks"
t_eq "$(grep -o 'Keep call [^ ]* alive' "$T/out" | wc -l | tr -d ' ')" 3 \
  "asked three times (not again after 'a')"
t_eq "$(sent "${IDS[0]}")" 1 "y: first call sent"
t_eq "$(sent "${IDS[1]}")" 0 "n: second call not sent"
t_eq "$(sent "${IDS[2]}")" 1 "a: third call sent"
t_eq "$(sent "${IDS[3]}")" 1 "a: fourth call sent without asking"

# q at once: nothing sent, exit 0 (all declined).
before=$(wc -l <"$REC")
printf 'q\n' >"$T/answers"
t_expect_exit 0 "--confirm q" -- \
  sh -c "script -qec '$KA ${IDS[*]}' /dev/null <'$T/answers'"
t_eq "$(grep -c keepAlive <(tail -n +$((before + 1)) "$REC"))" 0 "q: nothing sent"

# An unknown answer is asked again.
printf 'maybe\ny\n' >"$T/answers"
t_expect_exit 0 "--confirm asks again after a bad answer" -- \
  sh -c "script -qec '$KA ${IDS[0]}' /dev/null <'$T/answers'"
t_eq "$(grep -o 'Keep call [^ ]* alive' "$T/out" | wc -l | tr -d ' ')" 2 "asked twice"
t_eq "$(sent "${IDS[0]}")" 2 "then sent"

# A malformed stdin line counts as a failed call under --confirm too (issue 8
# item 9: this path once forgot to count it): with --on-error stop
# nothing after it is asked or sent, and the exit status is 2.
before=$(wc -l <"$REC")
printf '{"CallId": 5}\n%s\n' "${IDS[1]}" >"$T/ids.jsonl"
printf 'y\ny\n' >"$T/answers"
t_expect_exit 2 "--confirm --on-error stop with a bad first line" -- \
  sh -c "script -qec '$KA --on-error stop <$T/ids.jsonl' /dev/null <'$T/answers'"
t_grep "$T/out" 'stdin line 1' "the bad line is reported"
t_eq "$(grep -o 'Keep call [^ ]* alive' "$T/out" | wc -l | tr -d ' ')" 0 \
  "nothing asked after the failure"
t_eq "$(grep -c keepAlive <(tail -n +$((before + 1)) "$REC"))" 0 \
  "nothing sent after the failure"
# the same input without stop: the failure is counted, the good id still sent
before=$(wc -l <"$REC")
t_expect_exit 2 "--confirm with a bad first line, then y" -- \
  sh -c "script -qec '$KA <$T/ids.jsonl' /dev/null <'$T/answers'"
t_eq "$(grep -c keepAlive <(tail -n +$((before + 1)) "$REC"))" 1 \
  "the good call after the bad line is sent"

# No terminal at all (a new session without a controlling tty): usage error.
before=$(wc -l <"$REC")
t_expect_exit 2 "--confirm without a terminal" -- setsid -w $KA "${IDS[0]}"
t_grep "$T/err" '^mgcall: --confirm needs a terminal' "says why"
t_eq "$(grep -c keepAlive <(tail -n +$((before + 1)) "$REC"))" 0 "nothing sent without a terminal"
t_done
