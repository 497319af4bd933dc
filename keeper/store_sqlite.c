/* SPDX-License-Identifier: MIT */
/* store_sqlite.c - the embedded store: one SQLite file in WAL mode with
 * synchronous=FULL, so a transaction that returned is on disk.  The schema
 * version is PRAGMA user_version; migrations[i] takes version i to i + 1. */
#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct sqlite_store {
  struct kstore base;
  sqlite3 *db;
  char *path;
  sqlite3_stmt *put, *get, *load, *page;
};

static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE calls ("
    "  call_id TEXT PRIMARY KEY,"
    "  tenant_id TEXT,"
    "  state TEXT NOT NULL DEFAULT 'active',"
    "  reason TEXT,"
    "  last_error TEXT,"
    "  added_ms INTEGER NOT NULL,"
    "  started_ms INTEGER NOT NULL DEFAULT 0,"
    "  last_success_ms INTEGER NOT NULL DEFAULT 0,"
    "  next_due_ms INTEGER NOT NULL DEFAULT 0,"
    "  ended_ms INTEGER NOT NULL DEFAULT 0,"
    "  failures INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE INDEX calls_live ON calls(state) "
    "  WHERE state IN ('active','at-risk');",
    /* 1 -> 2: the hook outbox, and an index for retention */
    "CREATE TABLE hook_jobs ("
    "  job_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  event_id TEXT NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  call_id TEXT NOT NULL,"
    "  tenant_id TEXT,"
    "  reason TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'pending'," /* pending|delivered|failed */
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  created_ms INTEGER NOT NULL,"
    "  next_attempt_ms INTEGER NOT NULL,"
    "  claimed_by TEXT,"
    "  claim INTEGER NOT NULL DEFAULT 0,"
    "  claim_until_ms INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT,"
    "  done_ms INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE(event_id, kind)"
    ");"
    "CREATE INDEX hook_jobs_due ON hook_jobs(next_attempt_ms) "
    "  WHERE state = 'pending';"
    "CREATE INDEX hook_jobs_done ON hook_jobs(done_ms) "
    "  WHERE state <> 'pending';"
    "CREATE INDEX calls_ended ON calls(ended_ms) "
    "  WHERE state IN ('ended','lost');",
    /* 2 -> 3: the hook jobs of a call's end (the status page) */
    "CREATE INDEX hook_jobs_call ON hook_jobs(call_id, created_ms);",
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

static const char SQL_PUT[] =
    "INSERT INTO calls (call_id, tenant_id, state, reason, last_error,"
    " added_ms, started_ms, last_success_ms, next_due_ms, ended_ms, failures)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    " ON CONFLICT(call_id) DO UPDATE SET tenant_id = ?2, state = ?3,"
    " reason = ?4, last_error = ?5, added_ms = ?6, started_ms = ?7,"
    " last_success_ms = ?8, next_due_ms = ?9, ended_ms = ?10, failures = ?11";
#define COLS                                                                   \
  "call_id, tenant_id, state, reason, last_error, added_ms, started_ms,"       \
  " last_success_ms, next_due_ms, ended_ms, failures"
static const char SQL_GET[] = "SELECT " COLS " FROM calls WHERE call_id = ?1";
static const char SQL_LOAD[] = "SELECT " COLS " FROM calls"
                               " WHERE state IN ('active','at-risk')";

/* ?2: a set of KSTORE_STATE_* bits, 0 = any; ?3: limit */
static const char SQL_PAGE[] =
    "SELECT " COLS " FROM calls WHERE call_id > ?1 AND (?2 = 0 OR"
    " (?2 & CASE state WHEN 'active' THEN 1 WHEN 'at-risk' THEN 2"
    " WHEN 'ended' THEN 4 WHEN 'lost' THEN 8 ELSE 0 END) != 0)"
    " ORDER BY call_id LIMIT ?3";

static int db_err(struct sqlite_store *s, struct mgc_err *err, const char *what)
{
  return mgc__err_set(err, MGCALL_E_INTERNAL, "store sqlite:%s: %s: %s",
                      s->path, what, sqlite3_errmsg(s->db));
}

static int exec(struct sqlite_store *s, const char *sql, struct mgc_err *err,
                const char *what)
{
  char *msg = NULL;
  if(sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    mgc__err_set(err, MGCALL_E_INTERNAL, "store sqlite:%s: %s: %s", s->path,
                 what, msg ? msg : sqlite3_errmsg(s->db));
    sqlite3_free(msg);
    return MGCALL_E_INTERNAL;
  }
  return MGCALL_OK;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
  if(v)
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

/* Begin a write transaction; durable: synced at commit. */
static int begin(struct sqlite_store *s, int durable, struct mgc_err *err)
{
  /* WAL: FULL syncs the log at every commit; NORMAL only at checkpoints
   * (a crash of the process loses nothing, a power loss the last commits) */
  if(exec(s, durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
          err, "synchronous"))
    return MGCALL_E_INTERNAL;
  return exec(s, "BEGIN IMMEDIATE", err, "begin");
}

static int commit(struct sqlite_store *s, struct mgc_err *err)
{
  if(exec(s, "COMMIT", err, "commit")) {
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return MGCALL_E_INTERNAL;
  }
  return MGCALL_OK;
}

static int rollback(struct sqlite_store *s)
{
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return MGCALL_E_INTERNAL;
}

/* Upsert n rows inside the caller's transaction. */
static int put_rows(struct sqlite_store *s, const struct kstore_call *rows,
                    size_t n, struct mgc_err *err)
{
  for(size_t i = 0; i < n; i++) {
    const struct kstore_call *r = &rows[i];
    sqlite3_stmt *st = s->put;
    sqlite3_reset(st);
    bind_text(st, 1, r->call_id);
    bind_text(st, 2, r->tenant_id);
    bind_text(st, 3, r->state ? r->state : "active");
    bind_text(st, 4, r->reason);
    bind_text(st, 5, r->last_error);
    sqlite3_bind_int64(st, 6, r->added_ms);
    sqlite3_bind_int64(st, 7, r->started_ms);
    sqlite3_bind_int64(st, 8, r->last_success_ms);
    sqlite3_bind_int64(st, 9, r->next_due_ms);
    sqlite3_bind_int64(st, 10, r->ended_ms);
    sqlite3_bind_int(st, 11, r->failures);
    if(sqlite3_step(st) != SQLITE_DONE) {
      db_err(s, err, "write");
      sqlite3_reset(st);
      return MGCALL_E_INTERNAL;
    }
  }
  sqlite3_reset(s->put);
  sqlite3_clear_bindings(s->put);
  return MGCALL_OK;
}

static int sq_put(struct kstore *base, const struct kstore_call *rows, size_t n,
                  int durable, struct mgc_err *err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  if(!n)
    return MGCALL_OK;
  if(begin(s, durable, err))
    return MGCALL_E_INTERNAL;
  if(put_rows(s, rows, n, err))
    return rollback(s);
  return commit(s, err);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
  return (const char *)sqlite3_column_text(st, i);
}

/* The COLS of the current row (strings valid until the next step). */
static struct kstore_call col_call(sqlite3_stmt *st)
{
  return (struct kstore_call){
      .call_id = col_text(st, 0),
      .tenant_id = col_text(st, 1),
      .state = col_text(st, 2),
      .reason = col_text(st, 3),
      .last_error = col_text(st, 4),
      .added_ms = sqlite3_column_int64(st, 5),
      .started_ms = sqlite3_column_int64(st, 6),
      .last_success_ms = sqlite3_column_int64(st, 7),
      .next_due_ms = sqlite3_column_int64(st, 8),
      .ended_ms = sqlite3_column_int64(st, 9),
      .failures = sqlite3_column_int(st, 10),
  };
}

static int each_row(struct sqlite_store *s, sqlite3_stmt *st, kstore_row_cb cb,
                    void *ud, size_t *count, struct mgc_err *err)
{
  int rc;
  *count = 0;
  while((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct kstore_call r = col_call(st);
    if(!r.call_id)
      continue;
    (*count)++;
    if(cb(ud, &r))
      break;
  }
  if(rc != SQLITE_ROW && rc != SQLITE_DONE) {
    db_err(s, err, "read");
    sqlite3_reset(st);
    return MGCALL_E_INTERNAL;
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return MGCALL_OK;
}

static int sq_get(struct kstore *base, const char *call_id, kstore_row_cb cb,
                  void *ud, struct mgc_err *err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  size_t n;
  sqlite3_bind_text(s->get, 1, call_id, -1, SQLITE_STATIC);
  int rc = each_row(s, s->get, cb, ud, &n, err);
  if(rc)
    return rc;
  return n ? MGCALL_OK : MGCALL_E_NOT_FOUND;
}

static int sq_load(struct kstore *base, kstore_row_cb cb, void *ud,
                   struct mgc_err *err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  size_t n;
  return each_row(s, s->load, cb, ud, &n, err);
}

/* Stops after limit rows; notes that one more exists. */
struct page_ctx {
  kstore_row_cb cb;
  void *ud;
  size_t limit, given;
  int more, stopped;
};

static int page_row(void *ud, const struct kstore_call *r)
{
  struct page_ctx *p = ud;
  if(p->given == p->limit) {
    p->more = 1;
    return 1;
  }
  p->given++;
  if(p->cb(p->ud, r)) {
    p->stopped = 1;
    return 1;
  }
  return 0;
}

static int sq_page(struct kstore *base, unsigned states, const char *after,
                   size_t limit, kstore_row_cb cb, void *ud, int *more,
                   struct mgc_err *err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  struct page_ctx p = {cb, ud, limit ? limit : 1, 0, 0, 0};
  size_t n;
  sqlite3_bind_text(s->page, 1, after ? after : "", -1, SQLITE_STATIC);
  sqlite3_bind_int(s->page, 2, (int)(states & 15u));
  /* one more than asked: tells whether a next page exists */
  sqlite3_bind_int64(
      s->page, 3,
      (sqlite3_int64)(p.limit < INT32_MAX ? p.limit + 1 : INT32_MAX));
  int rc = each_row(s, s->page, page_row, &p, &n, err);
  if(more)
    *more = p.more;
  return rc;
}

/* The calls that ended last (calls_ended), each with its end's hook jobs
 * (hook_jobs_call): ?1 = limit. */
#define JOBS_OF_END                                                            \
  " FROM hook_jobs h WHERE h.call_id = c.call_id AND h.created_ms = "          \
  "c.ended_ms"
static const char SQL_ENDED[] =
    "SELECT " COLS ","
    " (SELECT CASE WHEN count(*) = 0 THEN NULL"
    "   WHEN sum(h.state = 'failed') > 0 THEN 'failed'"
    "   WHEN sum(h.state = 'pending') > 0 THEN 'pending'"
    "   ELSE 'delivered' END" JOBS_OF_END "),"
    " (SELECT max(h.attempts)" JOBS_OF_END "),"
    " (SELECT h.last_error" JOBS_OF_END " AND h.state <> 'delivered'"
    "   AND h.last_error IS NOT NULL ORDER BY h.job_id DESC LIMIT 1)"
    " FROM calls c WHERE c.state IN ('ended','lost')"
    " ORDER BY c.ended_ms DESC LIMIT ?1";

static int prepare(struct sqlite_store *s, const char *sql, sqlite3_stmt **st,
                   struct mgc_err *err);

static int sq_list_ended(struct kstore *base, size_t limit, kstore_ended_cb cb,
                         void *ud, struct mgc_err *err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st;
  if(prepare(s, SQL_ENDED, &st, err))
    return MGCALL_E_INTERNAL;
  sqlite3_bind_int64(st, 1, limit > INT32_MAX ? INT32_MAX : (int64_t)limit);
  int rc;
  while((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct kstore_ended r = {
        .call = col_call(st),
        .hook = col_text(st, 11),
        .hook_attempts = sqlite3_column_int(st, 12),
        .hook_error = col_text(st, 13),
    };
    if(r.call.call_id && cb(ud, &r))
      break;
  }
  int ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
  if(!ok)
    db_err(s, err, "read");
  sqlite3_finalize(st);
  return ok ? MGCALL_OK : MGCALL_E_INTERNAL;
}

/* ---- the hook outbox ---- */

static int prepare(struct sqlite_store *s, const char *sql, sqlite3_stmt **st,
                   struct mgc_err *err)
{
  if(sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
    return db_err(s, err, "prepare");
  return MGCALL_OK;
}

/* Step a statement that returns no row; MGCALL_OK or an error (finalised
 * either way). */
static int run_once(struct sqlite_store *s, sqlite3_stmt *st,
                    struct mgc_err *err, const char *what)
{
  int rc = sqlite3_step(st) == SQLITE_DONE ? MGCALL_OK : db_err(s, err, what);
  sqlite3_finalize(st);
  return rc;
}

static const char SQL_HOOK_ADD[] =
    "INSERT INTO hook_jobs (event_id, kind, call_id, tenant_id,"
    " reason, created_ms, next_attempt_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
    " ON CONFLICT(event_id, kind) DO NOTHING";

static int sq_put_outbox(struct kstore *base, const struct kstore_call *rows,
                         size_t n, const struct kstore_hook *hooks,
                         size_t nhooks, int durable, struct mgc_err *err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  if(!n && !nhooks)
    return MGCALL_OK;
  sqlite3_stmt *st;
  if(prepare(s, SQL_HOOK_ADD, &st, err))
    return MGCALL_E_INTERNAL;
  if(begin(s, durable, err)) {
    sqlite3_finalize(st);
    return MGCALL_E_INTERNAL;
  }
  if(put_rows(s, rows, n, err)) {
    sqlite3_finalize(st);
    return rollback(s);
  }
  for(size_t i = 0; i < nhooks; i++) {
    const struct kstore_hook *h = &hooks[i];
    sqlite3_reset(st);
    bind_text(st, 1, h->event_id);
    sqlite3_bind_int(st, 2, h->kind);
    bind_text(st, 3, h->call_id);
    bind_text(st, 4, h->tenant_id);
    bind_text(st, 5, h->reason);
    sqlite3_bind_int64(st, 6, h->created_ms);
    if(sqlite3_step(st) != SQLITE_DONE) {
      db_err(s, err, "write hook job");
      sqlite3_finalize(st);
      return rollback(s);
    }
  }
  sqlite3_finalize(st);
  return commit(s, err);
}

static const char SQL_HOOK_CLAIM[] =
    "UPDATE hook_jobs SET claim = ?1, claimed_by = ?2, claim_until_ms = ?3,"
    " attempts = attempts + 1"
    " WHERE job_id IN (SELECT job_id FROM hook_jobs"
    "  WHERE state = 'pending' AND next_attempt_ms <= ?4"
    "  AND claim_until_ms <= ?4 AND (kind & ?5) <> 0"
    "  ORDER BY next_attempt_ms, job_id LIMIT ?6)"
    " RETURNING job_id, event_id, call_id, tenant_id, reason, kind, attempts,"
    " created_ms, last_error, claim";

static int sq_claim_hooks(struct kstore *base, const char *node, int kinds,
                          int64_t now_ms, int64_t lease_ms, size_t max,
                          kstore_hook_cb cb, void *ud, size_t *claimed,
                          struct mgc_err *err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  if(claimed)
    *claimed = 0;
  if(!max)
    return MGCALL_OK;
  int64_t token = 0;
  while(token <= 0) { /* a fresh token per claim: fences late finishes */
    sqlite3_randomness(sizeof(token), &token);
    token &= INT64_MAX;
  }
  sqlite3_stmt *st;
  if(prepare(s, SQL_HOOK_CLAIM, &st, err))
    return MGCALL_E_INTERNAL;
  sqlite3_bind_int64(st, 1, token);
  bind_text(st, 2, node);
  sqlite3_bind_int64(st, 3, now_ms + lease_ms);
  sqlite3_bind_int64(st, 4, now_ms);
  sqlite3_bind_int(st, 5, kinds);
  sqlite3_bind_int64(st, 6, max > INT32_MAX ? INT32_MAX : (int64_t)max);
  if(begin(s, 1, err)) {
    sqlite3_finalize(st);
    return MGCALL_E_INTERNAL;
  }
  /* the rows are handed over after COMMIT: copy them first */
  struct kstore_hook *got = NULL;
  char **strs = NULL;
  size_t n = 0, cap = 0;
  int rc, failed = 0;
  while((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if(n == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      struct kstore_hook *g = realloc(got, ncap * sizeof(*g));
      char **t = g ? realloc(strs, ncap * 5 * sizeof(*t)) : NULL;
      if(g)
        got = g;
      if(t)
        strs = t;
      if(!g || !t) {
        failed = 1;
        break;
      }
      cap = ncap;
    }
    char **str = &strs[n * 5];
    for(int i = 0; i < 5; i++) {
      static const int col[5] = {1, 2, 3, 4, 8};
      const char *v = col_text(st, col[i]);
      str[i] = v ? strdup(v) : NULL;
      if(v && !str[i])
        failed = 1;
    }
    got[n] = (struct kstore_hook){
        .job_id = sqlite3_column_int64(st, 0),
        .event_id = str[0],
        .call_id = str[1],
        .tenant_id = str[2],
        .reason = str[3],
        .kind = sqlite3_column_int(st, 5),
        .attempts = sqlite3_column_int(st, 6),
        .created_ms = sqlite3_column_int64(st, 7),
        .last_error = str[4],
        .claim = sqlite3_column_int64(st, 9),
    };
    n++;
    if(failed)
      break;
  }
  if(!failed && rc != SQLITE_DONE)
    db_err(s, err, "claim hook jobs");
  else if(failed)
    mgc__err_set(err, MGCALL_E_INTERNAL, "store: out of memory");
  sqlite3_finalize(st);
  int ret = failed || rc != SQLITE_DONE ? rollback(s) : commit(s, err);
  for(size_t i = 0; !ret && i < n; i++) {
    if(claimed)
      (*claimed)++;
    if(cb && cb(ud, &got[i]))
      cb = NULL; /* stop calling; the rest stays claimed */
  }
  for(size_t i = 0; i < n * 5; i++)
    free(strs[i]);
  free(strs);
  free(got);
  return ret;
}

static int sq_hook_finish(struct kstore *base, int64_t job_id, int64_t claim,
                          enum kstore_hook_outcome outcome, int64_t now_ms,
                          int64_t delay_ms, const char *last_error,
                          struct mgc_err *err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  static const char *const sql[] = {
      [KSTORE_HOOK_DELIVERED] =
          "UPDATE hook_jobs SET state = 'delivered', done_ms = ?3,"
          " claim = 0, claimed_by = NULL, claim_until_ms = 0"
          " WHERE job_id = ?1 AND state = 'pending'",
      [KSTORE_HOOK_RETRY] =
          "UPDATE hook_jobs SET next_attempt_ms = ?3 + ?4,"
          " last_error = coalesce(?5, last_error),"
          " claim = 0, claimed_by = NULL, claim_until_ms = 0"
          " WHERE job_id = ?1 AND claim = ?2 AND state = 'pending'",
      [KSTORE_HOOK_GAVE_UP] =
          "UPDATE hook_jobs SET state = 'failed', done_ms = ?3,"
          " last_error = coalesce(?5, last_error),"
          " claim = 0, claimed_by = NULL, claim_until_ms = 0"
          " WHERE job_id = ?1 AND claim = ?2 AND state = 'pending'",
      [KSTORE_HOOK_RELEASED] =
          "UPDATE hook_jobs SET attempts = max(attempts - 1, 0),"
          " claim = 0, claimed_by = NULL, claim_until_ms = 0"
          " WHERE job_id = ?1 AND claim = ?2 AND state = 'pending'",
  };
  if((unsigned)outcome > KSTORE_HOOK_RELEASED)
    return mgc__err_set(err, MGCALL_E_USAGE, "store: bad hook outcome");
  sqlite3_stmt *st;
  if(prepare(s, sql[outcome], &st, err))
    return MGCALL_E_INTERNAL;
  sqlite3_bind_int64(st, 1, job_id);
  sqlite3_bind_int64(st, 2, claim);
  sqlite3_bind_int64(st, 3, now_ms);
  /* parameters a statement does not use are refused (SQLITE_RANGE) */
  sqlite3_bind_int64(st, 4, delay_ms > 0 ? delay_ms : 0);
  bind_text(st, 5, last_error);
  if(exec(s, "PRAGMA synchronous=FULL", err, "synchronous")) {
    sqlite3_finalize(st);
    return MGCALL_E_INTERNAL;
  }
  if(run_once(s, st, err, "finish hook job"))
    return MGCALL_E_INTERNAL;
  if(!sqlite3_changes(s->db))
    return mgc__err_set(err, MGCALL_E_NOT_FOUND,
                        "store: hook job %lld is no longer held by this claim",
                        (long long)job_id);
  return MGCALL_OK;
}

static int sq_hook_pending(struct kstore *base, int64_t *pending,
                           struct mgc_err *err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_stmt *st;
  *pending = 0;
  if(prepare(s, "SELECT count(*) FROM hook_jobs WHERE state = 'pending'", &st,
             err))
    return MGCALL_E_INTERNAL;
  int rc = sqlite3_step(st);
  if(rc == SQLITE_ROW)
    *pending = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? MGCALL_OK : db_err(s, err, "count hook jobs");
}

static int sq_purge(struct kstore *base, int64_t cutoff_ms, size_t limit,
                    size_t *purged, struct mgc_err *err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  static const char *const sql[2] = {
      "DELETE FROM calls WHERE call_id IN (SELECT call_id FROM calls"
      " WHERE state IN ('ended','lost') AND ended_ms < ?1 LIMIT ?2)",
      "DELETE FROM hook_jobs WHERE job_id IN (SELECT job_id FROM hook_jobs"
      " WHERE state <> 'pending' AND done_ms < ?1 LIMIT ?2)",
  };
  if(purged)
    *purged = 0;
  if(begin(s, 0, err))
    return MGCALL_E_INTERNAL;
  for(int i = 0; i < 2; i++) {
    sqlite3_stmt *st;
    if(prepare(s, sql[i], &st, err))
      return rollback(s);
    sqlite3_bind_int64(st, 1, cutoff_ms);
    sqlite3_bind_int64(st, 2, limit > INT32_MAX ? INT32_MAX : (int64_t)limit);
    if(run_once(s, st, err, "purge"))
      return rollback(s);
    if(purged)
      *purged += (size_t)sqlite3_changes(s->db);
  }
  return commit(s, err);
}

static void sq_close(struct kstore *base)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  sqlite3_finalize(s->page);
  sqlite3_finalize(s->put);
  sqlite3_finalize(s->get);
  sqlite3_finalize(s->load);
  sqlite3_close(s->db);
  free(s->path);
  free(s);
}

static const struct kstore_ops sqlite_ops = {
    .name = "sqlite",
    .put = sq_put,
    .get = sq_get,
    .load_active = sq_load,
    .list_page = sq_page,
    .list_ended = sq_list_ended,
    .put_outbox = sq_put_outbox,
    .claim_hooks = sq_claim_hooks,
    .hook_finish = sq_hook_finish,
    .hook_pending = sq_hook_pending,
    .purge = sq_purge,
    .close = sq_close,
};

/* mkdir -p the parent of path, mode 0700. */
static int make_parent(const char *path)
{
  char *dir = strdup(path);
  if(!dir)
    return -1;
  char *slash = strrchr(dir, '/');
  if(!slash || slash == dir) {
    free(dir);
    return 0;
  }
  *slash = '\0';
  for(char *p = dir + 1; *p; p++) {
    if(*p != '/')
      continue;
    *p = '\0';
    if(mkdir(dir, 0700) && errno != EEXIST) {
      free(dir);
      return -1;
    }
    *p = '/';
  }
  int rc = mkdir(dir, 0700) && errno != EEXIST ? -1 : 0;
  free(dir);
  return rc;
}

static int migrate(struct sqlite_store *s, struct mgc_err *err)
{
  sqlite3_stmt *st;
  if(sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) !=
     SQLITE_OK)
    return db_err(s, err, "cannot read the schema version");
  int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_finalize(st);
  if(version < 0)
    return db_err(s, err, "cannot read the schema version");
  if(version > (int)NMIGRATIONS)
    return mgc__err_set(err, MGCALL_E_INTERNAL,
                        "store sqlite:%s: schema version %d is newer than "
                        "this mgcall knows (%d): upgrade mgcall",
                        s->path, version, (int)NMIGRATIONS);
  for(int v = version; v < (int)NMIGRATIONS; v++) {
    char sql[64];
    if(exec(s, "BEGIN IMMEDIATE", err, "migrate"))
      return MGCALL_E_INTERNAL;
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
    if(exec(s, migrations[v], err, "migrate") || exec(s, sql, err, "migrate") ||
       exec(s, "COMMIT", err, "migrate")) {
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      return MGCALL_E_INTERNAL;
    }
  }
  return MGCALL_OK;
}

int kstore_sqlite_open(const char *path, struct kstore **out,
                       struct mgc_err *err)
{
  *out = NULL;
  struct sqlite_store *s = calloc(1, sizeof(*s));
  if(!s || !(s->path = strdup(path))) {
    free(s);
    return mgc__err_set(err, MGCALL_E_INTERNAL, "store: out of memory");
  }
  s->base.ops = &sqlite_ops;
  if(make_parent(path)) {
    mgc__err_set(err, MGCALL_E_INTERNAL,
                 "store sqlite:%s: cannot create its directory: %s", path,
                 strerror(errno));
    free(s->path);
    free(s);
    return MGCALL_E_INTERNAL;
  }
  int rc = sqlite3_open_v2(
      path, &s->db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
  if(rc != SQLITE_OK) {
    if(s->db)
      db_err(s, err, "cannot open");
    else
      mgc__err_set(err, MGCALL_E_INTERNAL, "store sqlite:%s: cannot open",
                   path);
    sq_close(&s->base);
    return MGCALL_E_INTERNAL;
  }
  sqlite3_busy_timeout(s->db, 5000);
  if(sqlite3_db_readonly(s->db, "main") == 1) {
    mgc__err_set(err, MGCALL_E_INTERNAL,
                 "store sqlite:%s: the database is read-only", path);
    sq_close(&s->base);
    return MGCALL_E_INTERNAL;
  }
  /* journal_mode=WAL reads the file: a corrupt file fails here */
  if(exec(s, "PRAGMA journal_mode=WAL", err, "not a usable database") ||
     exec(s, "PRAGMA synchronous=FULL", err, "not a usable database") ||
     exec(s, "PRAGMA foreign_keys=ON", err, "not a usable database") ||
     migrate(s, err) ||
     /* prove we can write (a read-only file or directory fails here) */
     exec(s,
          "BEGIN IMMEDIATE; UPDATE calls SET failures = failures "
          "WHERE 0; COMMIT",
          err, "cannot write") ||
     /* one keeper per file: claims left by a dead process are void */
     exec(s,
          "UPDATE hook_jobs SET claim = 0, claimed_by = NULL,"
          " claim_until_ms = 0 WHERE state = 'pending' AND claim <> 0",
          err, "release hook claims")) {
    sq_close(&s->base);
    return MGCALL_E_INTERNAL;
  }
  if(sqlite3_prepare_v2(s->db, SQL_PUT, -1, &s->put, NULL) != SQLITE_OK ||
     sqlite3_prepare_v2(s->db, SQL_GET, -1, &s->get, NULL) != SQLITE_OK ||
     sqlite3_prepare_v2(s->db, SQL_LOAD, -1, &s->load, NULL) != SQLITE_OK ||
     sqlite3_prepare_v2(s->db, SQL_PAGE, -1, &s->page, NULL) != SQLITE_OK) {
    db_err(s, err, "prepare");
    sq_close(&s->base);
    return MGCALL_E_INTERNAL;
  }
  *out = &s->base;
  return MGCALL_OK;
}
