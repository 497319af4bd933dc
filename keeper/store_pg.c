/* SPDX-License-Identifier: MIT */
/* store_pg.c - the PostgreSQL store: schema and migrations, fenced batch
 * writes of progress (kept in memory while the database is unreachable and
 * written when it is back), registrations and removals for the owner. */
#include "store_pg.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pending; /* progress not yet written (the database was down) */

struct pg_store {
  struct kstore base;
  struct kpg *pg;
  /* progress rows kept while the database is unreachable: one per call,
   * the latest wins (open addressing on call_id) */
  struct kstore_call *held;
  size_t nheld, capheld;
  /* hook jobs written while it is unreachable, kept likewise */
  struct kstore_hook *hheld;
  size_t nhheld, caphheld;
  int down_logged;
};

/* Progress rows held at most while the database is unreachable. */
#define MAX_HELD 4000000u

/* Every table is prefixed mgcall_ (the database may be shared).  calls:
 * progress columns (term, last_success_ms, next_due_ms, failures,
 * last_error) are in no index, so their updates are HOT (fillfactor leaves
 * room on the page); state changes only when a call ends. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE mgcall_calls ("
    "  call_id text COLLATE \"C\" PRIMARY KEY,"
    "  shard integer NOT NULL,"
    "  term bigint NOT NULL DEFAULT 0,"
    "  claimed boolean NOT NULL DEFAULT false,"
    "  tenant_id text,"
    "  state text NOT NULL DEFAULT 'active',"
    "  reason text,"
    "  last_error text,"
    "  added_ms bigint NOT NULL,"
    "  started_ms bigint NOT NULL DEFAULT 0,"
    "  last_success_ms bigint NOT NULL DEFAULT 0,"
    "  next_due_ms bigint NOT NULL DEFAULT 0,"
    "  ended_ms bigint NOT NULL DEFAULT 0,"
    "  failures integer NOT NULL DEFAULT 0"
    ") WITH (fillfactor = 70);"
    "CREATE INDEX mgcall_calls_live ON mgcall_calls (shard)"
    "  WHERE state = 'active';"
    "CREATE INDEX mgcall_calls_unclaimed ON mgcall_calls (shard)"
    "  WHERE NOT claimed;"
    "CREATE TABLE mgcall_shards ("
    "  shard integer PRIMARY KEY,"
    "  owner text,"
    "  term bigint NOT NULL DEFAULT 0,"
    "  expires_at timestamptz"
    ");"
    "INSERT INTO mgcall_shards (shard) SELECT generate_series(0, 63);"
    "CREATE TABLE mgcall_members ("
    "  node_id text PRIMARY KEY,"
    "  api_url text,"
    "  heartbeat timestamptz NOT NULL,"
    "  started timestamptz NOT NULL DEFAULT now()"
    ");"
    /* the hook outbox (store.h); claims and retries on now() */
    "CREATE TABLE mgcall_hook_jobs ("
    "  job_id bigserial PRIMARY KEY,"
    "  event_id text NOT NULL,"
    "  kind integer NOT NULL,"
    "  call_id text NOT NULL,"
    "  tenant_id text,"
    "  reason text NOT NULL,"
    "  state text NOT NULL DEFAULT 'pending',"
    "  attempts integer NOT NULL DEFAULT 0,"
    "  created_ms bigint NOT NULL,"
    "  next_attempt timestamptz NOT NULL DEFAULT now(),"
    "  claimed_by text,"
    "  claim bigint NOT NULL DEFAULT 0,"
    "  claim_until timestamptz NOT NULL DEFAULT '-infinity',"
    "  last_error text,"
    "  done_ms bigint NOT NULL DEFAULT 0,"
    "  UNIQUE (event_id, kind)"
    ");"
    "CREATE INDEX mgcall_hook_jobs_due ON mgcall_hook_jobs (next_attempt)"
    "  WHERE state = 'pending';"
    "CREATE INDEX mgcall_hook_jobs_done ON mgcall_hook_jobs (done_ms)"
    "  WHERE state <> 'pending';"
    "CREATE INDEX mgcall_calls_ended ON mgcall_calls (ended_ms)"
    "  WHERE state <> 'active';",
    /* 1 -> 2: the jobs of one end, for list_ended (the status page) */
    "CREATE INDEX mgcall_hook_jobs_call ON mgcall_hook_jobs"
    "  (call_id, created_ms);",
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

/* pg_advisory_xact_lock key of the migrations ("mgcallmi"). */
#define MIGRATE_LOCK "7883384209462897001"

#define COLS                                                                   \
  "call_id, tenant_id, state, reason, last_error, added_ms, started_ms,"       \
  " last_success_ms, next_due_ms, ended_ms, failures, term, claimed"

/* The rows a statement updates, locked first in call_id order: every
 * statement that updates several calls (progress, ends, claims; SQL_ADD
 * inserts in id order too, DISTINCT ON) takes its row locks in one global
 * order, so two of them (a keeper's writer and its lease thread, or two
 * keepers around a handover) cannot deadlock.  Without it the order was
 * the join's: bench/fleet.sh saw 16 deadlocks a minute between a keeper's
 * progress writes and its claims during a registration.  LockRows sits
 * above the Sort, so rows are locked in the sorted order; MATERIALIZED
 * keeps the CTE (and its locks) whole. */
#define LOCK_ROWS(ids)                                                         \
  " lk AS MATERIALIZED (SELECT call_id FROM mgcall_calls"                      \
  " WHERE call_id = ANY(" ids "::text[]) ORDER BY call_id FOR UPDATE)"

/* Fenced progress: a row is written only while its shard's term is the
 * row's and the lease has not expired (database clock); last success only
 * grows; an ended call stays ended. */
#define PUT_VALUES                                                             \
  "WITH v AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[],"    \
  " $4::bigint[], $5::int[], $6::text[], $7::text[], $8::text[],"              \
  " $9::bigint[]) AS v(id, term, ls, nd, fl, le, st, rs, em)),"              \
  LOCK_ROWS("$1")
#define PUT_UPDATE                                                             \
  " UPDATE mgcall_calls c SET term = v.term,"                                  \
  " last_success_ms = GREATEST(c.last_success_ms, v.ls),"                      \
  " next_due_ms = v.nd, failures = v.fl, last_error = v.le,"                   \
  " state = CASE WHEN c.state = 'active' THEN v.st ELSE c.state END,"          \
  " reason = CASE WHEN c.state = 'active' THEN v.rs ELSE c.reason END,"        \
  " ended_ms = CASE WHEN c.state = 'active' THEN v.em ELSE c.ended_ms END"     \
  " FROM v, lk, mgcall_shards s"                                               \
  " WHERE c.call_id = v.id AND lk.call_id = v.id AND s.shard = c.shard"        \
  " AND s.term = v.term"                                                       \
  " AND s.expires_at > now()"
static const char SQL_PUT[] = PUT_VALUES PUT_UPDATE;
/* The same and the hook jobs, in one statement: a job is written with its
 * call's end when the fence let the end through, and always for a call
 * whose row is not in the batch (a removal made through another node). */
static const char SQL_PUT_OUTBOX[] = PUT_VALUES
    ", upd AS (" PUT_UPDATE " RETURNING c.call_id),"
    " w AS (INSERT INTO mgcall_hook_jobs (event_id, kind, call_id, tenant_id,"
    " reason, created_ms)"
    " SELECT h.ev, h.kind, h.id, h.tenant, h.reason, h.created"
    " FROM unnest($10::text[], $11::int[], $12::text[], $13::text[],"
    " $14::text[], $15::bigint[]) AS h(ev, kind, id, tenant, reason, created)"
    " WHERE h.id IN (SELECT call_id FROM upd)"
    " OR h.id NOT IN (SELECT id FROM v)"
    " ON CONFLICT (event_id, kind) DO NOTHING RETURNING 1)"
    " SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM w)";

static const char SQL_ADD[] =
    "INSERT INTO mgcall_calls AS c"
    " (call_id, shard, tenant_id, added_ms, started_ms)"
    " SELECT DISTINCT ON (id) id, shard, tenant, added, started"
    " FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[],"
    " $5::bigint[]) AS v(id, shard, tenant, added, started)"
    " ON CONFLICT (call_id) DO UPDATE SET state = 'active', reason = NULL,"
    " ended_ms = 0, claimed = false, tenant_id = EXCLUDED.tenant_id,"
    " added_ms = EXCLUDED.added_ms, started_ms = EXCLUDED.started_ms,"
    " failures = 0, last_error = NULL"
    " WHERE c.state <> 'active'"
    " RETURNING call_id";

static const char SQL_END[] =
    "UPDATE mgcall_calls SET state = 'ended', reason = $2, ended_ms = $3,"
    " claimed = false WHERE call_id = $1 AND state = 'active' RETURNING 1";

unsigned kstore_pg_shard(const char *call_id, unsigned nshards)
{
  uint32_t h = 2166136261u;
  for(const unsigned char *p = (const unsigned char *)call_id; *p; p++) {
    h ^= *p;
    h *= 16777619u;
  }
  return nshards ? h % nshards : 0;
}

/* ---- progress held while the database is down ---- */

static size_t slot_of(const char *id, size_t cap)
{
  return kstore_pg_shard(id, 0xffffffffu) & (cap - 1);
}

static void row_release(struct kstore_call *r)
{
  free((char *)r->call_id);
  free((char *)r->tenant_id);
  free((char *)r->last_error);
  memset(r, 0, sizeof(*r));
}

static int row_copy(struct kstore_call *dst, const struct kstore_call *src)
{
  *dst = *src; /* state and reason are static names */
  dst->call_id = strdup(src->call_id);
  dst->tenant_id = src->tenant_id ? strdup(src->tenant_id) : NULL;
  dst->last_error = src->last_error ? strdup(src->last_error) : NULL;
  if(!dst->call_id || (src->tenant_id && !dst->tenant_id) ||
     (src->last_error && !dst->last_error)) {
    row_release(dst);
    return -1;
  }
  return 0;
}

static int held_grow(struct pg_store *s)
{
  size_t cap = s->capheld ? s->capheld * 2 : 1024;
  struct kstore_call *t = calloc(cap, sizeof(*t));
  if(!t)
    return -1;
  for(size_t i = 0; i < s->capheld; i++) {
    if(!s->held[i].call_id)
      continue;
    size_t j = slot_of(s->held[i].call_id, cap);
    while(t[j].call_id)
      j = (j + 1) & (cap - 1);
    t[j] = s->held[i];
  }
  free(s->held);
  s->held = t;
  s->capheld = cap;
  return 0;
}

/* Keep row r (the latest for its call). */
static int hold(struct pg_store *s, const struct kstore_call *r)
{
  if(s->nheld >= MAX_HELD)
    return -1;
  if((s->nheld + 1) * 2 > s->capheld && held_grow(s))
    return -1;
  size_t j = slot_of(r->call_id, s->capheld);
  while(s->held[j].call_id && strcmp(s->held[j].call_id, r->call_id))
    j = (j + 1) & (s->capheld - 1);
  struct kstore_call copy;
  if(row_copy(&copy, r))
    return -1;
  if(s->held[j].call_id) {
    int64_t ls = s->held[j].last_success_ms;
    row_release(&s->held[j]);
    if(copy.last_success_ms < ls)
      copy.last_success_ms = ls;
  }
  else
    s->nheld++;
  s->held[j] = copy;
  return 0;
}

static void held_clear(struct pg_store *s)
{
  for(size_t i = 0; i < s->capheld; i++)
    if(s->held[i].call_id)
      row_release(&s->held[i]);
  s->nheld = 0;
}

static void hook_release(struct kstore_hook *h)
{
  free((char *)h->event_id);
  free((char *)h->call_id);
  free((char *)h->tenant_id);
  free((char *)h->reason);
  free((char *)h->last_error);
  memset(h, 0, sizeof(*h));
}

/* Keep hook job h until the database answers. */
static int hold_hook(struct pg_store *s, const struct kstore_hook *h)
{
  if(s->nhheld == s->caphheld) {
    size_t cap = s->caphheld ? s->caphheld * 2 : 64;
    if(cap > MAX_HELD)
      return -1;
    struct kstore_hook *t = realloc(s->hheld, cap * sizeof(*t));
    if(!t)
      return -1;
    s->hheld = t;
    s->caphheld = cap;
  }
  struct kstore_hook *d = &s->hheld[s->nhheld];
  *d = *h;
  d->event_id = h->event_id ? strdup(h->event_id) : NULL;
  d->call_id = h->call_id ? strdup(h->call_id) : NULL;
  d->tenant_id = h->tenant_id ? strdup(h->tenant_id) : NULL;
  d->reason = h->reason ? strdup(h->reason) : NULL;
  d->last_error = NULL;
  if(!d->event_id || !d->call_id || !d->reason ||
     (h->tenant_id && !d->tenant_id)) {
    hook_release(d);
    return -1;
  }
  s->nhheld++;
  return 0;
}

static void hheld_clear(struct pg_store *s)
{
  for(size_t i = 0; i < s->nhheld; i++)
    hook_release(&s->hheld[i]);
  s->nhheld = 0;
}

/* ---- the store operations ---- */

static const char *db_state(const char *state)
{
  /* at-risk is computed from the last success; the column says active */
  return state && strcmp(state, "at-risk") ? state : "active";
}

struct put_arrays {
  struct kpg_array id, term, ls, nd, fl, le, st, rs, em;
};

static void arrays_add(struct put_arrays *a, const struct kstore_call *r)
{
  kpg_array_str(&a->id, r->call_id);
  kpg_array_int(&a->term, r->term);
  kpg_array_int(&a->ls, r->last_success_ms);
  kpg_array_int(&a->nd, r->next_due_ms);
  kpg_array_int(&a->fl, r->failures);
  kpg_array_str(&a->le, r->last_error);
  kpg_array_str(&a->st, db_state(r->state));
  kpg_array_str(&a->rs, r->reason);
  kpg_array_int(&a->em, r->ended_ms);
}

struct hook_arrays {
  struct kpg_array ev, kind, id, tenant, reason, created;
};

static void hook_add(struct hook_arrays *a, const struct kstore_hook *h)
{
  kpg_array_str(&a->ev, h->event_id);
  kpg_array_int(&a->kind, h->kind);
  kpg_array_str(&a->id, h->call_id);
  kpg_array_str(&a->tenant, h->tenant_id);
  kpg_array_str(&a->reason, h->reason);
  kpg_array_int(&a->created, h->created_ms);
}

/* Rows of plain progress per statement.  One statement over every dirty
 * row after an adoption (100,000 rows and more) took longer than the
 * store's bound (KSTORE_PG_BOUND_MS) on a busy machine and was cancelled;
 * its rows, held and sent again with the next write, made that one bigger
 * still, and progress went unwritten for minutes (bench/fleet.sh, 300,000
 * calls).  A few thousand rows take a few tens of ms. */
#define PUT_CHUNK 2000

/* One statement: rows, and with hooks (nhooks > 0) the hook jobs in the
 * same statement (SQL_PUT_OUTBOX).  0 or -1 (err set). */
static int put_stmt(struct pg_store *s, const struct kstore_call *const *rows,
                    size_t n, const struct kstore_hook *const *hooks,
                    size_t nhooks, struct mgc_err *err)
{
  struct put_arrays a;
  struct hook_arrays h;
  struct kpg_array *all[] = {
      &a.id, &a.term, &a.ls,   &a.nd, &a.fl,     &a.le,     &a.st,     &a.rs,
      &a.em, &h.ev,   &h.kind, &h.id, &h.tenant, &h.reason, &h.created};
  const size_t narr = sizeof(all) / sizeof(all[0]);
  for(size_t i = 0; i < narr; i++)
    kpg_array_init(all[i]);
  for(size_t i = 0; i < n; i++)
    arrays_add(&a, rows[i]);
  for(size_t i = 0; i < nhooks; i++)
    hook_add(&h, hooks[i]);
  const char *p[15];
  int oom = 0;
  for(size_t i = 0; i < (nhooks ? narr : 9); i++)
    if(!(p[i] = kpg_array_text(all[i])))
      oom = 1;
  int rc = -1;
  if(oom)
    mgc__err_set(err, MGCALL_E_INTERNAL, "store: out of memory");
  else {
    PGresult *res = nhooks ? kpg_exec(s->pg, "write ends and hook jobs",
                                      SQL_PUT_OUTBOX, 15, p, err)
                           : kpg_exec(s->pg, "write progress", SQL_PUT, 9, p,
                                      err);
    if(res) {
      rc = 0;
      PQclear(res);
    }
  }
  for(size_t i = 0; i < narr; i++)
    kpg_array_release(all[i]);
  return rc;
}

/* Write rows, hook jobs and everything held: the ends and the hook jobs in
 * one statement (one transaction: a job is written with its call's end),
 * plain progress in statements of PUT_CHUNK rows.  Returns 0, or -1 (err
 * set) at the first statement that failed; what went before it is written
 * (written again with what is held: progress only grows). */
static int write_all(struct pg_store *s, const struct kstore_call *rows,
                     size_t n, const struct kstore_hook *hooks, size_t nhooks,
                     struct mgc_err *err)
{
  size_t nh = nhooks + s->nhheld, nr = 0, nend = 0;
  const struct kstore_call **v = malloc((s->nheld + n + 1) * sizeof(*v));
  const struct kstore_hook **hv = malloc((nh + 1) * sizeof(*hv));
  if(!v || !hv) {
    free(v);
    free(hv);
    mgc__err_set(err, MGCALL_E_INTERNAL, "store: out of memory");
    return -1;
  }
  for(size_t i = 0; i < s->capheld; i++)
    if(s->held[i].call_id)
      v[nr++] = &s->held[i];
  for(size_t i = 0; i < n; i++)
    if(rows[i].term > 0) /* no term: not ours to write */
      v[nr++] = &rows[i];
  for(size_t i = 0; i < s->nhheld; i++)
    hv[i] = &s->hheld[i];
  for(size_t i = 0; i < nhooks; i++)
    hv[s->nhheld + i] = &hooks[i];
  int rc = 0;
  if(nh) { /* the ends first (to the front of v), with the hook jobs */
    for(size_t i = 0; i < nr; i++)
      if(strcmp(db_state(v[i]->state), "active")) {
        const struct kstore_call *t = v[nend];
        v[nend++] = v[i];
        v[i] = t;
      }
    rc = put_stmt(s, v, nend, hv, nh, err);
  }
  for(size_t i = nend; !rc && i < nr; i += PUT_CHUNK)
    rc = put_stmt(s, v + i, nr - i < PUT_CHUNK ? nr - i : PUT_CHUNK, NULL, 0,
                  err);
  free(v);
  free(hv);
  return rc;
}

/* put and put_outbox: written, or (database unreachable) kept in memory
 * and written with the next write that reaches it. */
static int put_or_hold(struct pg_store *s, const struct kstore_call *rows,
                       size_t n, const struct kstore_hook *hooks, size_t nhooks,
                       struct mgc_err *err)
{
  if(!n && !nhooks && !s->nheld && !s->nhheld)
    return MGCALL_OK;
  if(!write_all(s, rows, n, hooks, nhooks, err)) {
    if(s->down_logged)
      klog(KLOG_INFO, NULL, NULL,
           "store %s: reachable again: %zu held rows of progress and %zu "
           "hook jobs written",
           kpg_where(s->pg), s->nheld, s->nhheld);
    s->down_logged = 0;
    held_clear(s);
    hheld_clear(s);
    return MGCALL_OK;
  }
  if(kpg_up(s->pg)) /* the statement failed, not the connection */
    return MGCALL_E_INTERNAL;
  /* err on the side of sending: keep it all, write it later */
  for(size_t i = 0; i < n; i++)
    if(rows[i].term > 0 && hold(s, &rows[i]))
      return mgc__err_set(err, MGCALL_E_INTERNAL,
                          "store %s: unreachable and %u rows of progress "
                          "already held: some are dropped",
                          kpg_where(s->pg), MAX_HELD);
  for(size_t i = 0; i < nhooks; i++)
    if(hold_hook(s, &hooks[i]))
      return mgc__err_set(err, MGCALL_E_INTERNAL,
                          "store %s: unreachable: cannot hold more hook jobs",
                          kpg_where(s->pg));
  if(!s->down_logged)
    klog(KLOG_ERROR, NULL, NULL, "%s: holding progress in memory", err->msg);
  s->down_logged = 1;
  return MGCALL_OK;
}

static int pg_put(struct kstore *base, const struct kstore_call *rows, size_t n,
                  int durable, struct mgc_err *err)
{
  (void)durable; /* a commit that returned is on disk (synchronous_commit) */
  return put_or_hold((struct pg_store *)base, rows, n, NULL, 0, err);
}

static int pg_put_outbox(struct kstore *base, const struct kstore_call *rows,
                         size_t n, const struct kstore_hook *hooks,
                         size_t nhooks, int durable, struct mgc_err *err)
{
  (void)durable;
  return put_or_hold((struct pg_store *)base, rows, n, hooks, nhooks, err);
}

static void fill_row(const PGresult *res, int r, struct kstore_call *c)
{
  memset(c, 0, sizeof(*c));
  c->call_id = PQgetvalue(res, r, 0);
  c->tenant_id = PQgetisnull(res, r, 1) ? NULL : PQgetvalue(res, r, 1);
  c->state = PQgetvalue(res, r, 2);
  c->reason = PQgetisnull(res, r, 3) ? NULL : PQgetvalue(res, r, 3);
  c->last_error = PQgetisnull(res, r, 4) ? NULL : PQgetvalue(res, r, 4);
  c->added_ms = kpg_int(res, r, 5);
  c->started_ms = kpg_int(res, r, 6);
  c->last_success_ms = kpg_int(res, r, 7);
  c->next_due_ms = kpg_int(res, r, 8);
  c->ended_ms = kpg_int(res, r, 9);
  c->failures = (int)kpg_int(res, r, 10);
  c->term = kpg_int(res, r, 11);
}

static int pg_get(struct kstore *base, const char *call_id, kstore_row_cb cb,
                  void *ud, struct mgc_err *err)
{
  struct pg_store *s = (struct pg_store *)base;
  const char *p[] = {call_id};
  PGresult *res = kpg_exec(s->pg, "read a call",
                           "SELECT " COLS " FROM mgcall_calls"
                           " WHERE call_id = $1",
                           1, p, err);
  if(!res)
    return MGCALL_E_INTERNAL;
  int rc = MGCALL_E_NOT_FOUND;
  if(PQntuples(res) > 0) {
    struct kstore_call row;
    fill_row(res, 0, &row);
    cb(ud, &row);
    rc = MGCALL_OK;
  }
  PQclear(res);
  return rc;
}

/* GET /calls: one page of the whole fleet's calls, in call-id order (the
 * column's collation is "C": byte-wise, as SQLite's).  The state is the
 * one in the table: a call at risk on its owner is 'active' here (the API
 * shows live fields for the calls this node holds). */
static int pg_page(struct kstore *base, unsigned states, const char *after,
                   size_t limit, kstore_row_cb cb, void *ud, int *more,
                   struct mgc_err *err)
{
  struct pg_store *s = (struct pg_store *)base;
  char st[16], lim[32];
  if(!limit)
    limit = 1;
  snprintf(st, sizeof(st), "%u", states & 15u);
  /* one more than asked: tells whether a next page exists */
  snprintf(lim, sizeof(lim), "%zu", limit + 1);
  const char *p[] = {after ? after : "", st, lim};
  PGresult *res =
      kpg_exec(s->pg, "list calls",
               "SELECT " COLS " FROM mgcall_calls WHERE call_id > $1 AND"
               " ($2::int = 0 OR ($2::int & CASE state WHEN 'active' THEN 1"
               " WHEN 'at-risk' THEN 2 WHEN 'ended' THEN 4 WHEN 'lost' THEN 8"
               " ELSE 0 END) != 0) ORDER BY call_id LIMIT $3::bigint",
               3, p, err);
  if(!res)
    return MGCALL_E_INTERNAL;
  int n = PQntuples(res);
  if(more)
    *more = (size_t)n > limit;
  for(int r = 0; r < n && (size_t)r < limit; r++) {
    struct kstore_call row;
    fill_row(res, r, &row);
    if(cb(ud, &row))
      break;
  }
  PQclear(res);
  return MGCALL_OK;
}

/* The status page: the calls that ended last (the partial index
 * mgcall_calls_ended, read backwards), each with the outcome of its end's
 * hook jobs (mgcall_hook_jobs_call); the columns as SQLite's list_ended
 * gives them. */
static const char SQL_ENDED[] =
    "SELECT " COLS ", j.hook, j.hook_attempts, j.hook_error"
    " FROM (SELECT * FROM mgcall_calls WHERE state <> 'active'"
    " ORDER BY ended_ms DESC LIMIT $1::bigint) c"
    " CROSS JOIN LATERAL (SELECT CASE WHEN count(*) = 0 THEN NULL"
    " WHEN bool_or(h.state = 'failed') THEN 'failed'"
    " WHEN bool_or(h.state = 'pending') THEN 'pending'"
    " ELSE 'delivered' END AS hook,"
    " coalesce(max(h.attempts), 0) AS hook_attempts,"
    " (array_agg(h.last_error ORDER BY h.job_id DESC) FILTER"
    " (WHERE h.state <> 'delivered' AND h.last_error IS NOT NULL))[1]"
    " AS hook_error"
    " FROM mgcall_hook_jobs h WHERE h.call_id = c.call_id"
    " AND h.created_ms = c.ended_ms) j"
    " ORDER BY c.ended_ms DESC";

static int pg_list_ended(struct kstore *base, size_t limit, kstore_ended_cb cb,
                         void *ud, struct mgc_err *err)
{
  struct pg_store *s = (struct pg_store *)base;
  char lim[32];
  snprintf(lim, sizeof(lim), "%zu", limit > INT32_MAX ? INT32_MAX : limit);
  const char *p[] = {lim};
  PGresult *res = kpg_exec(s->pg, "list ended calls", SQL_ENDED, 1, p, err);
  if(!res)
    return MGCALL_E_INTERNAL;
  for(int r = 0; r < PQntuples(res); r++) {
    struct kstore_ended e = {
        .hook = PQgetisnull(res, r, 13) ? NULL : PQgetvalue(res, r, 13),
        .hook_attempts = (int)kpg_int(res, r, 14),
        .hook_error = PQgetisnull(res, r, 15) ? NULL : PQgetvalue(res, r, 15),
    };
    fill_row(res, r, &e.call);
    if(cb(ud, &e))
      break;
  }
  PQclear(res);
  return MGCALL_OK;
}

static int pg_load_active(struct kstore *base, kstore_row_cb cb, void *ud,
                          struct mgc_err *err)
{
  /* in a fleet a keeper loads the calls of the shards it takes (lease.c) */
  (void)base;
  (void)cb;
  (void)ud;
  (void)err;
  return MGCALL_OK;
}

static int pg_fleet_add(struct kstore *base, const struct kstore_call *rows,
                        size_t n, int *created, struct mgc_err *err)
{
  struct pg_store *s = (struct pg_store *)base;
  struct kpg_array id, shard, tenant, added, started;
  struct kpg_array *all[] = {&id, &shard, &tenant, &added, &started};
  for(size_t i = 0; i < 5; i++)
    kpg_array_init(all[i]);
  for(size_t i = 0; i < n; i++) {
    kpg_array_str(&id, rows[i].call_id);
    kpg_array_int(&shard, kstore_pg_shard(rows[i].call_id, KSTORE_PG_SHARDS));
    kpg_array_str(&tenant, rows[i].tenant_id);
    kpg_array_int(&added, rows[i].added_ms);
    kpg_array_int(&started, rows[i].started_ms);
    if(created)
      created[i] = 0;
  }
  const char *p[5];
  int rc = MGCALL_OK;
  for(size_t i = 0; i < 5; i++)
    if(!(p[i] = kpg_array_text(all[i])))
      rc = mgc__err_set(err, MGCALL_E_INTERNAL, "store: out of memory");
  PGresult *res = NULL;
  if(!rc && !(res = kpg_exec(s->pg, "register", SQL_ADD, 5, p, err)))
    rc = MGCALL_E_INTERNAL;
  if(res) {
    for(int r = 0; created && r < PQntuples(res); r++)
      for(size_t i = 0; i < n; i++)
        if(!strcmp(PQgetvalue(res, r, 0), rows[i].call_id)) {
          created[i] = 1;
          break;
        }
    PQclear(res);
  }
  for(size_t i = 0; i < 5; i++)
    kpg_array_release(all[i]);
  return rc;
}

static int pg_fleet_end(struct kstore *base, const char *call_id,
                        const char *reason, int64_t ended_ms, int *was_live,
                        struct mgc_err *err)
{
  struct pg_store *s = (struct pg_store *)base;
  char ms[32];
  snprintf(ms, sizeof(ms), "%lld", (long long)ended_ms);
  const char *p[] = {call_id, reason, ms};
  PGresult *res = kpg_exec(s->pg, "end a call", SQL_END, 3, p, err);
  if(!res)
    return MGCALL_E_INTERNAL;
  int live = PQntuples(res) > 0;
  PQclear(res);
  if(was_live)
    *was_live = live;
  if(live)
    return MGCALL_OK;
  res = kpg_exec(s->pg, "read a call",
                 "SELECT 1 FROM mgcall_calls WHERE call_id = $1", 1, p, err);
  if(!res)
    return MGCALL_E_INTERNAL;
  int known = PQntuples(res) > 0;
  PQclear(res);
  return known ? MGCALL_OK
               : mgc__err_set(err, MGCALL_E_NOT_FOUND,
                              "call '%s' is not tracked", call_id);
}

static void pg_close(struct kstore *base)
{
  struct pg_store *s = (struct pg_store *)base;
  if(s->nheld || s->nhheld) {
    struct mgc_err err = {0};
    if(write_all(s, NULL, 0, NULL, 0, &err))
      klog(KLOG_ERROR, NULL, NULL,
           "%s (%zu held rows of progress and %zu hook jobs lost)", err.msg,
           s->nheld, s->nhheld);
  }
  held_clear(s);
  hheld_clear(s);
  free(s->held);
  free(s->hheld);
  kpg_free(s->pg);
  free(s);
}

struct kpg *kstore_pg_conn(struct kstore *st)
{
  return ((struct pg_store *)st)->pg;
}

static const struct kstore_ops pg_ops = {
    .name = "postgresql",
    .put = pg_put,
    .get = pg_get,
    .load_active = pg_load_active,
    .list_page = pg_page,
    .list_ended = pg_list_ended,
    .put_outbox = pg_put_outbox,
    .claim_hooks = kstore_pg_claim_hooks,
    .hook_finish = kstore_pg_hook_finish,
    .hook_pending = kstore_pg_hook_pending,
    .purge = kstore_pg_purge,
    .close = pg_close,
    .fleet_add = pg_fleet_add,
    .fleet_end = pg_fleet_end,
};

/* Bring the schema up to date, once, under the advisory lock. */
static int migrate(struct pg_store *s, struct mgc_err *err)
{
  if(kpg_run(s->pg, "migrate",
             "BEGIN; SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ");"
             " CREATE TABLE IF NOT EXISTS mgcall_schema"
             " (version integer NOT NULL)",
             0, NULL, err))
    return MGCALL_E_INTERNAL;
  PGresult *res = kpg_exec(
      s->pg, "migrate", "SELECT coalesce(max(version), 0) FROM mgcall_schema",
      0, NULL, err);
  int version = res ? (int)kpg_int(res, 0, 0) : -1;
  PQclear(res);
  int rc = MGCALL_OK;
  if(version < 0)
    rc = MGCALL_E_INTERNAL;
  else if(version > (int)NMIGRATIONS)
    rc = mgc__err_set(err, MGCALL_E_INTERNAL,
                      "store %s: schema version %d is newer than this "
                      "mgcall knows (%d): upgrade mgcall",
                      kpg_where(s->pg), version, (int)NMIGRATIONS);
  for(int v = version; !rc && v < (int)NMIGRATIONS; v++) {
    char sql[96];
    snprintf(sql, sizeof(sql),
             "DELETE FROM mgcall_schema; INSERT INTO mgcall_schema"
             " VALUES (%d)",
             v + 1);
    if(kpg_run(s->pg, "migrate", migrations[v], 0, NULL, err) ||
       kpg_run(s->pg, "migrate", sql, 0, NULL, err))
      rc = MGCALL_E_INTERNAL;
    else
      klog(KLOG_INFO, NULL, NULL, "store %s: schema version %d",
           kpg_where(s->pg), v + 1);
  }
  struct mgc_err end = {0};
  if(kpg_run(s->pg, "migrate", rc ? "ROLLBACK" : "COMMIT", 0, NULL, &end) &&
     !rc)
    rc = mgc__err_set(err, MGCALL_E_INTERNAL, "%s", end.msg);
  return rc;
}

int kstore_pg_open(const char *url, struct kstore **out, struct mgc_err *err)
{
  *out = NULL;
  struct pg_store *s = calloc(1, sizeof(*s));
  if(!s)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "store: out of memory");
  s->base.ops = &pg_ops;
  int rc = kpg_open(url, "mgcall-keeper", &s->pg, err);
  if(!rc)
    rc = migrate(s, err);
  kpg_set_bound(s->pg, KSTORE_PG_BOUND_MS);
  if(rc) {
    pg_close(&s->base);
    return rc;
  }
  *out = &s->base;
  return MGCALL_OK;
}

/* ---- for the lease manager ---- */

static int int_list(struct kpg_array *a, const int *v, size_t n)
{
  kpg_array_init(a);
  for(size_t i = 0; i < n; i++)
    kpg_array_int(a, v[i]);
  return kpg_array_text(a) ? 0 : -1;
}

int kstore_pg_load(struct kpg *pg, const int *shards, size_t n, int all,
                   kstore_pg_row_cb cb, void *ud, struct mgc_err *err)
{
  struct kpg_array a;
  if(int_list(&a, shards, n)) {
    kpg_array_release(&a);
    return mgc__err_set(err, MGCALL_E_INTERNAL, "store: out of memory");
  }
  const char *p[] = {a.buf};
  PGresult *res = kpg_exec(
      pg, "load calls",
      all ? "SELECT " COLS " FROM mgcall_calls WHERE shard = ANY($1::int[])"
            " AND state = 'active' UNION ALL SELECT " COLS
            " FROM mgcall_calls WHERE shard = ANY($1::int[])"
            " AND NOT claimed AND state <> 'active'"
          : "SELECT " COLS " FROM mgcall_calls WHERE shard = ANY($1::int[])"
            " AND NOT claimed",
      1, p, err);
  kpg_array_release(&a);
  if(!res)
    return MGCALL_E_INTERNAL;
  for(int r = 0; r < PQntuples(res); r++) {
    struct kstore_call row;
    fill_row(res, r, &row);
    if(cb(ud, &row, PQgetvalue(res, r, 12)[0] == 't'))
      break;
  }
  PQclear(res);
  return MGCALL_OK;
}

int kstore_pg_claim(struct kpg *pg, const char *const *ids,
                    const char *const *states, const int64_t *terms, size_t n,
                    struct mgc_err *err)
{
  if(!n)
    return MGCALL_OK;
  struct kpg_array a, b, c;
  kpg_array_init(&a);
  kpg_array_init(&b);
  kpg_array_init(&c);
  for(size_t i = 0; i < n; i++) {
    kpg_array_str(&a, ids[i]);
    kpg_array_str(&b, states[i]);
    kpg_array_int(&c, terms[i]);
  }
  const char *p[] = {kpg_array_text(&a), kpg_array_text(&b),
                     kpg_array_text(&c)};
  int rc;
  if(!p[0] || !p[1] || !p[2])
    rc = mgc__err_set(err, MGCALL_E_INTERNAL, "store: out of memory");
  else
    rc = kpg_run(pg, "claim calls",
                 "WITH" LOCK_ROWS("$1")
                 " UPDATE mgcall_calls c SET claimed = true, term = v.term"
                 " FROM unnest($1::text[], $2::text[], $3::bigint[])"
                 " AS v(id, st, term), lk, mgcall_shards s"
                 " WHERE c.call_id = v.id AND lk.call_id = v.id"
                 " AND c.state = v.st"
                 " AND s.shard = c.shard AND s.term = v.term"
                 " AND s.expires_at > now()",
                 3, p, err);
  kpg_array_release(&a);
  kpg_array_release(&b);
  kpg_array_release(&c);
  return rc;
}
