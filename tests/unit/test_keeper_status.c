/* SPDX-License-Identifier: MIT */
/* test_keeper_status.c - the status page's snapshot (keeper/status.h) from
 * a real core on a SQLite store: the counts, the KSP_WORST live calls with
 * the soonest deadlines in order, the calls that ended last newest first,
 * and the store's list_ended with the outcome of each end's hook jobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keeper/core.h"
#include "keeper/status.h"

static char dir[256];

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "%s/mgcall-status.XXXXXX",
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

static void test_snapshot(void **state)
{
  (void)state;
  char url[400];
  snprintf(url, sizeof(url), "sqlite:%s/core.db", dir);
  /* deadline 180 s: at risk under 40 s before it */
  struct kcore_config cfg = {.sched = {60000, 180000, 0}, .store_url = url};
  struct kcore *k = NULL;
  struct mgc_err err = {0};
  assert_int_equal(kcore_open(&cfg, &k, &err), MGCALL_OK);
  /* 40 calls started 4 i - 1 s ago: call i has 181 - 4 i s left (at risk
   * from i = 36: under 40 s), registered in a shuffled order */
  int64_t now = kcore_wall_ms();
  char ids[40][32];
  for(int n = 0; n < 40; n++) {
    int i = (n * 7) % 40;
    snprintf(ids[i], sizeof(ids[i]), "call-%02d", i);
    struct kcore_reg r = {ids[i], NULL, now - (int64_t)i * 4000 + 1000};
    assert_int_equal(kcore_add(k, &r, 1, NULL, &err), MGCALL_OK);
  }
  /* end 5 of them, one at a time: newest end last */
  for(int i = 0; i < 5; i++)
    assert_int_equal(kcore_end(k, ids[i], KS_REASON_REMOVED, NULL, &err),
                     MGCALL_OK);

  struct ksp_snapshot s;
  assert_int_equal(kstat_collect(k, &s), 0);
  assert_int_equal((int)(s.active + s.at_risk), 35);
  assert_int_equal((int)s.at_risk, 4); /* 36..39 */
  assert_int_equal((int)s.ended, 5);
  assert_int_equal((int)s.lost, 0);
  assert_int_equal((int)s.nworst, KSP_WORST);
  for(size_t j = 0; j < s.nworst; j++) { /* 39, 38, ... soonest first */
    char want[32];
    snprintf(want, sizeof(want), "call-%02d", 39 - (int)j);
    assert_string_equal(s.worst[j].call_id, want);
    assert_string_equal(s.worst[j].state, j < 4 ? "at-risk" : "active");
    int64_t left = s.worst[j].deadline_ms - s.now_ms;
    assert_true(left > (181 - 4 * (39 - (int64_t)j)) * 1000 - 2000);
    assert_true(left <= (181 - 4 * (39 - (int64_t)j)) * 1000);
    if(j)
      assert_true(s.worst[j - 1].deadline_ms <= s.worst[j].deadline_ms);
  }
  assert_int_equal((int)s.nlatest, 5);
  assert_null(s.latest_error);
  for(size_t j = 0; j < 5; j++) {
    assert_string_equal(s.latest[j].call_id, ids[4 - j]);
    assert_string_equal(s.latest[j].reason, "removed");
    assert_null(s.latest[j].hook); /* no hook configured */
    if(j)
      assert_true(s.latest[j - 1].ended_ms >= s.latest[j].ended_ms);
  }
  ksp_release(&s);
  kcore_free(k);
}

struct got {
  int n;
  char id[8][32], hook[8][16], err[8][32];
  int attempts[8];
};

static int take(void *ud, const struct kstore_ended *r)
{
  struct got *g = ud;
  snprintf(g->id[g->n], 32, "%s", r->call.call_id);
  snprintf(g->hook[g->n], 16, "%s", r->hook ? r->hook : "-");
  snprintf(g->err[g->n], 32, "%s", r->hook_error ? r->hook_error : "-");
  g->attempts[g->n] = r->hook_attempts;
  return ++g->n == 8;
}

static int claimed(void *ud, const struct kstore_hook *h)
{
  int64_t(*v)[2] = ud;
  for(int i = 0; i < 8; i++)
    if(!v[i][0]) {
      v[i][0] = h->job_id;
      v[i][1] = h->claim;
      break;
    }
  return 0;
}

static void test_list_ended_hook_outcomes(void **state)
{
  (void)state;
  char url[400];
  snprintf(url, sizeof(url), "sqlite:%s/ended.db", dir);
  struct kstore *st = NULL;
  struct mgc_err err = {0};
  assert_int_equal(kstore_open(url, &st, &err), MGCALL_OK);
  assert_non_null(st->ops->list_ended);
  const int64_t t0 = 1700000000000LL;
  /* e1 (oldest): two jobs, both delivered; e2: one delivered, one given up;
   * e3: one pending after a failed attempt; e4: no job; a live call */
  const char *ids[] = {"e1", "e2", "e3", "e4"};
  for(int i = 0; i < 4; i++) {
    struct kstore_call row = {.call_id = ids[i],
                              .state = i == 3 ? "lost" : "ended",
                              .reason = i == 3 ? "lost" : "removed",
                              .added_ms = t0,
                              .ended_ms = t0 + (i + 1) * 1000};
    struct kstore_hook h[2] = {{.event_id = ids[i],
                                .call_id = ids[i],
                                .reason = "removed",
                                .kind = KSTORE_HOOK_COMMAND,
                                .created_ms = row.ended_ms},
                               {.event_id = ids[i],
                                .call_id = ids[i],
                                .reason = "removed",
                                .kind = KSTORE_HOOK_URL,
                                .created_ms = row.ended_ms}};
    size_t nh = i == 3 ? 0 : i == 2 ? 1 : 2;
    assert_int_equal(st->ops->put_outbox(st, &row, 1, h, nh, 1, &err),
                     MGCALL_OK);
  }
  struct kstore_call live = {
      .call_id = "live", .state = "active", .added_ms = t0};
  assert_int_equal(st->ops->put(st, &live, 1, 1, &err), MGCALL_OK);
  /* claim all 5 jobs (job ids 1..5 in insertion order), finish them */
  int64_t jobs[8][2] = {{0}};
  size_t n = 0;
  assert_int_equal(st->ops->claim_hooks(st, "node", 3, t0 + 10000, 60000, 8,
                                        claimed, jobs, &n, &err),
                   MGCALL_OK);
  assert_int_equal((int)n, 5);
  for(int i = 0; i < 5; i++) {
    int64_t id = jobs[i][0];
    enum kstore_hook_outcome o = id == 4   ? KSTORE_HOOK_GAVE_UP
                                 : id == 5 ? KSTORE_HOOK_RETRY
                                           : KSTORE_HOOK_DELIVERED;
    assert_int_equal(st->ops->hook_finish(st, id, jobs[i][1], o, t0 + 11000,
                                          1000, "exit 1", &err),
                     MGCALL_OK);
  }
  struct got g = {0};
  assert_int_equal(st->ops->list_ended(st, 3, take, &g, &err), MGCALL_OK);
  assert_int_equal(g.n, 3); /* limit 3: e4, e3, e2 */
  assert_string_equal(g.id[0], "e4");
  assert_string_equal(g.hook[0], "-");
  assert_string_equal(g.id[1], "e3");
  assert_string_equal(g.hook[1], "pending");
  assert_string_equal(g.err[1], "exit 1");
  assert_int_equal(g.attempts[1], 1);
  assert_string_equal(g.id[2], "e2");
  assert_string_equal(g.hook[2], "failed");
  assert_string_equal(g.err[2], "exit 1");
  memset(&g, 0, sizeof(g));
  assert_int_equal(st->ops->list_ended(st, 10, take, &g, &err), MGCALL_OK);
  assert_int_equal(g.n, 4); /* never the live call */
  assert_string_equal(g.id[3], "e1");
  assert_string_equal(g.hook[3], "delivered");
  assert_string_equal(g.err[3], "-");
  kstore_close(st);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_snapshot),
      cmocka_unit_test(test_list_ended_hook_outcomes),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
