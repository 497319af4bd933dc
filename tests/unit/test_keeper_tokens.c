/* SPDX-License-Identifier: MIT */
/* test_keeper_tokens.c - the keeper's proactive token refresh: margins,
 * when each tenant's token is looked at, looking again while a request is
 * under way, forgetting idle tenants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "keeper/tokenrefresh.h"

#define SEC 1000

/* A fake token source: one token per tenant, expiring at exp_s (seconds on
 * the same clock as now), lifetime life_s.  With async set, a new token is
 * a request under way (*pending) that is answered by the next call. */
struct fake {
  int64_t now_ms;
  long life_s;
  int64_t exp_s;
  int calls, fetched, fail, async, requested, last_asked;
  long last_min;
  char last_tenant[32];
};

static int fetch(void *ud, const char *tenant, long min_remaining_s, int asked,
                 int *pending, long *remaining_s, long *lifetime_s)
{
  struct fake *f = ud;
  f->calls++;
  f->last_min = min_remaining_s;
  f->last_asked = asked;
  *pending = 0;
  snprintf(f->last_tenant, sizeof(f->last_tenant), "%s", tenant ? tenant : "-");
  if(f->fail)
    return 1;
  int64_t now_s = f->now_ms / 1000;
  if(f->exp_s - now_s < min_remaining_s || f->exp_s <= now_s) {
    if(f->async && !f->requested) {
      f->requested = 1; /* sent; answered by the next call */
      *pending = 1;
      return 0;
    }
    f->requested = 0;
    f->exp_s = now_s + f->life_s; /* a new token */
    f->fetched++;
  }
  *remaining_s = (long)(f->exp_s - now_s);
  *lifetime_s = f->life_s;
  return 0;
}

static void test_margin(void **state)
{
  (void)state;
  assert_int_equal(ktr_margin_s(3600), 600); /* 10 minutes */
  assert_int_equal(ktr_margin_s(5400), 600);
  assert_int_equal(ktr_margin_s(-1), 600); /* unknown */
  assert_int_equal(ktr_margin_s(900), 600);
  assert_int_equal(ktr_margin_s(600), 450); /* halfway to the library's 5 min */
  assert_int_equal(ktr_margin_s(320), 310);
  assert_int_equal(ktr_margin_s(300), 0); /* left to the library */
  assert_int_equal(ktr_margin_s(301), 0);
  assert_int_equal(ktr_margin_s(20), 0);
  /* always more than the library's margin, always less than the lifetime */
  for(long life = 302; life < 10000; life += 7) {
    assert_true(ktr_margin_s(life) > KTR_LIBRARY_MARGIN_S);
    assert_true(ktr_margin_s(life) < life);
  }
}

static void test_refresh_ahead(void **state)
{
  (void)state;
  struct fake f = {.now_ms = 1000 * SEC, .life_s = 3600};
  struct ktr *t = ktr_new(3600 * SEC);
  assert_non_null(t);
  /* nothing known: nothing to do */
  assert_int_equal(ktr_run(t, f.now_ms, fetch, &f), 0);
  ktr_touch(t, "t1", f.now_ms);
  ktr_touch(t, "t1", f.now_ms);
  assert_int_equal(ktr_count(t), 1);
  /* first look: just get the token (margin 0), learn its lifetime */
  assert_int_equal(ktr_run(t, f.now_ms, fetch, &f), 1);
  assert_int_equal(f.last_min, 0);
  assert_string_equal(f.last_tenant, "t1");
  assert_int_equal(f.fetched, 1);
  /* no look again until 10 minutes before expiry */
  f.now_ms += 2999 * SEC; /* 601 s left */
  assert_int_equal(ktr_run(t, f.now_ms, fetch, &f), 0);
  f.now_ms += 1 * SEC; /* 600 s left: the next second is the look */
  assert_int_equal(ktr_run(t, f.now_ms, fetch, &f), 0);
  f.now_ms += 1 * SEC; /* 599 s left */
  ktr_touch(t, "t1", f.now_ms);
  assert_int_equal(ktr_run(t, f.now_ms, fetch, &f), 1);
  assert_int_equal(f.last_min, 600);
  assert_int_equal(f.fetched, 2); /* refreshed with 599 s left, not 300 */
  assert_int_equal(f.exp_s, f.now_ms / 1000 + 3600);
  ktr_free(t);
}

/* A request under way is looked at again after KTR_PENDING_MS, never sent
 * twice, and its answer comes with asked = 1. */
static void test_pending(void **state)
{
  (void)state;
  struct fake f = {.now_ms = 0, .life_s = 320, .async = 1};
  struct ktr *t = ktr_new(3600 * SEC);
  ktr_touch(t, NULL, 0);
  assert_int_equal(ktr_run(t, 0, fetch, &f), 1); /* sent */
  assert_string_equal(f.last_tenant, "-");
  assert_int_equal(f.fetched, 0);
  assert_int_equal(ktr_run(t, KTR_PENDING_MS - 1, fetch, &f), 0);
  f.now_ms = KTR_PENDING_MS;
  assert_int_equal(ktr_run(t, KTR_PENDING_MS, fetch, &f), 1); /* answered */
  assert_int_equal(f.last_asked, 1);
  assert_int_equal(f.fetched, 1);
  /* 320 s tokens: margin 310, next look when 309 s are left (at 12 s) */
  assert_int_equal(ktr_run(t, 11 * SEC, fetch, &f), 0);
  f.now_ms = 12 * SEC;
  assert_int_equal(ktr_run(t, 12 * SEC, fetch, &f), 1);
  assert_int_equal(f.last_min, 310);
  assert_int_equal(f.last_asked, 0);
  assert_int_equal(f.fetched, 1); /* under way */
  f.now_ms = 13 * SEC;
  assert_int_equal(ktr_run(t, 13 * SEC, fetch, &f), 1);
  assert_int_equal(f.last_asked, 1);
  assert_int_equal(f.fetched, 2);
  assert_int_equal(f.exp_s, 13 + 320);
  ktr_free(t);
}

static void test_failures_and_idle(void **state)
{
  (void)state;
  struct fake f = {.now_ms = 0, .life_s = 3600, .fail = 1};
  struct ktr *t = ktr_new(60 * SEC);
  ktr_touch(t, "a", 0);
  ktr_touch(t, "b", 0);
  assert_int_equal(ktr_run(t, 0, fetch, &f), 2);
  /* failed: tried again after KTR_RETRY_MS, not before */
  assert_int_equal(ktr_run(t, KTR_RETRY_MS - 1, fetch, &f), 0);
  f.fail = 0;
  assert_int_equal(ktr_run(t, KTR_RETRY_MS, fetch, &f), 2);
  /* short-lived tokens (<= 5 min) are left to the library */
  struct fake g = {.now_ms = 0, .life_s = 20};
  struct ktr *u = ktr_new(3600 * SEC);
  ktr_touch(u, "s", 0);
  assert_int_equal(ktr_run(u, 0, fetch, &g), 1);
  g.now_ms = 60 * SEC;
  assert_int_equal(ktr_run(u, 60 * SEC, fetch, &g), 0);
  ktr_free(u);
  /* "b" idle for more than a minute is forgotten; "a" is kept */
  ktr_touch(t, "a", 50 * SEC);
  assert_int_equal(ktr_count(t), 2);
  ktr_run(t, 61 * SEC, fetch, &f);
  assert_int_equal(ktr_count(t), 1);
  ktr_free(t);
}

static void test_bounded(void **state)
{
  (void)state;
  struct ktr *t = ktr_new(3600 * SEC);
  char id[32];
  for(int i = 0; i < KTR_MAX_TENANTS + 10; i++) {
    snprintf(id, sizeof(id), "tenant-%d", i);
    ktr_touch(t, id, 0);
  }
  assert_int_equal(ktr_count(t), KTR_MAX_TENANTS);
  ktr_free(t);
  ktr_free(NULL);
  assert_int_equal(ktr_run(NULL, 0, fetch, NULL), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_margin),  cmocka_unit_test(test_refresh_ahead),
      cmocka_unit_test(test_pending), cmocka_unit_test(test_failures_and_idle),
      cmocka_unit_test(test_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
