# SPDX-License-Identifier: MIT
# lib.sh - helpers for system tests.  Source it first:
#   . "$(dirname "$0")/lib.sh"
# Every test gets a private temporary directory $T, removed on exit, and runs
# the binary named by $MGCALL (ctest sets it).  Tests talk to loopback only.
set -u
: "${MGCALL:?MGCALL must name the mgcall binary (ctest sets it)}"
T=$(mktemp -d "${TMPDIR:-/tmp}/mgcall-test.XXXXXX")
T_PIDS=()
# Sanitizer builds (make asan, make tsan): every process of the test, also
# those in the background whose exit status nobody reads, writes its reports
# to $T/sanitizer.PID; any such report fails the test when it exits.
for v in ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS; do
  export "$v=${!v:+${!v}:}log_path=$T/sanitizer"
done
t_cleanup() {
  local p f rc=$? bad=0
  for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  for f in "$T"/sanitizer.*; do
    [ -e "$f" ] || continue
    echo "FAIL: sanitizer report ($(basename "$f")):" >&2
    sed 's/^/  /' "$f" >&2
    bad=1
  done
  rm -rf "$T"
  [ "$bad" -eq 0 ] || exit 1
  exit "$rc"
}
trap t_cleanup EXIT
T_FAILS=0
T_COUNT=0
# Sanitizer builds run several times slower: tests at second scale multiply
# their timings (keeper interval/deadline, emulator timeout, bounded waits)
# by T_SCALE (MGCALL_TEST_TIME_SCALE, set by tests/CMakeLists.txt: 3 under
# TSan, 2 under ASan, else 1).
T_SCALE=${MGCALL_TEST_TIME_SCALE:-1}
# Memory bounds (peak RSS) multiply by T_MEM: TSan keeps shadow memory for
# every byte the program touches (measured: 2.5 to 4 times the plain
# build's peak), ASan red zones and quarantine (MGCALL_TEST_MEM_SCALE: 4
# under TSan, 2 under ASan, else 1).
T_MEM=${MGCALL_TEST_MEM_SCALE:-1}
# Fault injection is seeded: every emulator of the test gets --seed T_SEED,
# printed when it starts; MGCALL_TEST_SEED=N repeats a run's faults.
T_SEED=${MGCALL_TEST_SEED:-$((RANDOM * 32768 + RANDOM))}

# Every check counts once in T_COUNT and, when it fails, once in T_FAILS.
# t_fail MESSAGE: one failed check (for a step that cannot go on, e.g. a
# set-up that did not work).  t_pass MESSAGE only prints: the helpers below
# count.
t_fail() {
  T_COUNT=$((T_COUNT + 1))
  t__failed "$@"
}
t__failed() {
  echo "FAIL: $*" >&2
  T_FAILS=$((T_FAILS + 1))
}
t_pass() {
  echo "ok: $*"
}

# t_ok COND NAME: one check.  COND is a shell condition, run with eval when
# t_ok runs (single-quote it so "$(...)" inside is evaluated there), e.g.
#   t_ok '[ "$(body .keepAlives)" -ge 3 ]' "stats: keepAlives counted"
t_ok() {
  T_COUNT=$((T_COUNT + 1))
  if eval "$1"; then
    t_pass "$2"
  else
    t__failed "$2 (false: $1)"
  fi
}

# t_wait SECONDS COND NAME: one check that COND (as for t_ok, evaluated
# afresh every 0.1 s) becomes true within SECONDS (times T_SCALE); fails
# with NAME when it does not.  Returns COND's last status, so a test can
# stop early.
t_wait() {
  local secs=$(($1 * T_SCALE)) cond=$2 name=$3 i
  T_COUNT=$((T_COUNT + 1))
  for i in $(seq $((secs * 10))); do
    if eval "$cond"; then
      t_pass "$name"
      return 0
    fi
    sleep 0.1
  done
  if eval "$cond"; then
    t_pass "$name"
    return 0
  fi
  t__failed "$name: not within ${secs}s (false: $cond)"
  return 1
}

# t_expect_exit CODE DESCRIPTION -- CMD ARGS...: run CMD (stdout to $T/out,
# stderr to $T/err) and check its exit status.
t_expect_exit() {
  local want=$1 what=$2
  shift 3
  T_COUNT=$((T_COUNT + 1))
  "$@" >"$T/out" 2>"$T/err" </dev/null
  local got=$?
  if [ "$got" -eq "$want" ]; then
    t_pass "$what (exit $got)"
  else
    t__failed "$what: exit $got, want $want"
    sed 's/^/  stdout: /' "$T/out" >&2
    sed 's/^/  stderr: /' "$T/err" >&2
  fi
}

# t_grep FILE REGEX DESCRIPTION: FILE must contain a line matching REGEX.
t_grep() {
  T_COUNT=$((T_COUNT + 1))
  if grep -Eq -- "$2" "$1"; then
    t_pass "$3"
  else
    t__failed "$3: no line matching /$2/ in $(basename "$1")"
    sed 's/^/  | /' "$1" >&2
  fi
}

# t_nogrep FILE REGEX DESCRIPTION: FILE must not contain REGEX.
t_nogrep() {
  T_COUNT=$((T_COUNT + 1))
  if grep -Eq -- "$2" "$1"; then
    t__failed "$3: found /$2/ in $(basename "$1")"
    grep -E -- "$2" "$1" | sed 's/^/  | /' >&2
  else
    t_pass "$3"
  fi
}

# t_eq GOT WANT DESCRIPTION
t_eq() {
  T_COUNT=$((T_COUNT + 1))
  if [ "$1" = "$2" ]; then
    t_pass "$3"
  else
    t__failed "$3: got '$1', want '$2'"
  fi
}

# t_done: print the summary and exit non-zero on any failure or when the
# test checked nothing.
t_done() {
  t__proto_check
  if [ "$T_COUNT" -eq 0 ]; then
    echo "FAIL: the test checked nothing" >&2
    exit 1
  fi
  echo "$((T_COUNT - T_FAILS)) passed, $T_FAILS failed"
  [ "$T_FAILS" -eq 0 ]
}

# ---- the emulator --------------------------------------------------------
# These helpers are shared by every team's system tests; keep their names.
#
# t_emulator_start [EMULATOR ARGS...]
#   Starts "$MGCALL" emulator --listen 127.0.0.1:0 --seed $T_SEED ARGS... in
#   the background (a later --listen in ARGS wins, e.g. --listen '[::1]:0';
#   the seed is printed), waits at most
#   10 s for its "mgcall emulator: listening on URL" line and sets
#     EMU_URL   the base URL, e.g. http://127.0.0.1:41234 (https with TLS)
#     EMU_PID   its process id (also appended to T_PIDS: killed on exit)
#     EMU_OUT, EMU_ERR  files holding its stdout and stderr
#   Returns 1 (and counts a failure) when it does not start.
#   Typical: t_emulator_start --client app:secret --inactivity-timeout 2s
# t_emulator_stop
#   SIGTERM to EMU_PID and wait for it (exit status in EMU_STATUS).
# t_make_cert
#   Makes a throwaway CA and a server certificate for 127.0.0.1, localhost
#   and ::1 in $T/pki with the openssl CLI and sets EMU_CA, EMU_CERT,
#   EMU_KEY.  HTTPS:  t_make_cert; t_emulator_start --tls-cert "$EMU_CERT"
#   --tls-key "$EMU_KEY"; curl --cacert "$EMU_CA" "$EMU_URL/...".
# t_emulator_token TENANT CLIENT SECRET [SCOPE]
#   Prints an access token from the emulator's token endpoint (client
#   credentials; scope defaults to https://graph.microsoft.com/.default).
#   The secret goes to curl on stdin, never in argv.  Prints nothing and
#   returns 1 on failure.
# t_emulator_call TOKEN [CALLBACK_URI]
#   Creates a call (POST /v1.0/communications/calls) and prints its id.
# t_curl ARGS...
#   curl -sS with --cacert "$EMU_CA" when EMU_CA is set, and no proxy.
#
# Protocol variants (tests/CMakeLists.txt registers some tests twice):
# MGCALL_TEST_PROTO=h2 makes t_curl speak HTTP/2 to a cleartext emulator
# (h2c with prior knowledge; with TLS curl takes h2 by ALPN anyway);
# MGCALL_TEST_PROTO=h1 starts every emulator with --no-http2 (HTTP/1.1
# only, TLS included).  MGCALL_TEST_PROTO=h2tls serves every emulator the
# test starts without --tls-cert on TLS instead (t_make_cert's certificate,
# h2 by ALPN), so that tests of the clients (mgcall keep-alive, token,
# keeper), which speak HTTP/2 only where the server offers it by ALPN, run
# on HTTP/2: EMU_URL is https and SSL_CERT_DIR names a directory holding
# only the test CA, which the library, curl and openssl trust without
# --cacert.  t_emulator_stop then checks that the emulator served that
# protocol (one check; h2tls: not one HTTP/1.1 connection).
T_PROTO=${MGCALL_TEST_PROTO:-}
T_EMU_N=0
t_curl() {
  local proto=()
  if [ "$T_PROTO" = h2 ] && [ "${EMU_URL#http://}" != "$EMU_URL" ]; then
    proto=(--http2-prior-knowledge)
  fi
  if [ -n "${EMU_CA:-}" ]; then
    curl -sS --noproxy '*' "${proto[@]}" --cacert "$EMU_CA" "$@"
  else
    curl -sS --noproxy '*' "${proto[@]}" "$@"
  fi
}

t_emulator_start() {
  T_EMU_N=$((T_EMU_N + 1))
  EMU_OUT="$T/emulator.$T_EMU_N.out"
  EMU_ERR="$T/emulator.$T_EMU_N.err"
  EMU_URL=
  : >"$EMU_OUT"
  echo "emulator $T_EMU_N: fault seed $T_SEED (MGCALL_TEST_SEED=$T_SEED repeats it)${T_PROTO:+, protocol variant $T_PROTO}"
  local only_h1=() tls=() keys=() kdir=${MGCALL_TEST_FIXTURE:-}/keys
  [ "$T_PROTO" = h1 ] && only_h1=(--no-http2)
  # the ctest fixture's keys for this test's Nth emulator (no RSA key
  # generation at start; tests/helpers/test_fixture), unless the test
  # gives its own key or a --state file (which keeps one)
  if [ -n "${MGCALL_TEST_FIXTURE:-}" ] && [ -f "$kdir/token-$T_EMU_N.pem" ]; then
    [[ " $* " != *" --token-key "* && " $* " != *" --state "* ]] &&
      keys+=(--token-key "$kdir/token-$T_EMU_N.pem")
    [[ " $* " != *" --notification-key "* ]] &&
      keys+=(--notification-key "$kdir/notify-$T_EMU_N.pem")
  fi
  if [ "$T_PROTO" = h2tls ] && [[ " $* " != *" --tls-cert "* ]]; then
    t__trust_test_ca || { t_fail "h2tls: no test certificate"; return 1; }
    tls=(--tls-cert "$EMU_CERT" --tls-key "$EMU_KEY")
  fi
  "$MGCALL" emulator --listen 127.0.0.1:0 --seed "$T_SEED" "${only_h1[@]}" \
    "${tls[@]}" "${keys[@]}" "$@" \
    >"$EMU_OUT" 2>"$EMU_ERR" </dev/null &
  EMU_PID=$!
  T_PIDS+=("$EMU_PID")
  local i
  for i in $(seq 100); do
    EMU_URL=$(sed -n 's/^mgcall emulator: listening on //p' "$EMU_OUT")
    [ -n "$EMU_URL" ] && return 0
    kill -0 "$EMU_PID" 2>/dev/null || break
    sleep 0.1
  done
  t_fail "emulator did not start (args: $*)"
  sed 's/^/  emulator: /' "$EMU_ERR" >&2
  return 1
}

# t_side_by_side PROTO [NAME=VALUE...]
#   Runs this test twice at the same time and exits: as it is
#   (MGCALL_TEST_PROTO unset) and as the variant PROTO (h2, h2tls) with the
#   environment NAME=VALUE (the fleet tests: FLEET_VIA=pgbouncer), each a
#   whole run of its own (its $T, emulators, keeper, checks, the variant's
#   protocol check), with the same seed; the output of both follows, each
#   line prefixed with its side, and the test passes when both do.  For the
#   tests whose time is an observation window (a timer, a fault's latency,
#   the emulator's timeouts), so that the second protocol costs make check
#   no time: call it right after sourcing lib.sh (and keeper_lib.sh).  A run
#   with MGCALL_TEST_PROTO or one of the NAMEs set (a side, a variant
#   tests/CMakeLists.txt registers, or a developer's run of one side) runs
#   once.  Under the sanitizers (T_SCALE > 1) the two run one after the
#   other: two instrumented runs at once want more CPU than the timing
#   checks leave them.
t_side_by_side() {
  local proto=$1 side=$1 kv name p1 p2 r1 r2
  shift
  [ -z "$T_PROTO" ] && [ -z "${MGCALL_TEST_SIDE:-}" ] || return 0
  for kv in "$@"; do
    name=${kv%%=*}
    [ -z "${!name:-}" ] || return 0 # that side asked for by name: once
    side="$side+${kv#*=}"
  done
  MGCALL_TEST_SIDE=1 MGCALL_TEST_SEED=$T_SEED bash "$0" >"$T/side.default" 2>&1 </dev/null &
  p1=$!
  T_PIDS+=("$p1")
  if [ "$T_SCALE" -gt 1 ]; then
    wait "$p1"
    r1=$?
  fi
  env MGCALL_TEST_SIDE=1 MGCALL_TEST_SEED="$T_SEED" MGCALL_TEST_PROTO="$proto" "$@" \
    bash "$0" >"$T/side.$side" 2>&1 </dev/null &
  p2=$!
  T_PIDS+=("$p2")
  if [ "$T_SCALE" -eq 1 ]; then
    wait "$p1"
    r1=$?
  fi
  wait "$p2"
  r2=$?
  sed 's/^/[default] /' "$T/side.default"
  sed "s/^/[$side] /" "$T/side.$side"
  echo "side by side: default exit $r1, $side exit $r2"
  [ "$r1" -ne 0 ] && exit "$r1"
  exit "$r2"
}

# t__trust_test_ca: the variant h2tls's trust (t_make_cert once; the CA
# alone, hashed, in $T/pki/trust, named by SSL_CERT_DIR).
t__trust_test_ca() {
  [ -n "${EMU_CA:-}" ] || t_make_cert || return 1
  if [ "${SSL_CERT_DIR:-}" != "$T/pki/trust" ]; then
    mkdir -p "$T/pki/trust" && cp "$EMU_CA" "$T/pki/trust/test-ca.pem" &&
      openssl rehash "$T/pki/trust" || return 1
    export SSL_CERT_DIR="$T/pki/trust"
    unset SSL_CERT_FILE CURL_CA_BUNDLE
  fi
}

# t__proto_check: the variant's one check on the running emulator (once per
# emulator: t_emulator_stop, else t_done).  It asks the emulator for its
# /_emulator/stats: T_PROTO_REQS is the number of requests it sent to the
# emulator last stopped (0 or 1), which that emulator's --record file holds
# too.
T_PROTO_CHECKED=
T_PROTO_REQS=0
t__proto_check() {
  local served
  T_PROTO_REQS=0
  [ -n "$T_PROTO" ] && [ -n "${EMU_URL:-}" ] && [ "$T_PROTO_CHECKED" != "${EMU_PID:-}" ] || return 0
  T_PROTO_CHECKED=${EMU_PID:-}
  T_PROTO_REQS=1
  case $T_PROTO in
  h2tls)
    served=$(t_curl "$EMU_URL/_emulator/stats" 2>/dev/null |
      jq -r '"\(.protocols."http/1.1".connections) \(.protocols.h2.connections)"')
    t_ok '[ "${EMU_URL#https://}" != "$EMU_URL" ] && [ "${served% *}" = 0 ] && [ "${served#* }" -ge 1 ]' \
      "variant h2tls: every connection to the emulator was HTTP/2 on TLS (HTTP/1.1, HTTP/2 connections: ${served:-none})"
    ;;
  h2)
    served=$(t_curl "$EMU_URL/_emulator/stats" 2>/dev/null | jq -r '.protocols.h2.requests')
    t_ok '[ "${served:-0}" -ge 1 ]' "variant h2: the emulator served HTTP/2 requests (${served:-none}; this one not counted yet)"
    ;;
  h1)
    served=$(t_curl "$EMU_URL/_emulator/stats" 2>/dev/null | jq -r '.protocols.h2.connections')
    t_eq "${served:-none}" 0 "variant h1: the emulator served no HTTP/2 connection"
    ;;
  esac
}

t_emulator_stop() {
  t__proto_check
  kill -TERM "$EMU_PID" 2>/dev/null
  wait "$EMU_PID" 2>/dev/null
  EMU_STATUS=$?
}

t_make_cert() {
  local d="$T/pki"
  mkdir -p "$d"
  # the ctest fixture's (tests/helpers/test_fixture), else a new one
  if [ -f "${MGCALL_TEST_FIXTURE:-/nonexistent}/pki/server.pem" ]; then
    cp "$MGCALL_TEST_FIXTURE"/pki/* "$d/" || return 1
  else
    "${BASH_SOURCE[0]%/*}/../helpers/make_cert" "$d" || return 1
  fi
  EMU_CA="$d/ca.pem"
  EMU_CERT="$d/server.pem"
  EMU_KEY="$d/server.key"
}

t_emulator_token() {
  local scope=${4:-https://graph.microsoft.com/.default}
  printf '%s' "$3" | t_curl -f -X POST "$EMU_URL/$1/oauth2/v2.0/token" \
    --data-urlencode grant_type=client_credentials \
    --data-urlencode "client_id=$2" --data-urlencode "scope=$scope" \
    --data-urlencode client_secret@- | jq -er .access_token
}

t_emulator_call() {
  local cb=${2:-http://127.0.0.1:9/callback}
  t_curl -f -X POST "$EMU_URL/v1.0/communications/calls" \
    -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -d "{\"callbackUri\":\"$cb\",\"requestedModalities\":[\"audio\"],\"mediaConfig\":{\"@odata.type\":\"#microsoft.graph.serviceHostedMediaConfig\"}}" |
    jq -er .id
}

# t_sink_start [--fail N]
#   Starts mgcall-test-sink (tests/helpers/test_sink.c), an HTTP listener
#   that appends one JSON line per request ({"method","path","contentType",
#   "body"}) to SINK_FILE and answers 200 (500 to the first N with --fail N).
#   Sets SINK_URL (http://127.0.0.1:PORT), SINK_FILE, SINK_PID (in T_PIDS).
# t_wait_lines FILE N [SECONDS]
#   Waits (bounded, default 10 s) until FILE has at least N lines; returns 1
#   otherwise.
T_SINK_N=0
t_sink_start() {
  T_SINK_N=$((T_SINK_N + 1))
  SINK_FILE="$T/sink.$T_SINK_N.jsonl"
  local out="$T/sink.$T_SINK_N.out"
  : >"$SINK_FILE"
  : >"$out"
  "${MGCALL_BUILD_DIR:?}/tests/mgcall-test-sink" "$@" "$SINK_FILE" >"$out" 2>&1 </dev/null &
  SINK_PID=$!
  T_PIDS+=("$SINK_PID")
  local i
  for i in $(seq 100); do
    SINK_URL=$(sed -n 's/^listening on //p' "$out")
    [ -n "$SINK_URL" ] && return 0
    kill -0 "$SINK_PID" 2>/dev/null || break
    sleep 0.1
  done
  t_fail "test sink did not start"
  return 1
}

t_wait_lines() {
  local i n=$(( ${3:-10} * 10 ))
  for i in $(seq "$n"); do
    [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
