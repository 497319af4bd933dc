/* SPDX-License-Identifier: MIT */
/* test_keeper_guard.c - what the control API decides before a handler
 * runs: Host, Origin and Content-Type rules, the call id of a raw path,
 * the body budget; and its request parsers: POST /calls bodies (kregs) and
 * GET /calls queries (kpage). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keeper/api_guard.h"
#include "keeper/page.h"
#include "keeper/regs.h"

static struct kguard *guard_on(const char *addr, const char *const *allowed)
{
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  socklen_t len;
  if(strchr(addr, ':')) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, addr, &a->sin6_addr), 1);
    len = sizeof(*a);
  }
  else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, addr, &a->sin_addr), 1);
    len = sizeof(*a);
  }
  struct kguard *g = kguard_new((struct sockaddr *)&ss, len, allowed);
  assert_non_null(g);
  return g;
}

static void test_host_rules(void **state)
{
  (void)state;
  const char *const allowed[] = {"keeper.internal", NULL};
  struct kguard *g = guard_on("127.0.0.1", allowed);
  const char *good[] = {
      NULL,          "127.0.0.1",  "127.0.0.1:8787",  "localhost",
      "LOCALHOST:1", "localhost.", "keeper.internal", "Keeper.Internal:443"};
  for(size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    assert_true(kguard_host_ok(g, good[i]));
  const char *bad[] = {"",
                       "attacker.example",
                       "attacker.example:8787",
                       "127.0.0.2",
                       "[::1]:8787",
                       "127.0.0.1:x",
                       "127.0.0.1:1234567",
                       "localhost:",
                       "keeper.internal.attacker.example",
                       "keeper.internal@attacker.example",
                       "127.0.0.1.nip.io"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_false(kguard_host_ok(g, bad[i]));
  /* Origin */
  assert_true(kguard_origin_ok(g, NULL));
  assert_true(kguard_origin_ok(g, "http://127.0.0.1:8787"));
  assert_true(kguard_origin_ok(g, "https://keeper.internal"));
  assert_false(kguard_origin_ok(g, "null"));
  assert_false(kguard_origin_ok(g, "http://attacker.example"));
  assert_false(kguard_origin_ok(g, "file://"));
  assert_false(kguard_origin_ok(g, "http://user@127.0.0.1"));
  assert_false(kguard_origin_ok(g, "http://127.0.0.1/path"));
  kguard_free(g);

  /* a wildcard listen address takes any address literal, not names */
  g = guard_on("0.0.0.0", NULL);
  assert_true(kguard_host_ok(g, "10.1.2.3:8787"));
  assert_true(kguard_host_ok(g, "[fe80::1]"));
  assert_false(kguard_host_ok(g, "localhost")); /* not loopback */
  assert_false(kguard_host_ok(g, "attacker.example"));
  kguard_free(g);
  g = guard_on("::1", NULL);
  assert_true(kguard_host_ok(g, "[::1]:8787"));
  assert_true(kguard_host_ok(g, "localhost"));
  assert_false(kguard_host_ok(g, "127.0.0.1"));
  kguard_free(g);
}

static void test_content_type(void **state)
{
  (void)state;
  assert_true(kguard_is_json("application/json"));
  assert_true(kguard_is_json("Application/JSON; charset=utf-8"));
  assert_true(kguard_is_json(" application/json ;x=y"));
  assert_false(kguard_is_json(NULL));
  assert_false(kguard_is_json("text/plain"));
  assert_false(kguard_is_json("application/x-www-form-urlencoded"));
  assert_false(kguard_is_json("multipart/form-data"));
  assert_false(kguard_is_json("application/jsonx"));
}

static void test_path_id(void **state)
{
  (void)state;
  char *id = kguard_path_id("/calls/a%2Fb%20c?x=1");
  assert_non_null(id);
  assert_string_equal(id, "a/b c");
  free(id);
  const char *bad[] = {"/calls/victim%00junk",
                       "/calls/%zz",
                       "/calls/a%2",
                       "/calls/",
                       "/calls/%1b]0;x",
                       "/calls/%E2%80%AEx",
                       "/other/x",
                       "/calls/%C2%85"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_null(kguard_path_id(bad[i]));
}

static void test_budget(void **state)
{
  (void)state;
  struct kguard *g = guard_on("127.0.0.1", NULL);
  assert_int_equal(kguard_reserve(g, KGUARD_BODY_BUDGET - 10), 0);
  assert_int_equal(kguard_reserve(g, 11), -1);
  assert_int_equal(kguard_reserve(g, 10), 0);
  assert_int_equal(kguard_in_use(g), KGUARD_BODY_BUDGET);
  kguard_release(g, KGUARD_BODY_BUDGET);
  assert_int_equal(kguard_in_use(g), 0);
  assert_int_equal(kguard_reserve(g, (size_t)-1), -1);
  uint64_t dropped = 99;
  for(int i = 0; i < KGUARD_LOG_BURST; i++)
    assert_true(kguard_log_allowed(g, &dropped));
  assert_false(kguard_log_allowed(g, &dropped));
  assert_false(kguard_log_allowed(g, &dropped));
  kguard_free(g);
}

static int regs(const char *body, size_t max, struct kregs *r, char *why)
{
  return kregs_parse(body, strlen(body), max, r, why, 300);
}

static void test_regs(void **state)
{
  (void)state;
  struct kregs r;
  char why[300];
  assert_int_equal(
      regs(" {\"callId\":\"a\",\"tenantId\":\"t-1\"} ", 5, &r, why), 0);
  assert_int_equal(r.n, 1);
  assert_false(r.bulk);
  assert_string_equal(r.v[0].call_id, "a");
  assert_string_equal(r.v[0].tenant_id, "t-1");
  kregs_release(&r);
  assert_int_equal(
      regs("[{\"callId\":\"a,]\"} , {\"callId\":\"b\\\"[\",\"startedAt\":"
           "\"2026-01-31T12:00:00Z\"}]",
           5, &r, why),
      0);
  assert_int_equal(r.n, 2);
  assert_true(r.bulk);
  assert_string_equal(r.v[0].call_id, "a,]");
  assert_string_equal(r.v[1].call_id, "b\"[");
  assert_true(r.v[1].started_ms > 0);
  kregs_release(&r);
  /* counted before parsed: the 4th element is never looked at */
  assert_int_equal(regs("[{},{},{},{},garbage", 3, &r, why), 413);
  assert_non_null(strstr(why, "too many"));
  assert_int_equal(r.n, 0);
  const char *bad[] = {"",
                       "[]",
                       "[ ]",
                       "[{\"callId\":\"a\"},]",
                       "[,{\"callId\":\"a\"}]",
                       "[{\"callId\":\"a\"}",
                       "[{\"callId\":\"a\"}] x",
                       "[{\"callId\":\"a\"} {\"callId\":\"b\"}]",
                       "{\"callId\":\"a\"",
                       "[1]",
                       "{\"callId\":\"\"}",
                       "{\"callId\":\"a\\u0000b\"}",
                       "{\"callId\":\"a\\u001bb\"}",
                       "{\"callId\":\"a\\u202eb\"}",
                       "{\"callId\":\"a\",\"tenantId\":\"../../evil?x=#\"}",
                       "{\"callId\":\"a\",\"tenantId\":\"\"}",
                       "{\"callId\":\"a\",\"startedAt\":\"yesterday\"}",
                       "{\"callId\":\"a\",\"callId\":\"b\"}",
                       "[{\"callId\":\"a\"}]]"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    why[0] = '\0';
    assert_int_equal(regs(bad[i], 5, &r, why), 400);
    assert_true(why[0] != '\0');
    assert_int_equal(r.n, 0);
  }
  assert_int_equal(regs("[{\"callId\":\"a\"},{\"callId\":7}]", 5, &r, why),
                   400);
  assert_non_null(strstr(why, "registration 2"));
  /* an element over KREGS_MAX_ELEMENT is refused unparsed */
  size_t n = KREGS_MAX_ELEMENT + 100;
  char *big = malloc(n + 1);
  assert_non_null(big);
  memset(big, ' ', n);
  memcpy(big, "[{\"callId\":\"a\",\"x\":[", 20);
  memcpy(big + n - 3, "]}]", 3);
  big[n] = '\0';
  assert_int_equal(kregs_parse(big, n, 5, &r, why, sizeof(why)), 400);
  assert_non_null(strstr(why, "at most"));
  free(big);
}

static void test_page_query(void **state)
{
  (void)state;
  struct kpage_query q;
  char why[200];
  assert_int_equal(kpage_parse(NULL, NULL, NULL, 0, &q, why, sizeof(why)), 0);
  assert_int_equal(q.limit, KPAGE_DEFAULT_LIMIT);
  assert_int_equal(q.states, 0);
  assert_string_equal(q.after, "");
  assert_int_equal(
      kpage_parse("at-risk", "10000", "x/y", 3, &q, why, sizeof(why)), 0);
  assert_int_equal(q.states, KSTORE_STATE_AT_RISK);
  assert_int_equal(q.limit, 10000);
  assert_string_equal(q.after, "x/y");
  assert_int_equal(kpage_parse("bogus", NULL, NULL, 0, &q, why, sizeof(why)),
                   -1);
  const char *limits[] = {"0",  "10001", "-1", "+5",
                          "5x", "",      " 5", "99999999999999999999"};
  for(size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
    assert_int_equal(
        kpage_parse(NULL, limits[i], NULL, 0, &q, why, sizeof(why)), -1);
  assert_int_equal(kpage_parse(NULL, NULL, "a\0b", 3, &q, why, sizeof(why)),
                   -1);
  assert_int_equal(kpage_parse(NULL, NULL, "a\x1b", 2, &q, why, sizeof(why)),
                   -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_host_rules), cmocka_unit_test(test_content_type),
      cmocka_unit_test(test_path_id),    cmocka_unit_test(test_budget),
      cmocka_unit_test(test_regs),       cmocka_unit_test(test_page_query),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
