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

static int sq_put(struct kstore *base, const struct kstore_call *rows, size_t n,
                  int durable, struct mgc_err *err)
{
  struct sqlite_store *s = (struct sqlite_store *)base;
  if(!n)
    return MGCALL_OK;
  /* WAL: FULL syncs the log at every commit; NORMAL only at checkpoints
   * (a crash of the process loses nothing, a power loss the last commits) */
  if(exec(s, durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
          err, "synchronous"))
    return MGCALL_E_INTERNAL;
  if(exec(s, "BEGIN IMMEDIATE", err, "begin"))
    return MGCALL_E_INTERNAL;
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
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      return MGCALL_E_INTERNAL;
    }
  }
  sqlite3_reset(s->put);
  sqlite3_clear_bindings(s->put);
  if(exec(s, "COMMIT", err, "commit")) {
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return MGCALL_E_INTERNAL;
  }
  return MGCALL_OK;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
  return (const char *)sqlite3_column_text(st, i);
}

static int each_row(struct sqlite_store *s, sqlite3_stmt *st, kstore_row_cb cb,
                    void *ud, size_t *count, struct mgc_err *err)
{
  int rc;
  *count = 0;
  while((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct kstore_call r = {
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
          err, "cannot write")) {
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
