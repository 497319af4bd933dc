/* SPDX-License-Identifier: MIT */
/* test_emu_calls.c - the emulator's call store and its timer heap, on a
 * fake clock: establishing -> established, keepAlive postpones the end,
 * inactivity ends a call with events, retention drops it, ids, listing,
 * restore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "calls.h"
#include "timer_heap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t fake_now = 1000000;
static int64_t fake_clock(void)
{
  return fake_now;
}

struct events {
  int established, ended;
  char last_id[37];
  enum emu_end_reason last_reason;
};

static void on_event(void *ctx, enum emu_call_event ev,
                     const struct emu_call_info *c)
{
  struct events *e = ctx;
  if(ev == EMU_EVENT_ESTABLISHED)
    e->established++;
  else {
    e->ended++;
    e->last_reason = c->end_reason;
  }
  memcpy(e->last_id, c->id, 37);
}

static struct emu_calls *store(struct events *e)
{
  struct emu_calls_config cfg = {2000, 100, 5000, 0, fake_clock};
  memset(e, 0, sizeof(*e));
  return emu_calls_new(&cfg, on_event, e);
}

static void test_lifecycle(void **state)
{
  (void)state;
  struct events e;
  struct emu_calls *s = store(&e);
  struct emu_call_info c, g;
  memset(&g, 0, sizeof(g));
  assert_int_equal(emu_calls_create(s, "t", "a", "http://127.0.0.1/cb",
                                    EMU_MOD_AUDIO, EMU_MEDIA_SERVICE, &c),
                   EMU_CALLS_OK);
  assert_int_equal(c.state, EMU_CALL_ESTABLISHING);
  assert_int_equal(strlen(c.id), 36);
  assert_int_equal(c.id[14], '4');

  fake_now += 99;
  assert_int_equal(emu_calls_run_due(s), 0);
  fake_now += 1;
  assert_int_equal(emu_calls_run_due(s), 1);
  assert_int_equal(e.established, 1);
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_get(s, c.id, &g), EMU_CALLS_OK);
  assert_int_equal(g.state, EMU_CALL_ESTABLISHED);

  /* keepAlive at +1900 moves the deadline to +3900 */
  fake_now += 1800;
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_keepalive(s, c.id, "t", &g), EMU_CALLS_OK);
  assert_int_equal(g.keepalives, 1);
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_keepalive(s, c.id, "other", &g),
                   EMU_CALLS_WRONG_TENANT);
  fake_now += 1999;
  assert_int_equal(emu_calls_run_due(s), 0);
  assert_int_equal(e.ended, 0);
  fake_now += 1;
  /* due but not yet fired: already refused */
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_keepalive(s, c.id, "t", &g), EMU_CALLS_NOT_FOUND);
  assert_int_equal(emu_calls_run_due(s), 1);
  assert_int_equal(e.ended, 1);
  assert_int_equal(e.last_reason, EMU_END_TIMEOUT);
  assert_string_equal(e.last_id, c.id);
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_get(s, c.id, &g), EMU_CALLS_OK);
  assert_int_equal(g.state, EMU_CALL_TERMINATED);
  assert_int_equal(g.end_reason, EMU_END_TIMEOUT);

  struct emu_calls_stats st;
  emu_calls_get_stats(s, &st);
  assert_int_equal(st.created, 1);
  assert_int_equal(st.ended_timeout, 1);
  assert_int_equal(st.active, 0);
  assert_int_equal(st.ended, 1);

  /* retention: dropped 5 s after the end */
  fake_now += 4999;
  assert_int_equal(emu_calls_run_due(s), 0);
  fake_now += 1;
  emu_calls_run_due(s);
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_get(s, c.id, &g), EMU_CALLS_NOT_FOUND);
  emu_calls_get_stats(s, &st);
  assert_int_equal(st.ended, 0);
  assert_int_equal(st.dropped, 1);
  emu_calls_info_release(&g);
  emu_calls_info_release(&c);
  emu_calls_free(s);
}

static void test_end_and_ids(void **state)
{
  (void)state;
  struct events e;
  struct emu_calls *s = store(&e);
  struct emu_call_info c, g;
  memset(&g, 0, sizeof(g));
  assert_int_equal(emu_calls_create(s, "t", "a", "", 0, 0, &c), EMU_CALLS_OK);
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_end(s, c.id, "x", EMU_END_DELETED, &g),
                   EMU_CALLS_WRONG_TENANT);
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_end(s, c.id, "t", EMU_END_DELETED, &g),
                   EMU_CALLS_OK);
  assert_int_equal(e.ended, 1);
  assert_int_equal(e.last_reason, EMU_END_DELETED);
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_end(s, c.id, "t", EMU_END_DELETED, &g),
                   EMU_CALLS_NOT_FOUND);
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_keepalive(s, c.id, NULL, &g), EMU_CALLS_NOT_FOUND);
  const char *bad[] = {"",
                       "x",
                       "0e0c4a43-6a1b-4d35-9f4e-5f1e5b1d2c3",
                       "0e0c4a43-6a1b-4d35-9f4e-5f1e5b1d2c3ag",
                       "0e0c4a43x6a1b-4d35-9f4e-5f1e5b1d2c3a",
                       "00000000-0000-4000-8000-000000000000"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    emu_calls_info_release(&g);
    assert_int_equal(emu_calls_keepalive(s, bad[i], NULL, &g),
                     EMU_CALLS_NOT_FOUND);
  }
  /* upper-case ids name the same call */
  char upper[37];
  for(size_t i = 0; i < 37; i++)
    upper[i] =
        (char)(c.id[i] >= 'a' && c.id[i] <= 'f' ? c.id[i] - 32 : c.id[i]);
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_get(s, upper, &g), EMU_CALLS_OK);
  emu_calls_info_release(&g);
  emu_calls_info_release(&c);
  emu_calls_free(s);
}

static void test_many_and_list(void **state)
{
  (void)state;
  struct events e;
  struct emu_calls *s = store(&e);
  enum { N = 20000 };
  char(*ids)[37] = malloc(N * sizeof(*ids));
  assert_non_null(ids);
  struct emu_call_info c;
  for(int i = 0; i < N; i++) {
    assert_int_equal(
        emu_calls_create(s, i % 2 ? "t1" : "t2", "a", "cb", 1, 0, &c),
        EMU_CALLS_OK);
    memcpy(ids[i], c.id, 37);
    emu_calls_info_release(&c);
  }
  /* keep the odd ones alive, let the even ones end */
  fake_now += 1500;
  for(int i = 1; i < N; i += 2)
    assert_int_equal(emu_calls_keepalive(s, ids[i], "t1", NULL), EMU_CALLS_OK);
  fake_now += 600;
  emu_calls_run_due(s);
  assert_int_equal(e.ended, N / 2);
  for(int i = 0; i < N; i++) {
    struct emu_call_info g;
    assert_int_equal(emu_calls_get(s, ids[i], &g), EMU_CALLS_OK);
    assert_int_equal(g.state,
                     i % 2 ? EMU_CALL_ESTABLISHED : EMU_CALL_TERMINATED);
    emu_calls_info_release(&g);
  }
  /* drop the ended ones; the odd ones (ended meanwhile, not yet dropped)
   * stay findable while entries are removed around them */
  fake_now += 5100;
  emu_calls_run_due(s);
  for(int i = 0; i < N; i++)
    assert_int_equal(emu_calls_get(s, ids[i], NULL),
                     i % 2 ? EMU_CALLS_OK : EMU_CALLS_NOT_FOUND);
  size_t pos = 0, total = 0, n;
  struct emu_call_info buf[100];
  while((n = emu_calls_list(s, &pos, buf, 100))) {
    for(size_t i = 0; i < n; i++)
      emu_calls_info_release(&buf[i]);
    total += n;
  }
  assert_int_equal(total, N / 2);
  free(ids);
  emu_calls_free(s);
}

static void test_restore(void **state)
{
  (void)state;
  struct events e;
  struct emu_calls *s = store(&e);
  struct emu_call_info c, in, g;
  memset(&g, 0, sizeof(g));
  assert_int_equal(emu_calls_create(s, "t", "a", "cb", 1, 0, &c), EMU_CALLS_OK);
  in = c;
  assert_int_equal(emu_calls_restore(s, &in), EMU_CALLS_INVALID); /* dup */
  snprintf(in.id, sizeof(in.id), "11111111-2222-4333-8444-555555555555");
  in.state = EMU_CALL_ESTABLISHED;
  in.keepalives = 9;
  assert_int_equal(emu_calls_restore(s, &in), EMU_CALLS_OK);
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_get(s, in.id, &g), EMU_CALLS_OK);
  assert_int_equal(g.keepalives, 9);
  assert_string_equal(g.callback, "cb");
  assert_int_equal(g.created_ms, c.created_ms);
  snprintf(in.id, sizeof(in.id), "not-a-uuid");
  assert_int_equal(emu_calls_restore(s, &in), EMU_CALLS_INVALID);
  emu_calls_info_release(&g);
  emu_calls_info_release(&c);
  emu_calls_free(s);
}

/* Interned strings live as long as the calls using them (and the infos
 * holding them): fresh tenant/app/callbackUri strings on every call never
 * exhaust the table, and they are freed when the calls are forgotten. */
static void test_strings_freed(void **state)
{
  (void)state;
  struct events e;
  struct emu_calls *s = store(&e);
  enum { N = 25000 }; /* 75,000 distinct strings; the old table held 65,536 */
  char t[32], a[32], cb[64];
  struct emu_call_info c, pinned;
  struct emu_calls_stats st;
  for(int i = 0; i < N; i++) {
    snprintf(t, sizeof(t), "tenant-%d", i);
    snprintf(a, sizeof(a), "app-%d", i);
    snprintf(cb, sizeof(cb), "http://127.0.0.1/cb/%d", i);
    assert_int_equal(emu_calls_create(s, t, a, cb, 1, 0, &c), EMU_CALLS_OK);
    if(i == 0)
      pinned = c; /* held past the call's end and drop */
    else
      emu_calls_info_release(&c);
  }
  /* shared strings count once */
  assert_int_equal(emu_calls_create(s, "tenant-1", "app-1", "", 1, 0, &c),
                   EMU_CALLS_OK);
  emu_calls_info_release(&c);
  emu_calls_get_stats(s, &st);
  assert_int_equal(st.strings, 3 * N);
  /* every call times out (2 s), then is forgotten (5 s later) */
  fake_now += 2000;
  emu_calls_run_due(s);
  fake_now += 5000;
  emu_calls_run_due(s);
  emu_calls_get_stats(s, &st);
  assert_int_equal(st.dropped, N + 1);
  assert_int_equal(st.strings, 0);
  /* the pinned copy is still readable (ASan would see a use after free) */
  assert_string_equal(pinned.tenant, "tenant-0");
  assert_string_equal(pinned.callback, "http://127.0.0.1/cb/0");
  emu_calls_info_release(&pinned);
  emu_calls_info_release(&pinned); /* a second release is a no-op */
  /* the slots are used again */
  assert_int_equal(emu_calls_create(s, "again", "app", "cb", 1, 0, &c),
                   EMU_CALLS_OK);
  assert_string_equal(c.tenant, "again");
  emu_calls_info_release(&c);
  emu_calls_get_stats(s, &st);
  assert_int_equal(st.strings, 3);
  emu_calls_free(s);
}

static void moved(void *ctx, uint32_t item, uint32_t pos)
{
  uint32_t *where = ctx;
  where[item] = pos;
}

static void test_heap(void **state)
{
  (void)state;
  uint32_t where[64];
  struct emu_timer_heap h;
  emu_heap_init(&h, moved, where);
  for(uint32_t i = 0; i < 64; i++)
    assert_int_equal(emu_heap_push(&h, (int64_t)((i * 37) % 64), i), 0);
  emu_heap_update(&h, where[5], -1); /* now the earliest */
  assert_int_equal(emu_heap_top(&h)->item, 5);
  emu_heap_update(&h, where[5], 1000); /* now the latest */
  emu_heap_remove(&h, where[7]);
  assert_int_equal(where[7], EMU_HEAP_NONE);
  int64_t last = -100;
  uint32_t count = 0, final_item = 0;
  while(emu_heap_top(&h)) {
    const struct emu_timer *t = emu_heap_top(&h);
    assert_true(t->due >= last);
    last = t->due;
    final_item = t->item;
    emu_heap_remove(&h, 0);
    count++;
  }
  assert_int_equal(count, 63);
  assert_int_equal(final_item, 5);
  /* equal due times fire in insertion order */
  for(uint32_t i = 0; i < 10; i++)
    emu_heap_push(&h, 42, i);
  for(uint32_t i = 0; i < 10; i++) {
    assert_int_equal(emu_heap_top(&h)->item, i);
    emu_heap_remove(&h, 0);
  }
  emu_heap_release(&h);
}

static void test_uuid(void **state)
{
  (void)state;
  uint8_t b[16];
  char s[37];
  assert_int_equal(emu_uuid_parse("0E0C4A43-6A1B-4D35-9F4E-5F1E5B1D2C3A", b),
                   0);
  emu_uuid_format(b, s);
  assert_string_equal(s, "0e0c4a43-6a1b-4d35-9f4e-5f1e5b1d2c3a");
  emu_uuid_new(s);
  assert_int_equal(emu_uuid_parse(s, b), 0);
  assert_int_equal(b[6] >> 4, 4);
  assert_int_equal(b[8] >> 6, 2);
}

/* maxGapMs per call and maxKeepAliveGapMs in the stats: the longest time
 * without a successful keepAlive, from creation, open gaps included, and a
 * call ended by timeout counts its whole gap. */
static void test_keepalive_gaps(void **state)
{
  (void)state;
  struct events e;
  struct emu_calls *s = store(&e); /* inactivity 2000 ms */
  struct emu_call_info a, b, g;
  struct emu_calls_stats st;
  assert_int_equal(emu_calls_create(s, "t", "a", "", 0, 0, &a), EMU_CALLS_OK);
  assert_int_equal(a.max_gap_ms, 0);
  emu_calls_info_release(&a); /* the id stays valid: it is a copy */
  fake_now += 300;
  assert_int_equal(emu_calls_create(s, "t", "a", "", 0, 0, &b), EMU_CALLS_OK);
  emu_calls_info_release(&b);
  emu_calls_get_stats(s, &st);
  assert_int_equal(st.open_gap_ms, 300);
  fake_now += 1200; /* a: 1500 without a keepAlive (open) */
  emu_calls_get_stats(s, &st);
  assert_int_equal(st.max_gap_ms, 1500);
  assert_int_equal(st.open_gap_ms, 1500);
  assert_int_equal(emu_calls_keepalive(s, a.id, NULL, &g), EMU_CALLS_OK);
  assert_int_equal(g.max_gap_ms, 1500);
  fake_now += 400; /* a: 400 open; b: 1600 open */
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_get(s, a.id, &g), EMU_CALLS_OK);
  assert_int_equal(g.max_gap_ms, 1500);
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_get(s, b.id, &g), EMU_CALLS_OK);
  assert_int_equal(g.max_gap_ms, 1600);
  emu_calls_get_stats(s, &st);
  assert_int_equal(st.max_gap_ms, 1600);
  assert_int_equal(st.open_gap_ms, 1600); /* b's */
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_keepalive(s, a.id, NULL, &g), EMU_CALLS_OK);
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_keepalive(s, b.id, NULL, &g), EMU_CALLS_OK);
  assert_int_equal(g.max_gap_ms, 1600);
  emu_calls_get_stats(s, &st);
  assert_int_equal(st.open_gap_ms, 0); /* both just kept alive */
  assert_int_equal(st.max_gap_ms, 1600);
  /* b is hung up 100 ms later: closed at 1600 */
  fake_now += 100;
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_end(s, b.id, NULL, EMU_END_DELETED, &g),
                   EMU_CALLS_OK);
  assert_int_equal(g.max_gap_ms, 1600);
  /* a goes silent: ended by the inactivity timeout when the timer runs,
   * 5100 ms after its last keepAlive here: its whole gap counts */
  fake_now += 5000;
  emu_calls_run_due(s);
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_get(s, a.id, &g), EMU_CALLS_OK);
  assert_int_equal(g.state, EMU_CALL_TERMINATED);
  assert_int_equal(g.end_reason, EMU_END_TIMEOUT);
  assert_int_equal(g.max_gap_ms, 5100);
  emu_calls_get_stats(s, &st);
  assert_int_equal(st.max_gap_ms, 5100);
  assert_int_equal(st.open_gap_ms, 0); /* no live call */
  /* dropped after retention: the figure stays */
  fake_now += 10000;
  emu_calls_run_due(s);
  emu_calls_info_release(&g);
  assert_int_equal(emu_calls_get(s, a.id, &g), EMU_CALLS_NOT_FOUND);
  emu_calls_get_stats(s, &st);
  assert_int_equal(st.max_gap_ms, 5100);
  /* a restored call keeps its figure */
  struct emu_call_info in = g;
  memset(&in, 0, sizeof(in));
  snprintf(in.id, sizeof(in.id), "%s", a.id);
  in.state = EMU_CALL_TERMINATED;
  in.end_reason = EMU_END_DELETED;
  in.created_ms = 1;
  in.ended_ms = 2;
  in.max_gap_ms = 9999;
  in.tenant = in.app = in.callback = "";
  assert_int_equal(emu_calls_restore(s, &in), EMU_CALLS_OK);
  emu_calls_get_stats(s, &st);
  assert_int_equal(st.max_gap_ms, 9999);
  emu_calls_info_release(&g);
  emu_calls_free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lifecycle),     cmocka_unit_test(test_end_and_ids),
      cmocka_unit_test(test_many_and_list), cmocka_unit_test(test_restore),
      cmocka_unit_test(test_heap),          cmocka_unit_test(test_uuid),
      cmocka_unit_test(test_strings_freed),

      cmocka_unit_test(test_keepalive_gaps)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
