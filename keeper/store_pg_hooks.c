/* SPDX-License-Identifier: MIT */
/* store_pg_hooks.c - the hook outbox and retention in PostgreSQL (the jobs
 * themselves are written with the ends, store_pg.c). */
#include "store_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void num(char *buf, size_t n, int64_t v)
{
  snprintf(buf, n, "%lld", (long long)v);
}

int kstore_pg_claim_hooks(struct kstore *st, const char *node, int kinds,
                          int64_t now_ms, int64_t lease_ms, size_t max,
                          kstore_hook_cb cb, void *ud, size_t *claimed,
                          struct mgc_err *err)
{
  (void)now_ms; /* the database's clock decides */
  if(claimed)
    *claimed = 0;
  if(!max)
    return MGCALL_OK;
  char k[32], lim[32], lease[32];
  num(k, sizeof(k), kinds);
  num(lim, sizeof(lim), max > 100000 ? 100000 : (int64_t)max);
  num(lease, sizeof(lease), lease_ms);
  const char *p[] = {node, k, lim, lease};
  /* one fresh token for this claim: it fences late finishes */
  PGresult *res = kpg_exec(
      kstore_pg_conn(st), "claim hook jobs",
      "WITH pick AS (SELECT job_id FROM mgcall_hook_jobs"
      " WHERE state = 'pending' AND next_attempt <= now()"
      " AND claim_until <= now() AND (kind & $2::int) <> 0"
      " ORDER BY next_attempt, job_id LIMIT $3::bigint"
      " FOR UPDATE SKIP LOCKED),"
      " token AS (SELECT 1 + floor(random() * 9.2e18)::bigint AS t)"
      " UPDATE mgcall_hook_jobs j SET claim = token.t, claimed_by = $1,"
      " claim_until = now() + $4::bigint * interval '1 millisecond',"
      " attempts = j.attempts + 1 FROM pick, token"
      " WHERE j.job_id = pick.job_id"
      " RETURNING j.job_id, j.event_id, j.call_id, j.tenant_id, j.reason,"
      " j.kind, j.attempts, j.created_ms, j.last_error, j.claim",
      4, p, err);
  if(!res)
    return MGCALL_E_INTERNAL;
  for(int r = 0; r < PQntuples(res); r++) {
    struct kstore_hook job = {
        .job_id = kpg_int(res, r, 0),
        .event_id = PQgetvalue(res, r, 1),
        .call_id = PQgetvalue(res, r, 2),
        .tenant_id = PQgetisnull(res, r, 3) ? NULL : PQgetvalue(res, r, 3),
        .reason = PQgetvalue(res, r, 4),
        .kind = (int)kpg_int(res, r, 5),
        .attempts = (int)kpg_int(res, r, 6),
        .created_ms = kpg_int(res, r, 7),
        .last_error = PQgetisnull(res, r, 8) ? NULL : PQgetvalue(res, r, 8),
        .claim = kpg_int(res, r, 9),
    };
    if(claimed)
      (*claimed)++;
    if(cb && cb(ud, &job))
      cb = NULL; /* stop calling; the rest stays claimed */
  }
  PQclear(res);
  return MGCALL_OK;
}

int kstore_pg_hook_finish(struct kstore *st, int64_t job_id, int64_t claim,
                          enum kstore_hook_outcome outcome, int64_t now_ms,
                          int64_t delay_ms, const char *last_error,
                          struct mgc_err *err)
{
  char job[32], tok[32], now[32], delay[32];
  num(job, sizeof(job), job_id);
  num(tok, sizeof(tok), claim);
  num(now, sizeof(now), now_ms);
  num(delay, sizeof(delay), delay_ms > 0 ? delay_ms : 0);
#define FREE_CLAIM " claim = 0, claimed_by = NULL, claim_until = '-infinity'"
  const char *sql, *p[4] = {job, tok, NULL, NULL};
  int n = 2;
  switch(outcome) {
  case KSTORE_HOOK_DELIVERED:
    sql = "UPDATE mgcall_hook_jobs SET state = 'delivered',"
          " done_ms = $2::bigint," FREE_CLAIM
          " WHERE job_id = $1::bigint AND state = 'pending'";
    p[1] = now;
    break;
  case KSTORE_HOOK_RETRY:
    sql = "UPDATE mgcall_hook_jobs SET next_attempt = now() + $3::bigint"
          " * interval '1 millisecond', last_error = coalesce($4, "
          "last_error)," FREE_CLAIM " WHERE job_id = $1::bigint"
          " AND claim = $2::bigint AND state = 'pending'";
    p[2] = delay;
    p[3] = last_error;
    n = 4;
    break;
  case KSTORE_HOOK_GAVE_UP:
    sql = "UPDATE mgcall_hook_jobs SET state = 'failed', done_ms = $3::bigint,"
          " last_error = coalesce($4, last_error)," FREE_CLAIM
          " WHERE job_id = $1::bigint AND claim = $2::bigint"
          " AND state = 'pending'";
    p[2] = now;
    p[3] = last_error;
    n = 4;
    break;
  case KSTORE_HOOK_RELEASED:
    sql = "UPDATE mgcall_hook_jobs SET attempts = greatest(attempts - 1, "
          "0)," FREE_CLAIM " WHERE job_id = $1::bigint AND claim = $2::bigint"
          " AND state = 'pending'";
    break;
  default:
    return mgc__err_set(err, MGCALL_E_USAGE, "store: bad hook outcome");
  }
#undef FREE_CLAIM
  PGresult *res =
      kpg_exec(kstore_pg_conn(st), "finish hook job", sql, n, p, err);
  if(!res)
    return MGCALL_E_INTERNAL;
  long changed = strtol(PQcmdTuples(res), NULL, 10);
  PQclear(res);
  if(!changed)
    return mgc__err_set(err, MGCALL_E_NOT_FOUND,
                        "store: hook job %lld is no longer held by this claim",
                        (long long)job_id);
  return MGCALL_OK;
}

int kstore_pg_hook_pending(struct kstore *st, int64_t *pending,
                           struct mgc_err *err)
{
  *pending = 0;
  PGresult *res =
      kpg_exec(kstore_pg_conn(st), "count hook jobs",
               "SELECT count(*) FROM mgcall_hook_jobs WHERE state = 'pending'",
               0, NULL, err);
  if(!res)
    return MGCALL_E_INTERNAL;
  *pending = kpg_int(res, 0, 0);
  PQclear(res);
  return MGCALL_OK;
}

int kstore_pg_purge(struct kstore *st, int64_t cutoff_ms, size_t limit,
                    size_t *purged, struct mgc_err *err)
{
  char cut[32], lim[32];
  num(cut, sizeof(cut), cutoff_ms);
  num(lim, sizeof(lim), limit > 100000 ? 100000 : (int64_t)limit);
  const char *p[] = {cut, lim};
  if(purged)
    *purged = 0;
  /* every node purges: SKIP LOCKED, so two never wait for each other */
  PGresult *res = kpg_exec(
      kstore_pg_conn(st), "purge",
      "WITH c AS (DELETE FROM mgcall_calls WHERE call_id IN"
      " (SELECT call_id FROM mgcall_calls WHERE state <> 'active'"
      " AND ended_ms < $1::bigint LIMIT $2::bigint FOR UPDATE SKIP LOCKED)"
      " RETURNING 1),"
      " j AS (DELETE FROM mgcall_hook_jobs WHERE job_id IN"
      " (SELECT job_id FROM mgcall_hook_jobs WHERE state <> 'pending'"
      " AND done_ms < $1::bigint LIMIT $2::bigint FOR UPDATE SKIP LOCKED)"
      " RETURNING 1)"
      " SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM j)",
      2, p, err);
  if(!res)
    return MGCALL_E_INTERNAL;
  if(purged)
    *purged = (size_t)kpg_int(res, 0, 0);
  PQclear(res);
  return MGCALL_OK;
}
