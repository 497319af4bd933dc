/* SPDX-License-Identifier: MIT */
/* test_keeper_store.c - the SQLite store: schema, writes, reload, and clear
 * errors for corrupt, read-only or unusable files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keeper/store.h"

static char dir[256];

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "%s/mgcall-store.XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static char *path_of(const char *name)
{
  static char p[400];
  snprintf(p, sizeof(p), "%s/%s", dir, name);
  return p;
}

struct rows {
  int n;
  char ids[16][64];
  struct kstore_call last;
  char state[32], tenant[64], err[64];
};

static int collect(void *ud, const struct kstore_call *r)
{
  struct rows *rs = ud;
  if(rs->n < 16)
    snprintf(rs->ids[rs->n], 64, "%s", r->call_id);
  rs->n++;
  rs->last = *r;
  snprintf(rs->state, sizeof(rs->state), "%s", r->state);
  snprintf(rs->tenant, sizeof(rs->tenant), "%s",
           r->tenant_id ? r->tenant_id : "(null)");
  snprintf(rs->err, sizeof(rs->err), "%s",
           r->last_error ? r->last_error : "(null)");
  return 0;
}

static void test_put_get_load_reopen(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  struct kstore *st;
  char url[512];
  snprintf(url, sizeof(url), "sqlite:%s", path_of("sub/dir/k.db"));
  assert_int_equal(kstore_open(url, &st, &err), MGCALL_OK);
  struct kstore_call rows[3] = {
      {.call_id = "a", .tenant_id = "t1", .state = "active", .added_ms = 1},
      {.call_id = "b",
       .state = "at-risk",
       .added_ms = 2,
       .failures = 2,
       .last_error = "http 503"},
      {.call_id = "c",
       .state = "ended",
       .reason = "not-found",
       .added_ms = 3,
       .ended_ms = 9},
  };
  assert_int_equal(st->ops->put(st, rows, 3, 1, &err), MGCALL_OK);
  /* progress: update a in place */
  struct kstore_call upd = rows[0];
  upd.last_success_ms = 1234;
  upd.next_due_ms = 5678;
  assert_int_equal(st->ops->put(st, &upd, 1, 0, &err), MGCALL_OK);
  kstore_close(st);

  assert_int_equal(kstore_open(url, &st, &err), MGCALL_OK);
  struct rows rs = {0};
  assert_int_equal(st->ops->load_active(st, collect, &rs, &err), MGCALL_OK);
  assert_int_equal(rs.n, 2); /* not the ended one */
  memset(&rs, 0, sizeof(rs));
  assert_int_equal(st->ops->get(st, "a", collect, &rs, &err), MGCALL_OK);
  assert_int_equal(rs.n, 1);
  assert_int_equal(rs.last.last_success_ms, 1234);
  assert_int_equal(rs.last.next_due_ms, 5678);
  assert_string_equal(rs.tenant, "t1");
  memset(&rs, 0, sizeof(rs));
  assert_int_equal(st->ops->get(st, "b", collect, &rs, &err), MGCALL_OK);
  assert_string_equal(rs.state, "at-risk");
  assert_string_equal(rs.tenant, "(null)");
  assert_string_equal(rs.err, "http 503");
  assert_int_equal(rs.last.failures, 2);
  assert_int_equal(st->ops->get(st, "zzz", collect, &rs, &err),
                   MGCALL_E_NOT_FOUND);
  kstore_close(st);
  kstore_close(NULL);

  /* WAL mode and the schema version are on disk */
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path_of("sub/dir/k.db"), &db), SQLITE_OK);
  sqlite3_stmt *q;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
  sqlite3_finalize(q);
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), KSTORE_SQLITE_SCHEMA);
  sqlite3_finalize(q);
  sqlite3_close(db);
}

static void test_many_rows_one_transaction(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  struct kstore *st;
  assert_int_equal(kstore_sqlite_open(path_of("many.db"), &st, &err),
                   MGCALL_OK);
  enum { N = 5000 };
  static struct kstore_call rows[N];
  static char ids[N][16];
  for(int i = 0; i < N; i++) {
    snprintf(ids[i], sizeof(ids[i]), "id%d", i);
    rows[i] = (struct kstore_call){.call_id = ids[i], .added_ms = i};
  }
  assert_int_equal(st->ops->put(st, rows, N, 0, &err), MGCALL_OK);
  struct rows rs = {0};
  assert_int_equal(st->ops->load_active(st, collect, &rs, &err), MGCALL_OK);
  assert_int_equal(rs.n, N);
  kstore_close(st);
}

/* list_page: call-id order, the state filter, limit, "more", and a walk
 * over every page that sees each row exactly once. */
static void test_list_page(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  struct kstore *st;
  assert_int_equal(kstore_sqlite_open(path_of("page.db"), &st, &err),
                   MGCALL_OK);
  enum { N = 25 };
  static const char *const states[] = {"active", "at-risk", "ended", "lost"};
  struct kstore_call rows[N];
  char ids[N][16];
  for(int i = 0; i < N; i++) { /* written in reverse: order is the store's */
    snprintf(ids[i], sizeof(ids[i]), "id%02d", N - 1 - i);
    rows[i] = (struct kstore_call){
        .call_id = ids[i], .state = states[(N - 1 - i) % 4], .added_ms = 1};
  }
  assert_int_equal(st->ops->put(st, rows, N, 1, &err), MGCALL_OK);
  struct rows rs = {0};
  int more = -1;
  assert_int_equal(
      st->ops->list_page(st, 0, NULL, 10, collect, &rs, &more, &err),
      MGCALL_OK);
  assert_int_equal(rs.n, 10);
  assert_int_equal(more, 1);
  assert_string_equal(rs.ids[0], "id00");
  assert_string_equal(rs.ids[9], "id09");
  /* walk every page of 7 */
  char after[64] = ""; /* as long as rows.ids[]: no truncation */
  int seen = 0, pages = 0;
  do {
    memset(&rs, 0, sizeof(rs));
    assert_int_equal(
        st->ops->list_page(st, 0, after, 7, collect, &rs, &more, &err),
        MGCALL_OK);
    for(int i = 0; i < rs.n; i++) {
      char want[16];
      snprintf(want, sizeof(want), "id%02d", seen + i);
      assert_string_equal(rs.ids[i], want);
    }
    seen += rs.n;
    if(rs.n)
      snprintf(after, sizeof(after), "%s", rs.ids[rs.n - 1]);
    pages++;
  } while(more && pages < 10);
  assert_int_equal(seen, N);
  assert_int_equal(pages, 4);
  /* one state, and two */
  memset(&rs, 0, sizeof(rs));
  assert_int_equal(st->ops->list_page(st, KSTORE_STATE_LOST, "", 100, collect,
                                      &rs, &more, &err),
                   MGCALL_OK);
  assert_int_equal(rs.n, 6); /* id03, id07, ... id23 */
  assert_int_equal(more, 0);
  assert_string_equal(rs.ids[0], "id03");
  assert_string_equal(rs.state, "lost");
  memset(&rs, 0, sizeof(rs));
  assert_int_equal(st->ops->list_page(st,
                                      KSTORE_STATE_ACTIVE | KSTORE_STATE_ENDED,
                                      "id10", 3, collect, &rs, &more, &err),
                   MGCALL_OK);
  assert_int_equal(rs.n, 3);
  assert_string_equal(rs.ids[0], "id12");
  assert_string_equal(rs.ids[1], "id14");
  assert_string_equal(rs.ids[2], "id16");
  assert_int_equal(more, 1);
  /* past the end */
  memset(&rs, 0, sizeof(rs));
  assert_int_equal(
      st->ops->list_page(st, 0, "zzz", 5, collect, &rs, &more, &err),
      MGCALL_OK);
  assert_int_equal(rs.n, 0);
  assert_int_equal(more, 0);
  kstore_close(st);
}

static void test_corrupt_file(void **state)
{
  (void)state;
  FILE *f = fopen(path_of("corrupt.db"), "wb");
  assert_non_null(f);
  for(int i = 0; i < 512; i++)
    fputs("this is not an sqlite database ", f);
  fclose(f);
  struct mgc_err err = {0};
  struct kstore *st = (struct kstore *)1;
  assert_int_equal(kstore_sqlite_open(path_of("corrupt.db"), &st, &err),
                   MGCALL_E_INTERNAL);
  assert_null(st);
  assert_non_null(strstr(err.msg, "corrupt.db"));
  assert_non_null(strstr(err.msg, "not a database"));
}

static void test_read_only_file(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  struct kstore *st;
  assert_int_equal(kstore_sqlite_open(path_of("ro.db"), &st, &err), MGCALL_OK);
  kstore_close(st);
  assert_int_equal(chmod(path_of("ro.db"), 0444), 0);
  if(geteuid() == 0) {
    /* root writes read-only files anyway: check as nobody in a child */
    assert_int_equal(chmod(dir, 0755), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if(pid == 0) {
      if(setgid(65534) || setuid(65534))
        _exit(3);
      st = (struct kstore *)1;
      int rc = kstore_sqlite_open(path_of("ro.db"), &st, &err);
      _exit(rc == MGCALL_E_INTERNAL && !st && strstr(err.msg, "ro.db") &&
                    strstr(err.msg, "read-only")
                ? 0
                : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    return;
  }
  st = (struct kstore *)1;
  assert_int_equal(kstore_sqlite_open(path_of("ro.db"), &st, &err),
                   MGCALL_E_INTERNAL);
  assert_null(st);
  assert_non_null(strstr(err.msg, "ro.db"));
  assert_non_null(strstr(err.msg, "read-only"));
}

static void test_unusable_paths(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  struct kstore *st;
  /* parent is a regular file */
  FILE *f = fopen(path_of("plain"), "w");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(kstore_sqlite_open(path_of("plain/k.db"), &st, &err),
                   MGCALL_E_INTERNAL);
  assert_non_null(strstr(err.msg, "plain/k.db"));
  /* the path is a directory */
  assert_int_equal(kstore_sqlite_open(dir, &st, &err), MGCALL_E_INTERNAL);
  assert_non_null(strstr(err.msg, "store sqlite:"));
  /* bad URLs */
  assert_int_equal(kstore_open("mysql://x", &st, &err), MGCALL_E_USAGE);
  assert_non_null(strstr(err.msg, "unknown kind"));
  assert_int_equal(kstore_open("sqlite:", &st, &err), MGCALL_E_USAGE);
  /* postgresql:// is the fleet store (test_keeper_store_pg.c): a server
   * that is not there is a clear error */
  assert_int_equal(
      kstore_open("postgresql:///k?host=/nonexistent-dir", &st, &err),
      MGCALL_E_INTERNAL);
  assert_non_null(strstr(err.msg, "cannot connect"));
}

static void test_newer_schema_refused(void **state)
{
  (void)state;
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path_of("new.db"), &db), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(db);
  struct mgc_err err = {0};
  struct kstore *st;
  assert_int_equal(kstore_sqlite_open(path_of("new.db"), &st, &err),
                   MGCALL_E_INTERNAL);
  assert_non_null(strstr(err.msg, "schema version 99"));
}

static void test_default_path(void **state)
{
  (void)state;
  char xdg[400];
  snprintf(xdg, sizeof(xdg), "%s/state", dir);
  setenv("XDG_STATE_HOME", xdg, 1);
  struct mgc_err err = {0};
  struct kstore *st;
  assert_int_equal(kstore_open(NULL, &st, &err), MGCALL_OK);
  kstore_close(st);
  struct stat sb;
  assert_int_equal(stat(path_of("state/mgcall/keeper.db"), &sb), 0);
  assert_int_equal(stat(path_of("state/mgcall"), &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0700);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_get_load_reopen),
      cmocka_unit_test(test_many_rows_one_transaction),
      cmocka_unit_test(test_list_page),
      cmocka_unit_test(test_corrupt_file),
      cmocka_unit_test(test_read_only_file),
      cmocka_unit_test(test_unusable_paths),
      cmocka_unit_test(test_newer_schema_refused),
      cmocka_unit_test(test_default_path),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
