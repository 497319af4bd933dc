# SPDX-License-Identifier: MIT
# lib.sh - helpers for system tests.  Source it first:
#   . "$(dirname "$0")/lib.sh"
# Every test gets a private temporary directory $T, removed on exit, and runs
# the binary named by $MGCALL (ctest sets it).  Tests talk to loopback only.
set -u
: "${MGCALL:?MGCALL must name the mgcall binary (ctest sets it)}"
T=$(mktemp -d "${TMPDIR:-/tmp}/mgcall-test.XXXXXX")
T_PIDS=()
t_cleanup() {
  local p
  for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap t_cleanup EXIT
T_FAILS=0
T_COUNT=0

t_fail() {
  echo "FAIL: $*" >&2
  T_FAILS=$((T_FAILS + 1))
}
t_pass() {
  echo "ok: $*"
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
    t_fail "$what: exit $got, want $want"
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
    t_fail "$3: no line matching /$2/ in $(basename "$1")"
    sed 's/^/  | /' "$1" >&2
  fi
}

# t_nogrep FILE REGEX DESCRIPTION: FILE must not contain REGEX.
t_nogrep() {
  T_COUNT=$((T_COUNT + 1))
  if grep -Eq -- "$2" "$1"; then
    t_fail "$3: found /$2/ in $(basename "$1")"
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
    t_fail "$3: got '$1', want '$2'"
  fi
}

# t_done: print the summary and exit non-zero on any failure or when the
# test checked nothing.
t_done() {
  if [ "$T_COUNT" -eq 0 ]; then
    echo "FAIL: the test checked nothing" >&2
    exit 1
  fi
  echo "$((T_COUNT - T_FAILS)) passed, $T_FAILS failed"
  [ "$T_FAILS" -eq 0 ]
}
