/* SPDX-License-Identifier: MIT */
/* test_keeper_outbox.c - the store's hook outbox (store.h): an end and its
 * hook jobs in one transaction, claims with leases, fenced finishes,
 * retries, a claimed job surviving the death of its runner, retention.
 * Written against struct kstore only: every backend runs the same cases
 * (open_store() below picks it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keeper/retention.h"
#include "keeper/store.h"

static char dir[256];
static int seq;

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "%s/mgcall-outbox.XXXXXX",
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

/* A fresh store for one test; reopen with the same url. */
static struct kstore *open_store(char *url, size_t len)
{
  if(!*url)
    snprintf(url, len, "sqlite:%s/outbox%d.db", dir, ++seq);
  struct mgc_err err = {0};
  struct kstore *st = NULL;
  if(kstore_open(url, &st, &err))
    fail_msg("open %s: %s", url, err.msg);
  return st;
}

#define T0 1700000000000LL /* a wall clock, ms */

struct got {
  int n;
  struct {
    int64_t job_id, claim, created_ms;
    int kind, attempts;
    char event_id[64], call_id[64], tenant[64], reason[32], last_error[64];
  } j[16];
};

static int collect(void *ud, const struct kstore_hook *h)
{
  struct got *g = ud;
  if(g->n < 16) {
    g->j[g->n].job_id = h->job_id;
    g->j[g->n].claim = h->claim;
    g->j[g->n].created_ms = h->created_ms;
    g->j[g->n].kind = h->kind;
    g->j[g->n].attempts = h->attempts;
    snprintf(g->j[g->n].event_id, 64, "%s", h->event_id);
    snprintf(g->j[g->n].call_id, 64, "%s", h->call_id);
    snprintf(g->j[g->n].tenant, 64, "%s", h->tenant_id ? h->tenant_id : "-");
    snprintf(g->j[g->n].reason, 32, "%s", h->reason);
    snprintf(g->j[g->n].last_error, 64, "%s",
             h->last_error ? h->last_error : "-");
  }
  g->n++;
  return 0;
}

static int64_t pending(struct kstore *st)
{
  struct mgc_err err = {0};
  int64_t n = -1;
  assert_int_equal(st->ops->hook_pending(st, &n, &err), MGCALL_OK);
  return n;
}

static struct got claim(struct kstore *st, const char *node, int kinds,
                        int64_t now, int64_t lease, size_t max)
{
  struct got g = {0};
  struct mgc_err err = {0};
  size_t n = 99;
  assert_int_equal(st->ops->claim_hooks(st, node, kinds, now, lease, max,
                                        collect, &g, &n, &err),
                   MGCALL_OK);
  assert_int_equal((int)n, g.n);
  return g;
}

/* The end of call "c1" with both hook kinds, as the keeper writes it. */
static void end_call(struct kstore *st, const char *call_id, const char *ev,
                     int64_t when)
{
  struct mgc_err err = {0};
  struct kstore_call row = {.call_id = call_id,
                            .tenant_id = "t1",
                            .state = "ended",
                            .reason = "removed",
                            .added_ms = when - 1000,
                            .ended_ms = when};
  struct kstore_hook hooks[2] = {
      {.event_id = ev,
       .call_id = call_id,
       .tenant_id = "t1",
       .reason = "removed",
       .kind = KSTORE_HOOK_COMMAND,
       .created_ms = when},
      {.event_id = ev,
       .call_id = call_id,
       .tenant_id = "t1",
       .reason = "removed",
       .kind = KSTORE_HOOK_URL,
       .created_ms = when},
  };
  assert_int_equal(st->ops->put_outbox(st, &row, 1, hooks, 2, 1, &err),
                   MGCALL_OK);
}

static int count_rows(void *ud, const struct kstore_call *r)
{
  (void)r;
  (*(int *)ud)++;
  return 0;
}

static void test_end_and_jobs_one_transaction(void **state)
{
  (void)state;
  char url[512] = "";
  struct kstore *st = open_store(url, sizeof(url));
  struct mgc_err err = {0};
  end_call(st, "c1", "ev-1", T0);
  assert_int_equal(pending(st), 2);
  /* the same event again (a write repeated): no second job */
  end_call(st, "c1", "ev-1", T0);
  assert_int_equal(pending(st), 2);
  int n = 0;
  assert_int_equal(st->ops->get(st, "c1", count_rows, &n, &err), MGCALL_OK);
  assert_int_equal(n, 1);

  /* a transaction that fails half-way stores neither the rows nor the jobs:
   * the second row has no call id (the primary key) */
  struct kstore_call rows[2] = {
      {.call_id = "c2", .state = "ended", .added_ms = T0, .ended_ms = T0},
      {.call_id = NULL, .state = "ended", .added_ms = T0, .ended_ms = T0},
  };
  struct kstore_hook hook = {.event_id = "ev-2",
                             .call_id = "c2",
                             .reason = "removed",
                             .kind = KSTORE_HOOK_COMMAND,
                             .created_ms = T0};
  assert_int_equal(st->ops->put_outbox(st, rows, 2, &hook, 1, 1, &err),
                   MGCALL_E_INTERNAL);
  assert_int_equal(st->ops->get(st, "c2", count_rows, &n, &err),
                   MGCALL_E_NOT_FOUND);
  assert_int_equal(pending(st), 2);
  /* a job that cannot be stored (no reason) undoes its rows too */
  rows[1].call_id = "c3";
  hook.reason = NULL;
  assert_int_equal(st->ops->put_outbox(st, rows, 2, &hook, 1, 1, &err),
                   MGCALL_E_INTERNAL);
  assert_int_equal(st->ops->get(st, "c2", count_rows, &n, &err),
                   MGCALL_E_NOT_FOUND);
  assert_int_equal(pending(st), 2);
  kstore_close(st);
}

static void test_claim_lease_and_kinds(void **state)
{
  (void)state;
  char url[512] = "";
  struct kstore *st = open_store(url, sizeof(url));
  end_call(st, "c1", "ev-1", T0);
  end_call(st, "c2", "ev-2", T0 + 10);
  /* only the kinds asked for, at most max, oldest first */
  struct got g = claim(st, "n1", KSTORE_HOOK_URL, T0 + 100, 5000, 1);
  assert_int_equal(g.n, 1);
  assert_int_equal(g.j[0].kind, KSTORE_HOOK_URL);
  assert_string_equal(g.j[0].call_id, "c1");
  assert_string_equal(g.j[0].event_id, "ev-1");
  assert_string_equal(g.j[0].tenant, "t1");
  assert_string_equal(g.j[0].reason, "removed");
  assert_int_equal(g.j[0].attempts, 1);
  assert_int_equal(g.j[0].created_ms, T0);
  assert_true(g.j[0].claim != 0);
  int64_t first = g.j[0].job_id;
  /* nothing is due before it was created */
  g = claim(st, "n2", KSTORE_HOOK_COMMAND, T0 - 1, 5000, 10);
  assert_int_equal(g.n, 0);
  /* another node: not the job under a live lease */
  g = claim(st, "n2", KSTORE_HOOK_COMMAND | KSTORE_HOOK_URL, T0 + 200, 5000,
            10);
  assert_int_equal(g.n, 3);
  for(int i = 0; i < g.n; i++)
    assert_true(g.j[i].job_id != first);
  g = claim(st, "n3", KSTORE_HOOK_COMMAND | KSTORE_HOOK_URL, T0 + 300, 5000,
            10);
  assert_int_equal(g.n, 0);
  /* the lease of the first ran out (its runner hung): claimable again, a
   * second attempt, with a new token */
  g = claim(st, "n3", KSTORE_HOOK_URL, T0 + 100 + 5000, 5000, 10);
  assert_int_equal(g.n, 1);
  assert_int_equal(g.j[0].job_id, first);
  assert_int_equal(g.j[0].attempts, 2);
  assert_int_equal(pending(st), 4); /* claimed jobs are still pending */
  kstore_close(st);
}

static void test_finish_fenced_retry_give_up(void **state)
{
  (void)state;
  char url[512] = "";
  struct kstore *st = open_store(url, sizeof(url));
  struct mgc_err err = {0};
  end_call(st, "c1", "ev-1", T0);
  struct got g = claim(st, "n1", KSTORE_HOOK_COMMAND, T0, 1000, 10);
  assert_int_equal(g.n, 1);
  int64_t id = g.j[0].job_id, tok = g.j[0].claim;
  /* a wrong token changes nothing */
  assert_int_equal(st->ops->hook_finish(st, id, tok + 1, KSTORE_HOOK_RETRY, T0,
                                        10, "x", &err),
                   MGCALL_E_NOT_FOUND);
  /* retry: not claimable before now + delay, then with the error kept */
  assert_int_equal(st->ops->hook_finish(st, id, tok, KSTORE_HOOK_RETRY, T0 + 50,
                                        2000, "exit status 3", &err),
                   MGCALL_OK);
  /* the claim is gone: a second finish with it is refused */
  assert_int_equal(st->ops->hook_finish(st, id, tok, KSTORE_HOOK_GAVE_UP,
                                        T0 + 60, 0, NULL, &err),
                   MGCALL_E_NOT_FOUND);
  g = claim(st, "n1", KSTORE_HOOK_COMMAND, T0 + 2049, 1000, 10);
  assert_int_equal(g.n, 0);
  g = claim(st, "n1", KSTORE_HOOK_COMMAND, T0 + 2050, 1000, 10);
  assert_int_equal(g.n, 1);
  assert_int_equal(g.j[0].attempts, 2);
  assert_string_equal(g.j[0].last_error, "exit status 3");
  tok = g.j[0].claim;
  /* released at shutdown: pending at once, that attempt not counted */
  assert_int_equal(st->ops->hook_finish(st, id, tok, KSTORE_HOOK_RELEASED,
                                        T0 + 2100, 0, NULL, &err),
                   MGCALL_OK);
  g = claim(st, "n1", KSTORE_HOOK_COMMAND, T0 + 2100, 1000, 10);
  assert_int_equal(g.n, 1);
  assert_int_equal(g.j[0].attempts, 2);
  /* given up: never claimed again, no longer pending */
  assert_int_equal(st->ops->hook_finish(st, id, g.j[0].claim,
                                        KSTORE_HOOK_GAVE_UP, T0 + 2200, 0,
                                        "timed out", &err),
                   MGCALL_OK);
  assert_int_equal(pending(st), 1); /* the URL job */
  g = claim(st, "n1", KSTORE_HOOK_COMMAND, T0 + 999999, 1000, 10);
  assert_int_equal(g.n, 0);
  /* delivered: once, with any claim; never again */
  g = claim(st, "n1", KSTORE_HOOK_URL, T0, 1000, 10);
  assert_int_equal(g.n, 1);
  assert_int_equal(st->ops->hook_finish(st, g.j[0].job_id, 0,
                                        KSTORE_HOOK_DELIVERED, T0 + 5, 0, NULL,
                                        &err),
                   MGCALL_OK);
  assert_int_equal(st->ops->hook_finish(st, g.j[0].job_id, g.j[0].claim,
                                        KSTORE_HOOK_DELIVERED, T0 + 6, 0, NULL,
                                        &err),
                   MGCALL_E_NOT_FOUND);
  assert_int_equal(pending(st), 0);
  g = claim(st, "n1", KSTORE_HOOK_URL | KSTORE_HOOK_COMMAND, T0 + 999999, 1000,
            10);
  assert_int_equal(g.n, 0);
  kstore_close(st);
}

/* A runner claims a job and dies (no close, no finish): after a restart
 * the job runs again at once, its attempt counted. */
static void test_crash_with_a_claimed_job(void **state)
{
  (void)state;
  char url[512] = "";
  struct kstore *st = open_store(url, sizeof(url));
  end_call(st, "c1", "ev-1", T0);
  kstore_close(st);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if(pid == 0) {
    struct mgc_err err = {0};
    struct kstore *cs = NULL;
    size_t n = 0;
    if(kstore_open(url, &cs, &err) ||
       cs->ops->claim_hooks(cs, "dead", KSTORE_HOOK_COMMAND, T0, 3600000, 10,
                            NULL, NULL, &n, &err) ||
       n != 1)
      _exit(3);
    _exit(0); /* dies holding the claim for an hour */
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  st = open_store(url, sizeof(url));
  struct got g = claim(st, "n1", KSTORE_HOOK_COMMAND, T0 + 1, 1000, 10);
  assert_int_equal(g.n, 1);
  assert_string_equal(g.j[0].call_id, "c1");
  assert_int_equal(g.j[0].attempts, 2);
  assert_int_equal(pending(st), 2);
  kstore_close(st);
}

static void test_purge_retention(void **state)
{
  (void)state;
  char url[512] = "";
  struct kstore *st = open_store(url, sizeof(url));
  struct mgc_err err = {0};
  const int64_t day = 86400000LL;
  /* old: 3 ended calls, one lost; their hooks delivered long ago */
  struct kstore_call old[4] = {
      {.call_id = "o1", .state = "ended", .added_ms = T0, .ended_ms = T0},
      {.call_id = "o2", .state = "ended", .added_ms = T0, .ended_ms = T0 + 1},
      {.call_id = "o3", .state = "ended", .added_ms = T0, .ended_ms = T0 + 2},
      {.call_id = "o4", .state = "lost", .added_ms = T0, .ended_ms = T0 + 3},
  };
  assert_int_equal(st->ops->put(st, old, 4, 1, &err), MGCALL_OK);
  end_call(st, "o5", "ev-old", T0);
  struct got g = claim(st, "n", 3, T0, 1000, 10);
  assert_int_equal(g.n, 2);
  assert_int_equal(st->ops->hook_finish(st, g.j[0].job_id, g.j[0].claim,
                                        KSTORE_HOOK_DELIVERED, T0 + 10, 0, NULL,
                                        &err),
                   MGCALL_OK);
  assert_int_equal(st->ops->hook_finish(st, g.j[1].job_id, g.j[1].claim,
                                        KSTORE_HOOK_GAVE_UP, T0 + 10, 0, NULL,
                                        &err),
                   MGCALL_OK);
  /* kept: a live call added long ago, an old end whose hook is pending, a
   * recent end, a recent delivery */
  struct kstore_call keep[2] = {
      {.call_id = "live", .state = "active", .added_ms = T0},
      {.call_id = "new",
       .state = "ended",
       .added_ms = T0,
       .ended_ms = T0 + 8 * day},
  };
  assert_int_equal(st->ops->put(st, keep, 2, 1, &err), MGCALL_OK);
  end_call(st, "p1", "ev-pending", T0);
  end_call(st, "n1", "ev-new", T0 + 8 * day);
  g = claim(st, "n", KSTORE_HOOK_URL, T0 + 8 * day, 1000, 1);
  assert_int_equal(g.n, 1);
  assert_int_equal(st->ops->hook_finish(st, g.j[0].job_id, g.j[0].claim,
                                        KSTORE_HOOK_DELIVERED, T0 + 8 * day, 0,
                                        NULL, &err),
                   MGCALL_OK);
  /* cut-off 7 days before "now" (T0 + 8 days), in batches of 2 */
  int64_t cutoff = T0 + 8 * day - 7 * day;
  size_t purged = 0, total = 0;
  int rounds = 0;
  do {
    assert_int_equal(st->ops->purge(st, cutoff, 2, &purged, &err), MGCALL_OK);
    assert_true(purged <= 4); /* at most limit per table */
    total += purged;
  } while(purged >= 2 && ++rounds < 20);
  /* o1..o5 and p1 (6 calls: p1 ended at T0 even with a hook pending... */
  /* ...the call row goes, its job stays: jobs carry what they need) and the
   * two finished jobs of ev-old */
  assert_int_equal((int)total, 6 + 2);
  int n = 0;
  for(const char *const *id =
          (const char *const[]){"o1", "o2", "o3", "o4", "o5", "p1", NULL};
      *id; id++)
    assert_int_equal(st->ops->get(st, *id, count_rows, &n, &err),
                     MGCALL_E_NOT_FOUND);
  for(const char *const *id = (const char *const[]){"live", "new", "n1", NULL};
      *id; id++)
    assert_int_equal(st->ops->get(st, *id, count_rows, &n, &err), MGCALL_OK);
  /* p1's two jobs and ev-new's command job are pending; ev-new's delivered
   * URL job is recent: all kept */
  assert_int_equal(pending(st), 3);
  g = claim(st, "n", 3, T0 + 9 * day, 1000, 10);
  assert_int_equal(g.n, 3);
  /* nothing left to purge at that cut-off */
  assert_int_equal(st->ops->purge(st, cutoff, 100, &purged, &err), MGCALL_OK);
  assert_int_equal((int)purged, 0);
  kstore_close(st);
}

/* A version-1 file (before the outbox) is brought up to date, its calls
 * kept. */
static void test_sqlite_migration_from_v1(void **state)
{
  (void)state;
  char path[400], url[512];
  snprintf(path, sizeof(path), "%s/v1.db", dir);
  snprintf(url, sizeof(url), "sqlite:%s", path);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db,
                   "CREATE TABLE calls (call_id TEXT PRIMARY KEY, tenant_id "
                   "TEXT, state TEXT NOT NULL DEFAULT 'active', reason TEXT,"
                   " last_error TEXT, added_ms INTEGER NOT NULL, started_ms "
                   "INTEGER NOT NULL DEFAULT 0, last_success_ms INTEGER NOT "
                   "NULL DEFAULT 0, next_due_ms INTEGER NOT NULL DEFAULT 0,"
                   " ended_ms INTEGER NOT NULL DEFAULT 0, failures INTEGER "
                   "NOT NULL DEFAULT 0) WITHOUT ROWID;"
                   "CREATE INDEX calls_live ON calls(state) WHERE state IN "
                   "('active','at-risk');"
                   "INSERT INTO calls (call_id, added_ms) VALUES ('old', 1);"
                   "PRAGMA user_version = 1;",
                   NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(db);
  struct kstore *st = open_store(url, sizeof(url));
  struct mgc_err err = {0};
  int n = 0;
  assert_int_equal(st->ops->get(st, "old", count_rows, &n, &err), MGCALL_OK);
  assert_int_equal(pending(st), 0);
  end_call(st, "old", "ev", T0);
  assert_int_equal(pending(st), 2);
  kstore_close(st);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), KSTORE_SQLITE_SCHEMA);
  sqlite3_finalize(q);
  sqlite3_close(db);
}

/* The retention thread's pass: batches until none is left, on the store
 * lock; and the thread itself on an injected clock (three days ahead). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t three_days_later(void)
{
  return T0 + 3 * 86400000LL;
}

static int count_ended(struct kstore *st)
{
  /* get() of a sample of ids: 0..1199 were written */
  struct mgc_err err = {0};
  int n = 0, left = 0;
  char id[32];
  for(int i = 0; i < 1200; i += 7) {
    snprintf(id, sizeof(id), "e%d", i);
    if(st->ops->get(st, id, count_rows, &n, &err) == MGCALL_OK)
      left++;
  }
  return left;
}

static void test_retention_pass_and_thread(void **state)
{
  (void)state;
  char url[512] = "";
  struct kstore *st = open_store(url, sizeof(url));
  struct mgc_err err = {0};
  enum { N = 1200 }; /* more than two batches */
  static struct kstore_call rows[N];
  static char ids[N][16];
  for(int i = 0; i < N; i++) {
    snprintf(ids[i], sizeof(ids[i]), "e%d", i);
    rows[i] = (struct kstore_call){.call_id = ids[i],
                                   .state = i % 2 ? "ended" : "lost",
                                   .added_ms = T0,
                                   .ended_ms = T0 + i};
  }
  assert_int_equal(st->ops->put(st, rows, N, 0, &err), MGCALL_OK);
  struct kstore_call live = {.call_id = "live", .added_ms = T0};
  assert_int_equal(st->ops->put(st, &live, 1, 0, &err), MGCALL_OK);
  /* a cut-off before half of them: only the older half goes */
  assert_int_equal(kret_pass(st, &lock, T0 + N / 2), N / 2);
  assert_int_equal(kret_pass(st, &lock, T0 + N / 2), 0);
  assert_true(count_ended(st) > 0);
  /* the thread, retention 1 day, its clock 3 days on: the rest goes */
  struct kretention *r = kret_start(st, &lock, 86400000LL, three_days_later);
  assert_non_null(r);
  struct timespec nap = {0, 20 * 1000000L};
  for(int i = 0; i < 500; i++) { /* at most 10 s */
    pthread_mutex_lock(&lock);
    int left = count_ended(st);
    pthread_mutex_unlock(&lock);
    if(!left)
      break;
    nanosleep(&nap, NULL);
  }
  kret_stop(r);
  assert_int_equal(count_ended(st), 0);
  int n = 0;
  assert_int_equal(st->ops->get(st, "live", count_rows, &n, &err), MGCALL_OK);
  kret_stop(NULL);
  kstore_close(st);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_end_and_jobs_one_transaction),
      cmocka_unit_test(test_claim_lease_and_kinds),
      cmocka_unit_test(test_finish_fenced_retry_give_up),
      cmocka_unit_test(test_crash_with_a_claimed_job),
      cmocka_unit_test(test_purge_retention),
      cmocka_unit_test(test_sqlite_migration_from_v1),
      cmocka_unit_test(test_retention_pass_and_thread),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
