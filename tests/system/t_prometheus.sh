#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_prometheus.sh - the operator's monitoring files (dist/):
# - `promtool check rules` accepts dist/prometheus/mgcall-keeper.rules.yml and
#   `promtool test rules` passes its unit tests (mgcall-keeper.tests.yml); a
#   copy of the rules with one threshold changed makes the unit tests fail
#   (they test the thresholds, not only the syntax);
# - dist/grafana/mgcall-keeper.json is JSON with panels and queries;
# - no dangling metric name: every mgcall_* name in the rules, their unit tests
#   and the dashboard is a sample name a real keeper (SQLite store) exports on
#   GET /metrics.  Sample names are compared, so a histogram is used through
#   its _bucket/_sum/_count series (its bare name would be reported).  The
#   fleet metrics (SPEC 4a) are exported only by a keeper with the PostgreSQL
#   store: a name the SQLite keeper does not export is accepted only when it
#   is in FLEET_ONLY below AND a sample line of it is written in the keeper's
#   source (keeper/*.c, as "name{..." or "name %..." in a string literal),
#   which this test greps; the shard count the rules use (64) is checked
#   against KSTORE_PG_SHARDS in keeper/store_pg.h the same way.
# promtool comes with Debian's prometheus package (scripts/bootstrap); when
# it is missing the test fails, it does not skip.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"

SRC=${MGCALL_SOURCE_DIR:?MGCALL_SOURCE_DIR must name the source tree (ctest sets it)}
RULES=$SRC/dist/prometheus/mgcall-keeper.rules.yml
RTESTS=$SRC/dist/prometheus/mgcall-keeper.tests.yml
DASH=$SRC/dist/grafana/mgcall-keeper.json
FLEET_ONLY=(mgcall_keeper_fleet_members mgcall_keeper_shards_held
  mgcall_keeper_lease_renewal_seconds_bucket mgcall_keeper_lease_renewal_seconds_sum
  mgcall_keeper_lease_renewal_seconds_count mgcall_keeper_calls_adopted_total
  mgcall_keeper_leases_lost_total)

if ! command -v promtool >/dev/null 2>&1; then
  t_fail "promtool not found (Debian package prometheus; run scripts/bootstrap)"
  t_done
  exit 1
fi

# ---- promtool -------------------------------------------------------------
t_expect_exit 0 "promtool check rules" -- promtool check rules "$RULES"
t_ok 'grep -q "SUCCESS: 7 rules found" "$T/out"' "promtool: the 7 alert rules found"
t_expect_exit 0 "promtool test rules" -- promtool test rules "$RTESTS"
t_ok 'grep -q SUCCESS "$T/out"' "promtool: unit tests pass"
for a in MgcallKeeperCallLost MgcallKeeperCallsAtRisk MgcallKeeperKeepAliveErrors \
  MgcallKeeperLateKeepAlives MgcallKeeperHookFailures MgcallKeeperFleetMemberGone \
  MgcallKeeperShardsUnowned; do
  t_ok '[ "$(grep -c "alertname: $a\$" "$RTESTS")" -ge 2 ]' "unit tests: $a has cases"
  t_ok 'grep -A12 "alert: $a\$" "$RULES" | grep -q "severity:"' "rules: $a has a severity"
  t_ok 'grep -A14 "alert: $a\$" "$RULES" | grep -q "description:"' "rules: $a has a description"
done
# The unit tests bite: the same tests against rules with a changed threshold
# (lateness p99 over 10 s instead of 5 s) fail.
mkdir "$T/mut"
cp "$RTESTS" "$T/mut/"
sed '/rate(mgcall_keeper_lateness_seconds_bucket/{n;s/^\( *\)> 5$/\1> 10/}' "$RULES" \
  >"$T/mut/mgcall-keeper.rules.yml"
t_ok '[ "$(diff "$RULES" "$T/mut/mgcall-keeper.rules.yml" | grep -c "^[<>]")" -eq 2 ]' \
  "mutated rules: one line changed"
t_expect_exit 1 "promtool test rules fails on a changed threshold" -- \
  promtool test rules "$T/mut/mgcall-keeper.tests.yml"
t_ok 'grep -q MgcallKeeperLateKeepAlives "$T/out" "$T/err"' "the failure names the alert"

# ---- the dashboard -------------------------------------------------------
t_ok 'jq -e ".panels | length >= 10" "$DASH" >/dev/null' "dashboard: JSON with panels"
t_ok '[ "$(jq "[.panels[] | select((.targets // []) | length == 0)] | length" "$DASH")" -eq 0 ]' \
  "dashboard: every panel has a query"

# ---- the names against a real keeper -------------------------------------
printf 'test-token\n' >"$T/graph-token"
k_start --access-token-file "$T/graph-token" --graph-url http://127.0.0.1:9 ||
  { t_done; exit 1; }
t_ok 'curl -sS -f --noproxy "*" "$K_URL/metrics" >"$T/metrics"' "GET /metrics"
# Sample names: the first token of every line that is not a comment.
grep -v '^#' "$T/metrics" | sed -n 's/^\([a-zA-Z_:][a-zA-Z0-9_:]*\).*/\1/p' |
  sort -u >"$T/exported"
t_ok 'grep -qx mgcall_keeper_lateness_seconds_bucket "$T/exported"' \
  "the keeper exports mgcall_keeper_lateness_seconds_bucket"

# used_names FILE...: every mgcall_* name written in FILEs (queries and text).
used_names() { grep -oh 'mgcall_[a-zA-Z0-9_]*' "$@" | sort -u; }
# dangling FILE...: prints the names in FILEs the keeper does not export and
# that are not fleet metrics defined in keeper/*.c.
dangling() {
  local n f ok
  for n in $(used_names "$@"); do
    grep -qx "$n" "$T/exported" && continue
    ok=0
    for f in "${FLEET_ONLY[@]}"; do
      if [ "$n" = "$f" ] && grep -qE "\"$n[ {]" "$SRC"/keeper/*.c; then
        ok=1
      fi
    done
    [ "$ok" = 1 ] || echo "$n"
  done
}
dangling "$RULES" "$RTESTS" "$DASH" >"$T/dangling"
t_ok '[ ! -s "$T/dangling" ]' "no dangling metric name in the rules and the dashboard"
sed 's/^/  dangling: /' "$T/dangling" >&2
t_ok '[ "$(used_names "$RULES" "$DASH" | wc -l)" -ge 14 ]' "the names were found"
# Every fleet name is defined in the keeper's source (a typo in FLEET_ONLY or
# a renamed metric is reported here).
for f in "${FLEET_ONLY[@]}"; do
  t_ok 'grep -qE "\"$f[ {]" "$SRC"/keeper/*.c' "fleet metric $f written in keeper/*.c"
done
t_ok 'grep -qE "define KSTORE_PG_SHARDS 64\$" "$SRC/keeper/store_pg.h"' \
  "the rules' 64 shards is KSTORE_PG_SHARDS"
# The check itself reports a name the keeper does not have, and the bare name
# of a histogram.
printf 'expr: rate(mgcall_keeper_no_such_total[5m]) + mgcall_keeper_lateness_seconds\n' \
  >"$T/bad.yml"
t_ok '[ "$(dangling "$T/bad.yml" | tr "\n" " ")" = "mgcall_keeper_lateness_seconds mgcall_keeper_no_such_total " ]' \
  "a dangling name and a bare histogram name are reported"

k_stop
t_done
