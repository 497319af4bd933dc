/* SPDX-License-Identifier: MIT */
/* test_keeper_store_pg.c - the PostgreSQL store on a real PostgreSQL 15
 * started for the test (tests/helpers/pgtmp): migrations once under
 * concurrency, registrations and removals, fenced progress (term, lease
 * expiry, GREATEST), progress held while the server is down, no password
 * in messages; and the part of the store contract both backends share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keeper/store.h"
#include "keeper/store_pg.h"
#include "store_ended.h"

#define PGTMP MGCALL_TEST_HELPERS "/pgtmp"

static char dir[256], url[512], sqlite_url[512];

/* pgtmp ctl DIR ARGS (stop -m fast, start) */
static int ctl(const char *args)
{
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "%s ctl %s %s >/dev/null", PGTMP, dir, args);
  return system(cmd);
}

/* Run SQL, return the first value of the first row (static buffer). */
static const char *sql1(const char *q)
{
  static char out[256];
  char cmd[2048];
  snprintf(cmd, sizeof(cmd), "%s psql %s -c \"%s\"", PGTMP, dir, q);
  FILE *p = popen(cmd, "r");
  out[0] = '\0';
  if(p) {
    if(!fgets(out, sizeof(out), p))
      out[0] = '\0';
    pclose(p);
  }
  out[strcspn(out, "\n")] = '\0';
  return out;
}

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "%s/mgcall-pgunit.XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if(!mkdtemp(dir))
    return -1;
  rmdir(dir); /* pgtmp makes it, owned by the server's user */
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "%s start %s", PGTMP, dir);
  FILE *p = popen(cmd, "r");
  if(!p || !fgets(url, sizeof(url), p)) {
    fprintf(stderr, "PostgreSQL did not start (see above)\n");
    if(p)
      pclose(p);
    return -1;
  }
  if(pclose(p))
    return -1;
  url[strcspn(url, "\n")] = '\0';
  snprintf(sqlite_url, sizeof(sqlite_url), "sqlite:%s.db", dir);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "%s stop %s", PGTMP, dir);
  if(system(cmd))
    fprintf(stderr, "pgtmp stop failed\n");
  char db[300];
  snprintf(db, sizeof(db), "%s.db", dir);
  unlink(db);
  return 0;
}

struct rows {
  int n;
  struct kstore_call last;
  char state[32], reason[32];
};

static int collect(void *ud, const struct kstore_call *r)
{
  struct rows *rs = ud;
  rs->n++;
  rs->last = *r;
  snprintf(rs->state, sizeof(rs->state), "%s", r->state);
  snprintf(rs->reason, sizeof(rs->reason), "%s",
           r->reason ? r->reason : "(null)");
  return 0;
}

/* Four processes open the store at once: the schema is made once. */
static void test_migrate_once(void **state)
{
  (void)state;
  pid_t kids[4];
  for(int i = 0; i < 4; i++) {
    kids[i] = fork();
    assert_true(kids[i] >= 0);
    if(!kids[i]) {
      struct mgc_err err = {0};
      struct kstore *st;
      int rc = kstore_open(url, &st, &err);
      if(rc)
        fprintf(stderr, "child: %s\n", err.msg);
      kstore_close(st);
      _exit(rc ? 1 : 0);
    }
  }
  for(int i = 0; i < 4; i++) {
    int status;
    assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
  assert_string_equal(sql1("SELECT count(*) || ':' || max(version) FROM "
                           "mgcall_schema"),
                      "1:2");
  assert_string_equal(sql1("SELECT count(*) FROM mgcall_shards"), "64");
}

/* Both backends: unknown calls, the unknown URL kinds, reopen. */
static void test_contract_both_backends(void **state)
{
  (void)state;
  const char *urls[] = {url, sqlite_url};
  for(int b = 0; b < 2; b++) {
    struct mgc_err err = {0};
    struct kstore *st;
    assert_int_equal(kstore_open(urls[b], &st, &err), MGCALL_OK);
    struct rows rs = {0};
    assert_int_equal(st->ops->get(st, "nope", collect, &rs, &err),
                     MGCALL_E_NOT_FOUND);
    assert_int_equal(rs.n, 0);
    /* load_active: SQLite gives every live call; PostgreSQL none (a
     * fleet keeper loads the shards it takes) */
    assert_int_equal(st->ops->load_active(st, collect, &rs, &err), MGCALL_OK);
    assert_int_equal(st->ops->put(st, NULL, 0, 1, &err), MGCALL_OK);
    assert_int_equal(!!st->ops->fleet_add, b == 0);
    kstore_close(st);
  }
  struct mgc_err err = {0};
  struct kstore *st;
  assert_int_equal(kstore_open("mysql://u:secret@h/db", &st, &err),
                   MGCALL_E_USAGE);
  assert_null(strstr(err.msg, "secret"));
}

static void test_register_end(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  struct kstore *st;
  assert_int_equal(kstore_open(url, &st, &err), MGCALL_OK);
  struct kstore_call regs[3] = {
      {.call_id = "r1", .tenant_id = "t1", .added_ms = 10},
      {.call_id = "r2", .added_ms = 11, .started_ms = 5},
      {.call_id = "r1", .tenant_id = "t1", .added_ms = 10}, /* twice */
  };
  int created[3] = {9, 9, 9};
  assert_int_equal(st->ops->fleet_add(st, regs, 3, created, &err), MGCALL_OK);
  assert_int_equal(created[0] + created[2], 1);
  assert_int_equal(created[1], 1);
  assert_string_equal(sql1("SELECT count(*) FROM mgcall_calls WHERE "
                           "call_id IN ('r1','r2') AND NOT claimed"),
                      "2");
  assert_int_equal(st->ops->fleet_add(st, regs, 1, created, &err), MGCALL_OK);
  assert_int_equal(created[0], 0); /* already active */

  int live = -1;
  assert_int_equal(st->ops->fleet_end(st, "r1", "removed", 99, &live, &err),
                   MGCALL_OK);
  assert_int_equal(live, 1);
  assert_int_equal(st->ops->fleet_end(st, "r1", "removed", 99, &live, &err),
                   MGCALL_OK);
  assert_int_equal(live, 0);
  assert_int_equal(st->ops->fleet_end(st, "zz", "removed", 99, &live, &err),
                   MGCALL_E_NOT_FOUND);
  struct rows rs = {0};
  assert_int_equal(st->ops->get(st, "r1", collect, &rs, &err), MGCALL_OK);
  assert_string_equal(rs.state, "ended");
  assert_string_equal(rs.reason, "removed");
  assert_int_equal(rs.last.ended_ms, 99);
  /* registering an ended call revives it */
  assert_int_equal(st->ops->fleet_add(st, regs, 1, created, &err), MGCALL_OK);
  assert_int_equal(created[0], 1);
  memset(&rs, 0, sizeof(rs));
  assert_int_equal(st->ops->get(st, "r1", collect, &rs, &err), MGCALL_OK);
  assert_string_equal(rs.state, "active");
  kstore_close(st);
}

/* Progress is written only under the shard's current, unexpired term; the
 * last success never goes back; an ended call stays ended. */
static void test_fenced_progress(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  struct kstore *st;
  assert_int_equal(kstore_open(url, &st, &err), MGCALL_OK);
  struct kstore_call reg = {.call_id = "f1", .added_ms = 1};
  assert_int_equal(st->ops->fleet_add(st, &reg, 1, NULL, &err), MGCALL_OK);
  char q[256];
  unsigned shard = kstore_pg_shard("f1", KSTORE_PG_SHARDS);
  snprintf(q, sizeof(q),
           "UPDATE mgcall_shards SET owner = 'x', term = 7, expires_at = "
           "now() + interval '1 minute' WHERE shard = %u RETURNING term",
           shard);
  assert_string_equal(sql1(q), "7");

  struct kstore_call p = {.call_id = "f1",
                          .state = "at-risk",
                          .last_success_ms = 500,
                          .next_due_ms = 900,
                          .term = 7};
  assert_int_equal(st->ops->put(st, &p, 1, 0, &err), MGCALL_OK);
  assert_string_equal(sql1("SELECT last_success_ms || ':' || state || ':' || "
                           "term FROM mgcall_calls WHERE call_id = 'f1'"),
                      "500:active:7");
  p.last_success_ms = 400; /* older: kept at 500 */
  p.failures = 2;
  assert_int_equal(st->ops->put(st, &p, 1, 0, &err), MGCALL_OK);
  assert_string_equal(sql1("SELECT last_success_ms || ':' || failures FROM "
                           "mgcall_calls WHERE call_id = 'f1'"),
                      "500:2");
  /* a stale term (the shard was taken since): nothing written */
  p.term = 6;
  p.last_success_ms = 800;
  assert_int_equal(st->ops->put(st, &p, 1, 0, &err), MGCALL_OK);
  assert_string_equal(sql1("SELECT last_success_ms FROM mgcall_calls WHERE "
                           "call_id = 'f1'"),
                      "500");
  /* the right term but the lease expired (a paused keeper): nothing */
  snprintf(q, sizeof(q),
           "UPDATE mgcall_shards SET expires_at = now() - interval '1 "
           "second' WHERE shard = %u RETURNING term",
           shard);
  assert_string_equal(sql1(q), "7");
  p.term = 7;
  assert_int_equal(st->ops->put(st, &p, 1, 0, &err), MGCALL_OK);
  assert_string_equal(sql1("SELECT last_success_ms FROM mgcall_calls WHERE "
                           "call_id = 'f1'"),
                      "500");
  /* renewed: written; then removed through another node: the owner's
   * progress does not bring it back */
  snprintf(q, sizeof(q),
           "UPDATE mgcall_shards SET expires_at = now() + interval '1 "
           "minute' WHERE shard = %u RETURNING term",
           shard);
  assert_string_equal(sql1(q), "7");
  assert_int_equal(st->ops->put(st, &p, 1, 0, &err), MGCALL_OK);
  assert_string_equal(sql1("SELECT last_success_ms FROM mgcall_calls WHERE "
                           "call_id = 'f1'"),
                      "800");
  assert_int_equal(st->ops->fleet_end(st, "f1", "removed", 5, NULL, &err),
                   MGCALL_OK);
  p.last_success_ms = 900;
  assert_int_equal(st->ops->put(st, &p, 1, 0, &err), MGCALL_OK);
  assert_string_equal(sql1("SELECT state || ':' || last_success_ms FROM "
                           "mgcall_calls WHERE call_id = 'f1'"),
                      "ended:900");
  /* the HOT-friendly design: no index covers the progress columns */
  assert_string_equal(
      sql1("SELECT count(*) FROM pg_indexes WHERE tablename = "
           "'mgcall_calls' AND (indexdef LIKE '%last_success%' OR indexdef "
           "LIKE '%next_due%' OR indexdef LIKE '%term%' OR indexdef LIKE "
           "'%failures%')"),
      "0");
  kstore_close(st);
}

/* The server goes away: progress is held in memory (put still succeeds)
 * and written when it is back; registrations fail meanwhile. */
static void test_held_while_down(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  struct kstore *st;
  assert_int_equal(kstore_open(url, &st, &err), MGCALL_OK);
  struct kstore_call reg = {.call_id = "d1", .added_ms = 1};
  assert_int_equal(st->ops->fleet_add(st, &reg, 1, NULL, &err), MGCALL_OK);
  char q[256];
  snprintf(q, sizeof(q),
           "UPDATE mgcall_shards SET owner = 'x', term = term + 1, expires_at "
           "= now() + interval '1 hour' WHERE shard = %u RETURNING term",
           kstore_pg_shard("d1", KSTORE_PG_SHARDS));
  int64_t term = strtoll(sql1(q), NULL, 10);
  assert_true(term > 0);
  assert_int_equal(ctl("stop -m fast"), 0);
  struct kstore_call p = {.call_id = "d1",
                          .state = "active",
                          .last_success_ms = 4242,
                          .term = term};
  assert_int_equal(st->ops->put(st, &p, 1, 0, &err), MGCALL_OK);
  assert_int_not_equal(st->ops->fleet_add(st, &reg, 1, NULL, &err), MGCALL_OK);
  assert_int_equal(ctl("start"), 0);
  sleep(1); /* reconnects at most once a second */
  assert_int_equal(st->ops->put(st, NULL, 0, 0, &err), MGCALL_OK);
  assert_string_equal(sql1("SELECT last_success_ms FROM mgcall_calls WHERE "
                           "call_id = 'd1'"),
                      "4242");
  kstore_close(st);
}

/* Ids and texts with the characters array literals quote ("{},\\ and
 * blanks, NULL as a word) go through the batch statements unchanged. */
static void test_array_quoting(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  struct kstore *st;
  assert_int_equal(kstore_open(url, &st, &err), MGCALL_OK);
  static const char *const ids[] = {"q\"uote",  "back\\slash",
                                    "{br,ace}", "NULL",
                                    " sp ace ", "\xc3\xa9t\xc3\xa9"};
  const size_t n = sizeof(ids) / sizeof(ids[0]);
  struct kstore_call regs[6];
  memset(regs, 0, sizeof(regs));
  for(size_t i = 0; i < n; i++) {
    regs[i].call_id = ids[i];
    regs[i].tenant_id = i % 2 ? NULL : ids[n - 1 - i];
    regs[i].added_ms = (int64_t)i + 1;
  }
  int created[6];
  assert_int_equal(st->ops->fleet_add(st, regs, n, created, &err), MGCALL_OK);
  for(size_t i = 0; i < n; i++) {
    struct rows rs = {0};
    assert_int_equal(created[i], 1);
    assert_int_equal(st->ops->get(st, ids[i], collect, &rs, &err), MGCALL_OK);
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.last.added_ms, (int64_t)i + 1);
  }
  kstore_close(st);
}

static int count_jobs(void *ud, const struct kstore_hook *job)
{
  struct kstore_hook *last = ud;
  last->job_id = job->job_id;
  last->claim = job->claim;
  last->attempts = job->attempts;
  last->kind = job->kind;
  return 0;
}

/* The outbox and retention in PostgreSQL: a job written with the fenced
 * end (and one for a call not in the batch), claimed once while its lease
 * lives, finished only by its claim, purged when old. */
static void test_outbox_and_purge(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  struct kstore *st;
  assert_int_equal(kstore_open(url, &st, &err), MGCALL_OK);
  struct kstore_call reg = {.call_id = "o1", .added_ms = 1};
  assert_int_equal(st->ops->fleet_add(st, &reg, 1, NULL, &err), MGCALL_OK);
  char q[256];
  snprintf(q, sizeof(q),
           "UPDATE mgcall_shards SET owner = 'x', term = term + 1, expires_at "
           "= now() + interval '1 hour' WHERE shard = %u RETURNING term",
           kstore_pg_shard("o1", KSTORE_PG_SHARDS));
  int64_t term = strtoll(sql1(q), NULL, 10);
  struct kstore_call end = {.call_id = "o1",
                            .state = "ended",
                            .reason = "not-found",
                            .ended_ms = 1000,
                            .term = term};
  struct kstore_hook hooks[2] = {
      {.event_id = "ev-1",
       .call_id = "o1",
       .reason = "not-found",
       .kind = KSTORE_HOOK_COMMAND,
       .created_ms = 1000},
      {.event_id = "ev-2",
       .call_id = "elsewhere",
       .reason = "removed",
       .kind = KSTORE_HOOK_COMMAND,
       .created_ms = 1000},
  };
  assert_int_equal(st->ops->put_outbox(st, &end, 1, hooks, 2, 1, &err),
                   MGCALL_OK);
  assert_string_equal(sql1("SELECT count(*) FROM mgcall_hook_jobs"), "2");
  assert_string_equal(
      sql1("SELECT state FROM mgcall_calls WHERE call_id = 'o1'"), "ended");
  /* again (a retried write): idempotent */
  assert_int_equal(st->ops->put_outbox(st, &end, 1, hooks, 2, 1, &err),
                   MGCALL_OK);
  assert_string_equal(sql1("SELECT count(*) FROM mgcall_hook_jobs"), "2");
  /* an end under a stale term writes neither the end nor its job */
  struct kstore_call stale = end;
  stale.call_id = "o2";
  struct kstore_call reg2 = {.call_id = "o2", .added_ms = 1};
  assert_int_equal(st->ops->fleet_add(st, &reg2, 1, NULL, &err), MGCALL_OK);
  struct kstore_hook h3 = hooks[0];
  h3.event_id = "ev-3";
  h3.call_id = "o2";
  stale.term = 999999;
  assert_int_equal(st->ops->put_outbox(st, &stale, 1, &h3, 1, 1, &err),
                   MGCALL_OK);
  assert_string_equal(
      sql1("SELECT count(*) FROM mgcall_hook_jobs WHERE call_id = 'o2'"), "0");

  struct kstore_hook got = {0};
  size_t n = 0;
  assert_int_equal(st->ops->claim_hooks(st, "node-a", KSTORE_HOOK_COMMAND, 0,
                                        60000, 10, count_jobs, &got, &n, &err),
                   MGCALL_OK);
  assert_int_equal(n, 2);
  assert_int_equal(got.attempts, 1);
  assert_int_equal(st->ops->claim_hooks(st, "node-b", KSTORE_HOOK_COMMAND, 0,
                                        60000, 10, count_jobs, &got, &n, &err),
                   MGCALL_OK);
  assert_int_equal(n, 0); /* held by node-a's live claim */
  assert_int_equal(st->ops->hook_finish(st, got.job_id, got.claim + 1,
                                        KSTORE_HOOK_GAVE_UP, 2000, 0, "x",
                                        &err),
                   MGCALL_E_NOT_FOUND);
  int64_t pending = 0;
  assert_int_equal(st->ops->hook_pending(st, &pending, &err), MGCALL_OK);
  assert_int_equal(pending, 2);
  assert_int_equal(st->ops->hook_finish(st, got.job_id, got.claim,
                                        KSTORE_HOOK_DELIVERED, 2000, 0, NULL,
                                        &err),
                   MGCALL_OK);
  assert_int_equal(st->ops->hook_pending(st, &pending, &err), MGCALL_OK);
  assert_int_equal(pending, 1);

  /* retention: the ended call (1000) and the delivered job (2000); first
   * what earlier tests ended before 1000 */
  size_t purged = 0;
  assert_int_equal(st->ops->purge(st, 1000, 100, &purged, &err), MGCALL_OK);
  assert_string_equal(sql1("SELECT count(*) FROM mgcall_calls WHERE "
                           "state <> 'active' AND ended_ms < 1000"),
                      "0");
  assert_string_equal(
      sql1("SELECT count(*) FROM mgcall_calls WHERE call_id = 'o1'"), "1");
  assert_int_equal(st->ops->purge(st, 5000, 100, &purged, &err), MGCALL_OK);
  assert_int_equal(purged, 2);
  assert_string_equal(
      sql1("SELECT count(*) FROM mgcall_calls WHERE call_id = 'o1'"), "0");
  assert_string_equal(sql1("SELECT count(*) FROM mgcall_hook_jobs"), "1");
  kstore_close(st);
}

/* The password of a --store URL is masked in place (argv). */
static void test_mask_password(void **state)
{
  (void)state;
  static const struct {
    const char *in, *out;
    int n;
  } cases[] = {
      {"postgresql://u:secret@h:5432/db", "postgresql://u:******@h:5432/db", 1},
      {"postgresql://u@h/db", "postgresql://u@h/db", 0},
      {"postgres://u:p%40ss@h/db?password=x2&sslmode=require",
       "postgres://u:******@h/db?password=**&sslmode=require", 2},
      {"host=h password=abc user=u", "host=h password=*** user=u", 1},
      {"host=h password = 'a b\\'c' user=u",
       "host=h password = '******' user=u", 1},
      {"dbname=x mypassword=y", "dbname=x mypassword=y", 0},
  };
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char buf[200];
    snprintf(buf, sizeof(buf), "%s", cases[i].in);
    assert_int_equal(kpg_mask_password(buf), cases[i].n);
    assert_string_equal(buf, cases[i].out);
  }
}

/* A password in the URL never shows in an error. */
static void test_no_password_in_errors(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  struct kstore *st;
  char bad[600];
  snprintf(bad, sizeof(bad),
           "postgresql://mgcall:hunter2pw@/nodb?host=%s&port=5432", dir);
  assert_int_not_equal(kstore_open(bad, &st, &err), MGCALL_OK);
  assert_null(st);
  assert_non_null(strstr(err.msg, "nodb"));
  assert_null(strstr(err.msg, "hunter2pw"));
}

/* list_page (GET /calls over the fleet): call-id order byte-wise, the
 * state filter, limit, "more", and a walk over every page. */
struct ids {
  int n;
  char id[64][32];
};

static int collect_id(void *ud, const struct kstore_call *r)
{
  struct ids *v = ud;
  if(v->n < 64)
    snprintf(v->id[v->n], sizeof(v->id[0]), "%s", r->call_id);
  v->n++;
  return 0;
}

static void test_list_page(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  struct kstore *st;
  assert_int_equal(kstore_open(url, &st, &err), MGCALL_OK);
  /* ids sort after every other test's ids; 'zz-page-B' < 'zz-page-a'
   * byte-wise (it would not be in a linguistic collation) */
  sql1("INSERT INTO mgcall_calls (call_id, shard, state, added_ms)"
       " SELECT 'zz-page-' || lpad(i::text, 2, '0'), 0,"
       " (ARRAY['active','at-risk','ended','lost'])[i % 4 + 1], 1"
       " FROM generate_series(0, 24) i;"
       " INSERT INTO mgcall_calls (call_id, shard, added_ms) VALUES"
       " ('zz-page-a', 0, 1), ('zz-page-B', 0, 1)");
  char after[32] = "zz-page-";
  int seen = 0, pages = 0, more = 0;
  struct ids all = {0};
  do {
    struct ids v = {0};
    assert_int_equal(
        st->ops->list_page(st, 0, after, 7, collect_id, &v, &more, &err),
        MGCALL_OK);
    assert_true(v.n <= 7);
    for(int i = 0; i < v.n; i++)
      if(all.n < 64)
        snprintf(all.id[all.n++], sizeof(all.id[0]), "%s", v.id[i]);
    seen += v.n;
    if(v.n)
      snprintf(after, sizeof(after), "%s", v.id[v.n - 1]);
    pages++;
  } while(more && pages < 10);
  /* other tests' ids ('{br,ace}', 'été') sort after ours: every row once,
   * strictly increasing, ours first */
  assert_int_equal(more, 0);
  assert_true(seen >= 27 && seen <= 64);
  assert_int_equal(pages, (seen + 6) / 7);
  for(int i = 1; i < all.n; i++)
    assert_true(strcmp(all.id[i - 1], all.id[i]) < 0);
  assert_string_equal(all.id[0], "zz-page-00");
  assert_string_equal(all.id[24], "zz-page-24");
  assert_string_equal(all.id[25], "zz-page-B");
  assert_string_equal(all.id[26], "zz-page-a");
  struct ids v = {0};
  assert_int_equal(st->ops->list_page(st, KSTORE_STATE_LOST, "zz-page-", 100,
                                      collect_id, &v, &more, &err),
                   MGCALL_OK);
  assert_int_equal(v.n, 6); /* 03, 07, ... 23 */
  assert_int_equal(more, 0);
  assert_string_equal(v.id[0], "zz-page-03");
  memset(&v, 0, sizeof(v));
  assert_int_equal(
      st->ops->list_page(st, KSTORE_STATE_ACTIVE | KSTORE_STATE_ENDED,
                         "zz-page-10", 3, collect_id, &v, &more, &err),
      MGCALL_OK);
  assert_int_equal(v.n, 3);
  assert_string_equal(v.id[0], "zz-page-12");
  assert_string_equal(v.id[1], "zz-page-14");
  assert_string_equal(v.id[2], "zz-page-16");
  assert_int_equal(more, 1);
  kstore_close(st);
}

/* list_ended (the status page in fleet mode), as SQLite's
 * (store_ended.h); and the migration 1 -> 2 that adds the index its hook
 * lookup uses.  Ends are written as an owner writes them: under its
 * shard's term. */
static void write_end(struct kstore *st, const struct kstore_call *row,
                      const struct kstore_hook *hooks, size_t nh)
{
  struct mgc_err err = {0};
  struct kstore_call reg = {.call_id = row->call_id, .added_ms = 1};
  assert_int_equal(st->ops->fleet_add(st, &reg, 1, NULL, &err), MGCALL_OK);
  char q[256];
  snprintf(q, sizeof(q),
           "UPDATE mgcall_shards SET owner = 'x', term = term + 1, "
           "expires_at = now() + interval '1 hour' WHERE shard = %u "
           "RETURNING term",
           kstore_pg_shard(row->call_id, KSTORE_PG_SHARDS));
  struct kstore_call r = *row;
  r.term = strtoll(sql1(q), NULL, 10);
  assert_true(r.term > 0);
  assert_int_equal(st->ops->put_outbox(st, &r, 1, hooks, nh, 1, &err),
                   MGCALL_OK);
  snprintf(q, sizeof(q),
           "SELECT state || ':' || ended_ms FROM mgcall_calls WHERE call_id "
           "= '%s'",
           row->call_id);
  char want[64];
  snprintf(want, sizeof(want), "%s:%lld", row->state, (long long)row->ended_ms);
  assert_string_equal(sql1(q), want);
}

static void test_list_ended(void **state)
{
  (void)state;
  /* a database at schema version 1 (before the index) is migrated */
  sql1("DROP INDEX mgcall_hook_jobs_call; UPDATE mgcall_schema SET "
       "version = 1");
  assert_string_equal(sql1("SELECT max(version) FROM mgcall_schema"), "1");
  struct mgc_err err = {0};
  struct kstore *st;
  assert_int_equal(kstore_open(url, &st, &err), MGCALL_OK);
  assert_string_equal(sql1("SELECT count(*) || ':' || max(version) FROM "
                           "mgcall_schema"),
                      "1:2");
  assert_string_equal(sql1("SELECT indexdef FROM pg_indexes WHERE indexname "
                           "= 'mgcall_hook_jobs_call'"),
                      "CREATE INDEX mgcall_hook_jobs_call ON "
                      "public.mgcall_hook_jobs USING btree (call_id, "
                      "created_ms)");
  struct kstore_call live = {.call_id = "live", .added_ms = 1};
  assert_int_equal(st->ops->fleet_add(st, &live, 1, NULL, &err), MGCALL_OK);
  se_check_list_ended(st, write_end);
  kstore_close(st);
}

/* 1 when query q's first value is want within 10 s (polled every 0.1 s). */
static int sql_until(const char *q, const char *want)
{
  for(int i = 0; i < 100; i++) {
    if(!strcmp(sql1(q), want))
      return 1;
    usleep(100 * 1000);
  }
  return 0;
}

/* A statement with no answer within the connection's bound is cancelled on
 * the server and fails at once with a message that says so; the same
 * connection then serves the next statement; with no bound it waits. */
/* kpg_exec(pg, name, sql, params) fails, its message holding want. */
static void exec_fails(struct kpg *pg, const char *name, const char *sql,
                       int nparams, const char *const *params,
                       const char *want)
{
  struct mgc_err err = {0};
  PGresult *res = kpg_exec(pg, name, sql, nparams, params, &err);
  if(res)
    PQclear(res);
  assert_null(res);
  if(!strstr(err.msg, want))
    fprintf(stderr, "err: %s\nwanted: %s\n", err.msg, want);
  assert_non_null(strstr(err.msg, want));
}

/* kpg_exec(pg, name, sql) answers; the first row's column col is want. */
static void exec_answers(struct kpg *pg, const char *name, const char *sql,
                         int col, const char *want)
{
  struct mgc_err err = {0};
  PGresult *res = kpg_exec(pg, name, sql, 0, NULL, &err);
  if(!res)
    fprintf(stderr, "err: %s\n", err.msg);
  assert_non_null(res);
  assert_string_equal(PQgetvalue(res, 0, col), want);
  PQclear(res);
}

static void test_statement_bound(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  struct kpg *pg;
  assert_int_equal(kpg_open(url, "mgcall-unit-bound", &pg, &err), MGCALL_OK);
  kpg_set_bound(pg, 300);
  exec_fails(pg, "sleep", "SELECT pg_sleep(30)", 0, NULL,
             "sleep: no answer within 300 ms: the statement was cancelled");
  assert_int_equal(kpg_up(pg), 0);
  /* cancelled on the server, not left running there (for its 30 s) */
  assert_true(sql_until("SELECT count(*) FROM pg_stat_activity WHERE "
                        "query = 'SELECT pg_sleep(30)' AND state = 'active'",
                        "0"));
  /* the next second, statements fail at once, untried */
  exec_fails(pg, "one", "SELECT 1", 0, NULL,
             "one: no answer within 300 ms to the last statement: not tried "
             "again");
  usleep(1100 * 1000); /* that second is over */
  /* parameters too (the extended protocol), and the connection goes on */
  const char *p[] = {"30"};
  exec_fails(pg, "sleep", "SELECT pg_sleep($1::float8)", 1, p,
             "sleep: no answer within 300 ms: the statement was cancelled");
  usleep(1100 * 1000);
  exec_answers(pg, "one", "SELECT 41 + 1", 0, "42");
  assert_int_equal(kpg_up(pg), 1);
  /* a write that waits for a lock held elsewhere (until this test ends
   * that session): cancelled, it leaves nothing behind once the lock is
   * gone */
  sql1("CREATE TABLE bound_t (x integer)");
  char cmd[1024];
  snprintf(cmd, sizeof(cmd),
           "%s psql %s -c \"BEGIN; LOCK TABLE bound_t; SELECT pg_sleep(60); "
           "COMMIT\" >/dev/null 2>&1 &",
           PGTMP, dir);
  assert_int_equal(system(cmd), 0);
  assert_true(sql_until("SELECT count(*) FROM pg_locks l JOIN pg_class c "
                        "ON c.oid = l.relation WHERE c.relname = "
                        "'bound_t' AND l.granted",
                        "1"));
  exec_fails(pg, "insert", "INSERT INTO bound_t VALUES (1)", 0, NULL,
             "insert: no answer within 300 ms: the statement was cancelled");
  /* end the session holding the lock: a write still waiting would now
   * land (while it waits or runs, it has an entry in pg_locks) */
  sql1("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
       "query LIKE 'BEGIN; LOCK TABLE bound_t%'");
  assert_true(sql_until("SELECT count(*) FROM pg_locks l JOIN pg_class c "
                        "ON c.oid = l.relation WHERE c.relname = 'bound_t'",
                        "0"));
  assert_string_equal(sql1("SELECT count(*) FROM bound_t"), "0");
  /* without a bound a slow statement gets its answer */
  usleep(1100 * 1000);
  kpg_set_bound(pg, 0);
  exec_answers(pg, "sleep", "SELECT pg_sleep(0.5), 7", 1, "7");
  /* several statements in one string (migrations): the last result, or the
   * first error */
  exec_answers(pg, "two", "SELECT 1; SELECT 2", 0, "2");
  exec_fails(pg, "bad", "SELECT 1; SELECT nope; SELECT 3", 0, NULL, "nope");
  kpg_free(pg);
}

/* Progress of more rows than one statement takes (the store writes plain
 * progress in statements of 2,000 rows, ends and hook jobs in one): every
 * row written, the end with its hook job. */
static void test_chunked_progress(void **state)
{
  (void)state;
  enum { N = 5001 };
  struct mgc_err err = {0};
  struct kstore *st;
  assert_int_equal(kstore_open(url, &st, &err), MGCALL_OK);
  static char ids[N][16];
  static struct kstore_call rows[N];
  for(int i = 0; i < N; i++) {
    snprintf(ids[i], sizeof(ids[i]), "chunk-%d", i);
    rows[i] = (struct kstore_call){.call_id = ids[i], .added_ms = 1};
  }
  assert_int_equal(st->ops->fleet_add(st, rows, N, NULL, &err), MGCALL_OK);
  assert_string_equal(sql1("WITH u AS (UPDATE mgcall_shards SET owner = "
                           "'x', term = 3, expires_at = now() + interval "
                           "'1 minute' RETURNING 1) SELECT count(*) FROM u"),
                      "64");
  for(int i = 0; i < N; i++)
    rows[i] = (struct kstore_call){.call_id = ids[i],
                                   .state = "active",
                                   .last_success_ms = 1000 + i,
                                   .next_due_ms = 5000,
                                   .term = 3};
  /* the last one ends, with its hook job; it is in the middle of the rows */
  rows[2500].state = "ended";
  rows[2500].reason = "removed";
  rows[2500].ended_ms = 9;
  struct kstore_hook h = {.event_id = "ev-chunk",
                          .call_id = ids[2500],
                          .reason = "removed",
                          .kind = KSTORE_HOOK_COMMAND,
                          .created_ms = 9};
  assert_int_equal(st->ops->put_outbox(st, rows, N, &h, 1, 1, &err),
                   MGCALL_OK);
  assert_string_equal(
      sql1("SELECT count(*) FROM mgcall_calls WHERE call_id LIKE 'chunk-%' "
           "AND last_success_ms = 1000 + substr(call_id, 7)::int AND "
           "term = 3"),
      "5001");
  assert_string_equal(sql1("SELECT state || ':' || ended_ms FROM mgcall_calls "
                           "WHERE call_id = 'chunk-2500'"),
                      "ended:9");
  assert_string_equal(sql1("SELECT count(*) FROM mgcall_calls WHERE call_id "
                           "LIKE 'chunk-%' AND state = 'active'"),
                      "5000");
  assert_string_equal(sql1("SELECT count(*) FROM mgcall_hook_jobs WHERE "
                           "event_id = 'ev-chunk' AND call_id = 'chunk-2500'"),
                      "1");
  /* plain put of them all again, one row newer: written */
  for(int i = 0; i < N; i++)
    rows[i].last_success_ms += 1;
  assert_int_equal(st->ops->put(st, rows, N, 1, &err), MGCALL_OK);
  assert_string_equal(
      sql1("SELECT count(*) FROM mgcall_calls WHERE call_id LIKE 'chunk-%' "
           "AND last_success_ms = 1001 + substr(call_id, 7)::int"),
      "5001");
  kstore_close(st);
}

/* A statement the server rolled back (SQLSTATE class 40: a deadlock with
 * another keeper's write) is sent again, twice at most: here a function
 * that raises deadlock_detected until a sequence (not rolled back) reaches
 * a value. */
static void test_rolled_back_retried(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  struct kpg *pg;
  assert_int_equal(kpg_open(url, "mgcall-unit-retry", &pg, &err), MGCALL_OK);
  sql1("CREATE SEQUENCE retry_s");
  /* sql1() goes through a shell: \\$ for $ */
  sql1("CREATE FUNCTION retry_f(lim bigint, code text) RETURNS int AS \\$\\$ "
       "BEGIN IF nextval('retry_s') < lim THEN RAISE EXCEPTION 'made up' "
       "USING ERRCODE = code; END IF; RETURN 7; END \\$\\$ LANGUAGE plpgsql");
  assert_string_equal(sql1("SELECT count(*) FROM pg_proc WHERE proname = "
                           "'retry_f'"),
                      "1");
  /* rolled back twice, the third try passes */
  const char *p3[] = {"3", "deadlock_detected"};
  struct mgc_err e2 = {0};
  PGresult *res = kpg_exec(pg, "retry", "SELECT retry_f($1::bigint, $2)", 2,
                           p3, &e2);
  if(!res)
    fprintf(stderr, "err: %s\n", e2.msg);
  assert_non_null(res);
  assert_string_equal(PQgetvalue(res, 0, 0), "7");
  PQclear(res);
  assert_string_equal(sql1("SELECT last_value FROM retry_s"), "3");
  /* rolled back three times: the error, after three tries */
  const char *p9[] = {"9", "serialization_failure"};
  exec_fails(pg, "retry", "SELECT retry_f($1::bigint, $2)", 2, p9,
             "made up");
  assert_string_equal(sql1("SELECT last_value FROM retry_s"), "6");
  /* another error is not sent again */
  const char *pz[] = {"99", "division_by_zero"};
  exec_fails(pg, "retry", "SELECT retry_f($1::bigint, $2)", 2, pz,
             "made up");
  assert_string_equal(sql1("SELECT last_value FROM retry_s"), "7");
  kpg_free(pg);
}

/* Lock order: a claim or a progress write takes its row locks in call_id
 * order, whatever the order of its rows, so that two statements over the
 * same calls (a keeper's claims and its progress writes; bench/fleet.sh
 * saw them deadlock) cannot wait for each other in a cycle.  A session
 * holds lo-20; the statement, given lo-39 .. lo-00 (descending), waits for
 * it; meanwhile exactly lo-00 .. lo-19 must be locked, lo-21 .. lo-39 free
 * (in the rows' order it would be the other way round). */
enum { LO_N = 40 };
static char lo_ids[LO_N][8];

struct lo_job {
  int put; /* 0: kstore_pg_claim, 1: the store's put */
  struct kpg *pg;
  struct kstore *st;
  int rc;
  struct mgc_err err;
};

static void *lo_run(void *arg)
{
  struct lo_job *j = arg;
  const char *ids[LO_N], *states[LO_N];
  int64_t terms[LO_N];
  static struct kstore_call rows[LO_N];
  for(int i = 0; i < LO_N; i++) {
    ids[i] = lo_ids[LO_N - 1 - i];
    states[i] = "active";
    terms[i] = 11;
    rows[i] = (struct kstore_call){.call_id = ids[i],
                                   .state = "active",
                                   .last_success_ms = 777,
                                   .next_due_ms = 5000,
                                   .term = 11};
  }
  j->rc = j->put ? j->st->ops->put(j->st, rows, LO_N, 1, &j->err)
                 : kstore_pg_claim(j->pg, ids, states, terms, LO_N, &j->err);
  return NULL;
}

static void lo_check(struct lo_job *j, const char *app)
{
  char cmd[1024], q[512];
  /* a session holding lo-20 (ended below) */
  snprintf(cmd, sizeof(cmd),
           "%s psql %s -c \"BEGIN; SELECT 1 FROM mgcall_calls WHERE call_id "
           "= 'lo-20' FOR UPDATE; SELECT pg_sleep(60); COMMIT\" "
           ">/dev/null 2>&1 &",
           PGTMP, dir);
  assert_int_equal(system(cmd), 0);
  assert_true(sql_until("SELECT count(*) FROM pg_stat_activity WHERE "
                        "wait_event = 'PgSleep' AND query LIKE "
                        "'BEGIN; SELECT 1 FROM mgcall_calls%'",
                        "1"));
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, lo_run, j), 0);
  snprintf(q, sizeof(q),
           "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
           "'%s' AND wait_event_type = 'Lock'",
           app);
  int waiting = sql_until(q, "1");
  /* the rows free now: taken and let go at once (SKIP LOCKED) */
  const char *freed = sql1(
      "SELECT count(*) || ':' || min(call_id) || ':' || max(call_id) FROM "
      "(SELECT call_id FROM mgcall_calls WHERE call_id LIKE 'lo-%' FOR "
      "UPDATE SKIP LOCKED) x");
  char got[64];
  snprintf(got, sizeof(got), "%s", freed);
  sql1("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
       "wait_event = 'PgSleep' AND query LIKE "
       "'BEGIN; SELECT 1 FROM mgcall_calls%'");
  assert_int_equal(pthread_join(t, NULL), 0);
  if(j->rc)
    fprintf(stderr, "err: %s\n", j->err.msg);
  assert_int_equal(j->rc, MGCALL_OK);
  assert_true(waiting);
  if(strcmp(got, "19:lo-21:lo-39"))
    fprintf(stderr, "free while waiting for lo-20: %s (count:min:max)\n",
            got);
  assert_string_equal(got, "19:lo-21:lo-39");
}

static void test_lock_order(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  struct kstore *st;
  assert_int_equal(kstore_open(url, &st, &err), MGCALL_OK);
  static struct kstore_call rows[LO_N];
  for(int i = 0; i < LO_N; i++) {
    snprintf(lo_ids[i], sizeof(lo_ids[i]), "lo-%02d", i);
    rows[i] = (struct kstore_call){.call_id = lo_ids[i], .added_ms = 1};
  }
  assert_int_equal(st->ops->fleet_add(st, rows, LO_N, NULL, &err), MGCALL_OK);
  assert_string_equal(sql1("WITH u AS (UPDATE mgcall_shards SET owner = "
                           "'x', term = 11, expires_at = now() + interval "
                           "'1 minute' RETURNING 1) SELECT count(*) FROM u"),
                      "64");
  struct kpg *pg;
  assert_int_equal(kpg_open(url, "mgcall-unit-lockorder", &pg, &err),
                   MGCALL_OK);
  struct lo_job claim = {.put = 0, .pg = pg};
  lo_check(&claim, "mgcall-unit-lockorder");
  assert_string_equal(sql1("SELECT count(*) FROM mgcall_calls WHERE call_id "
                           "LIKE 'lo-%' AND claimed AND term = 11"),
                      "40");
  struct lo_job put = {.put = 1, .st = st};
  lo_check(&put, "mgcall-keeper");
  assert_string_equal(sql1("SELECT count(*) FROM mgcall_calls WHERE call_id "
                           "LIKE 'lo-%' AND last_success_ms = 777"),
                      "40");
  kpg_free(pg);
  kstore_close(st);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_migrate_once),
      cmocka_unit_test(test_contract_both_backends),
      cmocka_unit_test(test_register_end),
      cmocka_unit_test(test_fenced_progress),
      cmocka_unit_test(test_held_while_down),
      cmocka_unit_test(test_array_quoting),
      cmocka_unit_test(test_mask_password),
      cmocka_unit_test(test_outbox_and_purge),
      cmocka_unit_test(test_no_password_in_errors),
      cmocka_unit_test(test_list_page),
      cmocka_unit_test(test_list_ended),
      cmocka_unit_test(test_statement_bound),
      cmocka_unit_test(test_rolled_back_retried),
      cmocka_unit_test(test_chunked_progress),
      cmocka_unit_test(test_lock_order),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
