/* SPDX-License-Identifier: MIT */
/* store_ended.h - the list_ended scenario both store tests run (SQLite in
 * test_keeper_status.c, PostgreSQL in test_keeper_store_pg.c): four ends
 * with hook jobs in every outcome, read back newest first.  Include after
 * <cmocka.h> and keeper/store.h. */
#ifndef MGCALL_TEST_STORE_ENDED_H
#define MGCALL_TEST_STORE_ENDED_H

#include <stdio.h>
#include <string.h>

/* Writes one end (row) and its nh hook jobs the way the backend needs. */
typedef void (*se_write_fn)(struct kstore *st, const struct kstore_call *row,
                            const struct kstore_hook *hooks, size_t nh);

struct se_got {
  int n;
  char id[8][32], hook[8][16], err[8][32];
  int attempts[8];
};

static int se_take(void *ud, const struct kstore_ended *r)
{
  struct se_got *g = ud;
  snprintf(g->id[g->n], 32, "%s", r->call.call_id);
  snprintf(g->hook[g->n], 16, "%s", r->hook ? r->hook : "-");
  snprintf(g->err[g->n], 32, "%s", r->hook_error ? r->hook_error : "-");
  g->attempts[g->n] = r->hook_attempts;
  return ++g->n == 8;
}

struct se_claims {
  int n;
  int64_t job[16], claim[16];
  char call[16][16];
  int kind[16];
};

static int se_claim(void *ud, const struct kstore_hook *h)
{
  struct se_claims *c = ud;
  if(c->n < 16) {
    c->job[c->n] = h->job_id;
    c->claim[c->n] = h->claim;
    c->kind[c->n] = h->kind;
    snprintf(c->call[c->n], sizeof(c->call[0]), "%s", h->call_id);
    c->n++;
  }
  return 0;
}

/* A live call "live" is already stored.  Ends e1 (oldest) with two jobs,
 * both delivered; e2 with one delivered, one given up; e3 with one pending
 * after a failed attempt; e4 lost, no job; at t0 + 1..4 s (newer than any
 * other end in the store).  Claimed jobs of other calls are released. */
static void se_check_list_ended(struct kstore *st, se_write_fn write)
{
  struct mgc_err err = {0};
  assert_non_null(st->ops->list_ended);
  const int64_t t0 = 1700000000000LL;
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
    write(st, &row, h, i == 3 ? 0 : i == 2 ? 1 : 2);
  }
  struct se_claims c = {0};
  size_t n = 0;
  assert_int_equal(st->ops->claim_hooks(st, "node", 3, t0 + 10000, 60000, 16,
                                        se_claim, &c, &n, &err),
                   MGCALL_OK);
  int ours = 0;
  for(int i = 0; i < c.n; i++) {
    int mine = c.call[i][0] == 'e' && c.call[i][2] == '\0';
    enum kstore_hook_outcome o =
        !mine ? KSTORE_HOOK_RELEASED
        : !strcmp(c.call[i], "e2") && c.kind[i] == KSTORE_HOOK_URL
            ? KSTORE_HOOK_GAVE_UP
        : !strcmp(c.call[i], "e3") ? KSTORE_HOOK_RETRY
                                   : KSTORE_HOOK_DELIVERED;
    ours += mine;
    assert_int_equal(st->ops->hook_finish(st, c.job[i], c.claim[i], o,
                                          t0 + 11000, 60000, "exit 1", &err),
                     MGCALL_OK);
  }
  assert_int_equal(ours, 5);
  struct se_got g = {0};
  assert_int_equal(st->ops->list_ended(st, 3, se_take, &g, &err), MGCALL_OK);
  assert_int_equal(g.n, 3); /* limit 3: e4, e3, e2 */
  assert_string_equal(g.id[0], "e4");
  assert_string_equal(g.hook[0], "-");
  assert_int_equal(g.attempts[0], 0);
  assert_string_equal(g.id[1], "e3");
  assert_string_equal(g.hook[1], "pending");
  assert_string_equal(g.err[1], "exit 1");
  assert_int_equal(g.attempts[1], 1);
  assert_string_equal(g.id[2], "e2");
  assert_string_equal(g.hook[2], "failed");
  assert_string_equal(g.err[2], "exit 1");
  memset(&g, 0, sizeof(g));
  assert_int_equal(st->ops->list_ended(st, 8, se_take, &g, &err), MGCALL_OK);
  assert_true(g.n >= 4); /* then older ends of other tests, if any */
  assert_string_equal(g.id[3], "e1");
  assert_string_equal(g.hook[3], "delivered");
  assert_string_equal(g.err[3], "-");
  for(int i = 0; i < g.n; i++) /* never a live call */
    assert_string_not_equal(g.id[i], "live");
}

#endif
