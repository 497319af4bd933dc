# SPDX-License-Identifier: MIT
# fleet_lib.sh - helpers for the fleet-mode system tests (several keepers on
# one PostgreSQL).  Source after lib.sh and keeper_lib.sh.
#
# pg_start
#   Starts a private PostgreSQL 15 (tests/helpers/pgtmp: initdb + pg_ctl in a
#   temporary directory, Unix socket only, as the postgres user when root),
#   sets PG_DIR and PG_URL; stopped and removed at exit.  Fails (counted)
#   when PostgreSQL is missing: never skips.  With FLEET_VIA=pgbouncer the
#   keepers' PG_URL goes through PgBouncer in transaction mode (pg_sql
#   still talks to the server).
# pg_sql SQL
#   Runs SQL on the test database, prints rows (psql -At).
# f_start NAME [KEEPER RUN ARGS...]
#   Starts keeper NAME (--node-id NAME, --store $PG_URL, API on a free
#   port, logs in $T/NAME.err), waits for its control API; sets
#   F_PID[NAME] and F_URL[NAME].
# f_kill NAME [SIGNAL]   signal (default TERM) + wait for keeper NAME.
# f_fleet NAME           GET /fleet of keeper NAME.
# f_settled N            true when N members hold every shard, each at most
#                        its fair share ceil(shards / N).
# f_gap_start / f_gap_max
#   Sample /_emulator/calls every 0.2 s in the background and print the
#   longest time (ms) an established call went without a keepAlive (from
#   creation), or the emulator's own maxKeepAliveGapMs when it has one.
# f_setup NAME...
#   The usual fleet: PostgreSQL, the emulator with a 6 s inactivity timeout,
#   one keeper per NAME with F_KARGS (--interval 1s --deadline 5s --jitter 10
#   --lease-ttl 2s), and a check that they share the shards fairly.
#   Returns 1 (counted) when something did not start.
# f_sleep_until MS
#   Sleeps until MS (epoch ms); at once when that has passed.
# f_kept_since MS N
#   True when exactly N active, claimed calls have progress written after MS
#   (epoch ms) in the database.
# f_lost_logged NAME
#   True when keeper NAME has logged that it lost shards to another keeper.
# f_check_nothing_lost N
#   The closing checks: no call ended by the emulator's timeout, N calls
#   established, no call longer than the 6 s timeout without a keepAlive;
#   on any failure so far, the keepers' warnings and errors.
PGTMP="$MGCALL_SOURCE_DIR/tests/helpers/pgtmp"
declare -A F_PID F_URL
PG_DIR=

f_cleanup() {
  local n
  for n in "${!F_PID[@]}"; do kill -CONT "${F_PID[$n]}" 2>/dev/null; done
  [ -n "${F_GAP_PID:-}" ] && kill "$F_GAP_PID" 2>/dev/null
  local p
  for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  [ -n "$PG_DIR" ] && "$PGTMP" stop "$PG_DIR"
  rm -rf "$T"
}
trap f_cleanup EXIT

pg_start() {
  PG_DIR=$(mktemp -u "${TMPDIR:-/tmp}/mgcall-pg.XXXXXX")
  if ! PG_URL=$("$PGTMP" start "$PG_DIR" 2>"$T/pg_start.err"); then
    T_COUNT=$((T_COUNT + 1))
    t_fail "PostgreSQL did not start"
    sed 's/^/  pg: /' "$T/pg_start.err" >&2
    return 1
  fi
  if [ "${FLEET_VIA:-}" = pgbouncer ]; then
    if ! PG_URL=$("$PGTMP" bouncer "$PG_DIR" 2>"$T/pg_start.err"); then
      T_COUNT=$((T_COUNT + 1))
      t_fail "PgBouncer did not start"
      sed 's/^/  pgbouncer: /' "$T/pg_start.err" >&2
      return 1
    fi
    echo "through PgBouncer (transaction mode): $PG_URL"
  fi
}

pg_sql() {
  "$PGTMP" psql "$PG_DIR" -c "$1"
}

f_start() {
  local name=$1 i port before
  shift
  before=$(grep -c 'control API on port' "$T/$name.err" 2>/dev/null)
  before=${before:-0}
  "$MGCALL" keeper run --listen 127.0.0.1:0 --store "$PG_URL" \
    --node-id "$name" "$@" >>"$T/$name.out" 2>>"$T/$name.err" </dev/null &
  F_PID[$name]=$!
  T_PIDS+=("${F_PID[$name]}")
  for i in $(seq 100); do
    port=$(grep -o 'control API on port [0-9]*' "$T/$name.err" 2>/dev/null |
      sed -n "$((before + 1))p" | grep -o '[0-9]*$')
    if [ -n "$port" ]; then
      F_URL[$name]="http://127.0.0.1:$port"
      return 0
    fi
    kill -0 "${F_PID[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  T_COUNT=$((T_COUNT + 1))
  t_fail "keeper $name did not start"
  sed "s/^/  $name: /" "$T/$name.err" >&2
  return 1
}

f_kill() {
  kill -"${2:-TERM}" "${F_PID[$1]}" 2>/dev/null
  wait "${F_PID[$1]}" 2>/dev/null
}

f_fleet() {
  curl -sS --noproxy '*' "${F_URL[$1]}/fleet"
}

f_settled() {
  local n=$1
  [ "$(pg_sql "SELECT count(DISTINCT owner) FROM mgcall_shards
      WHERE owner IS NOT NULL AND expires_at > now()")" = "$n" ] || return 1
  [ "$(pg_sql "SELECT count(*) FROM mgcall_shards
      WHERE owner IS NULL OR expires_at <= now()")" = 0 ] || return 1
  [ "$(pg_sql "SELECT coalesce(max(c), 0) FROM (SELECT count(*) AS c
      FROM mgcall_shards GROUP BY owner) x")" -le \
    $(((64 + n - 1) / n)) ]
}

f_gap_start() {
  : >"$T/gap"
  (
    while :; do
      t_curl "$EMU_URL/_emulator/calls" 2>/dev/null |
        jq -r --argjson now "$(date +%s%3N)" '
          def ms: capture("^(?<s>[^.Z]+)(\\.(?<f>[0-9]+))?Z$")
            | ((.s + "Z") | fromdateiso8601) * 1000
              + (((.f // "0") + "000")[0:3] | tonumber);
          [.value[] | select(.state == "established")
           | $now - ((.lastKeepAliveDateTime // .createdDateTime) | ms)]
          | max // 0' >>"$T/gap" 2>/dev/null
      sleep 0.2
    done
  ) &
  F_GAP_PID=$!
}

f_gap_max() {
  local own
  own=$(t_curl "$EMU_URL/_emulator/stats" | jq -r '.maxKeepAliveGapMs // empty')
  if [ -n "$own" ]; then
    echo "$own"
  else
    sort -n "$T/gap" | tail -1
  fi
}

f_sleep_until() {
  local left=$(($1 - $(date +%s%3N)))
  [ "$left" -le 0 ] || sleep "$((left / 1000)).$(printf '%03d' $((left % 1000)))"
}

f_kept_since() {
  [ "$(pg_sql "SELECT count(*) FROM mgcall_calls WHERE claimed
      AND state = 'active' AND last_success_ms > $1")" = "$2" ]
}

f_lost_logged() {
  grep -q "lost [0-9]* shards\? to another keeper" "$T/$1.err"
}

F_KARGS=()
f_setup() {
  pg_start || return 1
  k_emulator --inactivity-timeout 6s || return 1
  F_KARGS=(--interval 1s --deadline 5s --jitter 10 --lease-ttl 2s "${KAUTH[@]}")
  local n
  for n in "$@"; do f_start "$n" "${F_KARGS[@]}" || return 1; done
  T_COUNT=$((T_COUNT + 1))
  if k_until 15 f_settled $#; then
    t_pass "$# keepers share the 64 shards fairly"
  else
    t__failed "the $# keepers did not share the shards: $(pg_sql "SELECT owner, count(*) FROM mgcall_shards GROUP BY owner")"
  fi
}

f_check_nothing_lost() {
  t_eq "$(k_stats endedByTimeout)" 0 "no call ended by timeout"
  local est gap
  est=$(t_curl "$EMU_URL/_emulator/calls" |
    jq '[.value[] | select(.state == "established")] | length')
  t_eq "$est" "$1" "all $1 calls established"
  gap=$(f_gap_max)
  echo "maxKeepAliveGapMs: $gap"
  T_COUNT=$((T_COUNT + 1))
  if [ -n "$gap" ] && [ "$gap" -lt 6000 ]; then
    t_pass "longest time without a keepAlive $gap ms < the 6 s timeout"
  else
    t__failed "longest time without a keepAlive: '$gap' ms"
  fi
  if [ "$T_FAILS" -gt 0 ]; then f_logs; fi
}

# f_logs: on failure, what every keeper logged (warnings and errors).
f_logs() {
  local f
  for f in "$T"/*.err; do
    echo "--- $(basename "$f") (warn/error, last 30):" >&2
    grep -E ' (warn|error) ' "$f" | tail -30 >&2
  done
}

# f_stale_watch: from now on, record in table stale_writes every update of
# a call row made under a term older than its shard's current one (a write
# the fence should have refused).  f_stale_count prints how many.
f_stale_watch() {
  pg_sql "CREATE TABLE stale_writes (call_id text, term bigint,
      shard_term bigint, at timestamptz DEFAULT now());
    CREATE FUNCTION note_stale() RETURNS trigger LANGUAGE plpgsql AS \$\$
    DECLARE cur bigint;
    BEGIN
      SELECT term INTO cur FROM mgcall_shards WHERE shard = NEW.shard;
      IF NEW.term < cur THEN
        INSERT INTO stale_writes (call_id, term, shard_term)
          VALUES (NEW.call_id, NEW.term, cur);
      END IF;
      RETURN NEW;
    END \$\$;
    CREATE TRIGGER note_stale BEFORE UPDATE ON mgcall_calls
      FOR EACH ROW EXECUTE FUNCTION note_stale();" >/dev/null
}
f_stale_count() {
  pg_sql "SELECT count(*) FROM stale_writes"
}
