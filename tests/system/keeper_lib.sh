# SPDX-License-Identifier: MIT
# keeper_lib.sh - helpers for the keeper's system tests (source after lib.sh).
#
# k_start [KEEPER RUN ARGS...]
#   Starts "$MGCALL" keeper run --listen 127.0.0.1:0 --store sqlite:$K_DB ARGS
#   in the background (stdout/stderr appended to $T/keeper.out/.err), waits
#   at most 10 s for its "control API on port N" line and sets K_PID, K_URL
#   and MGCALL_KEEPER_URL.  Returns 1 (and counts a failure) when it fails.
# k_stop [SIGNAL]
#   Sends SIGNAL (default TERM) to K_PID and waits; exit status in K_STATUS.
# k_until SECONDS CMD...
#   Runs CMD every 0.1 s until it succeeds or SECONDS pass; returns its last
#   status (a bounded wait, not an assertion: check its status, e.g.
#   "k_until 5 grep -q x F || t_fail ...").  The arguments are expanded
#   once, so `k_until 9 test "$(k_stats n)" -ge 3` tests one old value over
#   and over: for values that change use t_wait SECONDS 'COND' NAME.
# k_state ID
#   Prints the state of call ID from the keeper ("" when unknown).
# k_metric NAME_WITH_LABELS
#   Prints the value of one metric line from GET /metrics.
K_DB="$T/keeper.db"
k_start() {
  local before
  before=$(grep -c 'control API on port' "$T/keeper.err" 2>/dev/null)
  before=${before:-0}
  "$MGCALL" keeper run --listen 127.0.0.1:0 --store "sqlite:$K_DB" "$@" \
    >>"$T/keeper.out" 2>>"$T/keeper.err" </dev/null &
  K_PID=$!
  T_PIDS+=("$K_PID")
  local i port
  for i in $(seq 100); do
    port=$(grep -o 'control API on port [0-9]*' "$T/keeper.err" 2>/dev/null |
      sed -n "$((before + 1))p" | grep -o '[0-9]*$')
    if [ -n "$port" ]; then
      K_URL="http://127.0.0.1:$port"
      export MGCALL_KEEPER_URL="$K_URL"
      return 0
    fi
    kill -0 "$K_PID" 2>/dev/null || break
    sleep 0.1
  done
  t_fail "keeper did not start"
  sed 's/^/  keeper: /' "$T/keeper.err" >&2
  return 1
}

k_stop() {
  kill -"${1:-TERM}" "$K_PID" 2>/dev/null
  wait "$K_PID" 2>/dev/null
  K_STATUS=$?
}

k_until() {
  local secs=$1 i rc=1
  shift
  for i in $(seq $((secs * 10))); do
    "$@" && return 0
    rc=$?
    sleep 0.1
  done
  return $rc
}

k_state() {
  curl -sS --noproxy '*' "$K_URL/calls/$1" 2>/dev/null | jq -r '.state // ""'
}

k_metric() {
  curl -sS --noproxy '*' "$K_URL/metrics" |
    awk -v n="$1" '$1 == n { print $2 }'
}

# k_emulator [EMULATOR ARGS...]
#   Starts the emulator (t_emulator_start) with a client app-k/<secret> and
#   sets EMU_TOKEN (tenant tenant-k) and KAUTH, the keeper's auth and
#   endpoint options (client secret from a 0600 file).
k_emulator() {
  printf 'k-secret-%s' "$RANDOM$RANDOM" >"$T/app-secret"
  chmod 600 "$T/app-secret"
  t_emulator_start --client "app-k:@$T/app-secret" --establish-delay 100ms "$@" ||
    return 1
  EMU_TOKEN=$(t_emulator_token tenant-k app-k "$(cat "$T/app-secret")") || return 1
  KAUTH=(--tenant-id tenant-k --client-id app-k --client-secret-file "$T/app-secret"
    --authority-url "$EMU_URL" --graph-url "$EMU_URL" --no-token-cache)
}

# k_calls N FILE [CALLBACK_URI]: create N calls in the emulator, ids to FILE.
k_calls() {
  local i
  : >"$2"
  for i in $(seq "$1"); do
    t_emulator_call "$EMU_TOKEN" "${3:-http://127.0.0.1:9/callback}" >>"$2" || return 1
  done
}

# k_calls_tracked N FILE: create N calls (4 requests at a time, one curl
# process per 10 calls) and register them with the running keeper 10 at a
# time (tenant tenant-k), so none waits long untracked (the emulator's clock
# runs from creation).  Ids appended to FILE.
k_calls_tracked() {
  local left=$1 n urls
  : >"$2"
  while [ "$left" -gt 0 ]; do
    n=$((left < 10 ? left : 10))
    urls=()
    while [ "${#urls[@]}" -lt "$n" ]; do
      urls+=("$EMU_URL/v1.0/communications/calls")
    done
    t_curl -f --no-progress-meter --parallel --parallel-max 4 -X POST \
      -H "Authorization: Bearer $EMU_TOKEN" -H "Content-Type: application/json" \
      -d '{"callbackUri":"http://127.0.0.1:9/callback"}' "${urls[@]}" |
      jq -er .id >"$T/chunk" || return 1
    [ "$(wc -l <"$T/chunk")" -eq "$n" ] || return 1
    sed 's/$/ tenant-k/' "$T/chunk" | "$MGCALL" keeper add - 2>>"$T/add.err" ||
      return 1
    cat "$T/chunk" >>"$2"
    left=$((left - n))
  done
}

# k_restore_calls IDS_FILE ADDED_AGO_MS AGE_AWK [KEEPER RUN ARGS...]
#   The store as a keeper that was down for a while leaves it: starts the
#   keeper once (k_start ARGS: it makes the store) and stops it, then inserts
#   every call of IDS_FILE (tenant tenant-k) as active, added ADDED_AGO_MS
#   ago and last kept alive AGE ms ago, AGE being the awk expression AGE_AWK
#   (of NR, the call's line, and n, the number of calls).
k_restore_calls() {
  local ids=$1 added=$2 age=$3 now
  shift 3
  k_start "$@" || return 1
  k_stop TERM
  now=$(date +%s%3N)
  awk -v now="$now" -v added="$added" -v n="$(wc -l <"$ids")" "{ age = $age
    printf \"INSERT INTO calls (call_id, tenant_id, state, added_ms, last_success_ms) VALUES (%c%s%c, %ctenant-k%c, %cactive%c, %.0f, %.0f);\\n\",
      39, \$1, 39, 39, 39, 39, 39, now - added, now - age }" "$ids" |
    { echo 'BEGIN;'; cat; echo 'COMMIT;'; } | sqlite3 "$K_DB"
}

# k_stats FIELD: one counter of the emulator's /_emulator/stats.
k_stats() {
  t_curl "$EMU_URL/_emulator/stats" | jq -r ".$1"
}

# k_hangup ID: DELETE the call in the emulator (as the bot would hang up).
k_hangup() {
  t_curl -o /dev/null -w '%{http_code}' -X DELETE \
    -H "Authorization: Bearer $EMU_TOKEN" "$EMU_URL/v1.0/communications/calls/$1"
}

# k_live_count: calls the keeper holds as active or at-risk (every page of
# GET /calls, through keeper list).
k_live_count() {
  "$MGCALL" keeper list --json --keeper-url "$K_URL" |
    jq '[.calls[] | select(.state == "active" or .state == "at-risk")] | length'
}

# On failure, t_done first prints what the keeper logged (warnings and
# errors, the last 40), the emulator's counters and the machine's load.
eval "$(declare -f t_done | sed '1s/t_done/k_done_orig/')"
t_done() {
  if [ "$T_FAILS" -gt 0 ]; then
    echo "--- keeper log (warn/error, last 40):" >&2
    grep -E ' (warn|error) |"level":"(warn|error)"' "$T/keeper.err" 2>/dev/null | tail -40 >&2
    [ -n "${EMU_URL:-}" ] && t_curl "$EMU_URL/_emulator/stats" >&2 2>/dev/null
    uptime >&2
  fi
  k_done_orig
}
