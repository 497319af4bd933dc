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
#include "store_ended.h"

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

/* SQLite's list_ended (store_ended.h): ends written as a single keeper
 * writes them. */
static void write_end(struct kstore *st, const struct kstore_call *row,
                      const struct kstore_hook *hooks, size_t nh)
{
  struct mgc_err err = {0};
  assert_int_equal(st->ops->put_outbox(st, row, 1, hooks, nh, 1, &err),
                   MGCALL_OK);
}

static void test_list_ended_hook_outcomes(void **state)
{
  (void)state;
  char url[400];
  snprintf(url, sizeof(url), "sqlite:%s/ended.db", dir);
  struct kstore *st = NULL;
  struct mgc_err err = {0};
  assert_int_equal(kstore_open(url, &st, &err), MGCALL_OK);
  struct kstore_call live = {
      .call_id = "live", .state = "active", .added_ms = 1};
  assert_int_equal(st->ops->put(st, &live, 1, 1, &err), MGCALL_OK);
  se_check_list_ended(st, write_end);
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
