/* SPDX-License-Identifier: MIT */
/* test_keeper_notify.c - commsNotifications -> track / end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keeper/notify.h"

static size_t parse(const char *body, struct kn_event *ev, size_t max)
{
  size_t n = 99;
  char err[128] = "";
  assert_int_equal(kn_parse(body, strlen(body), ev, max, &n, err, sizeof(err)),
                   0);
  return n;
}

static void test_graph_deleted(void **state)
{
  (void)state;
  struct kn_event ev[4];
  const char *body =
      "{\"@odata.type\":\"#microsoft.graph.commsNotifications\",\"value\":[{"
      "\"changeType\":\"deleted\",\"resourceUrl\":\"/communications/calls/"
      "57dab8b1-894c\",\"resourceData\":{\"state\":\"terminated\"}}]}";
  assert_int_equal(parse(body, ev, 4), 1);
  assert_int_equal(ev[0].action, KN_END);
  assert_string_equal(ev[0].call_id, "57dab8b1-894c");
  assert_string_equal(ev[0].tenant_id, "");
}

static void test_established_terminating_and_others(void **state)
{
  (void)state;
  struct kn_event ev[8];
  const char *body =
      "{\"value\":["
      "{\"changeType\":\"updated\",\"resourceUrl\":\"/app/communications/calls/"
      "a\",\"resourceData\":{\"state\":\"established\",\"tenantId\":\"t1\"}},"
      "{\"changeType\":\"updated\",\"resourceUrl\":\"/communications/calls/b\","
      "\"resourceData\":{\"state\":\"terminating\"}},"
      "{\"changeType\":\"updated\",\"resourceUrl\":\"/communications/calls/c/"
      "participants\",\"resourceData\":[{\"state\":\"established\"}]},"
      "{\"changeType\":\"updated\",\"resource\":\"communications/calls/d\","
      "\"tenantId\":\"t2\",\"resourceData\":[{\"state\":\"terminated\"}]},"
      "{\"changeType\":\"created\",\"resourceUrl\":\"/users/x/communications/"
      "calls/e\",\"resourceData\":{\"state\":\"established\"}},"
      "7, null, \"x\"]}";
  assert_int_equal(parse(body, ev, 8), 2);
  assert_int_equal(ev[0].action, KN_TRACK);
  assert_string_equal(ev[0].call_id, "a");
  assert_string_equal(ev[0].tenant_id, "t1");
  assert_int_equal(ev[1].action, KN_END);
  assert_string_equal(ev[1].call_id, "d");
  assert_string_equal(ev[1].tenant_id, "t2");
}

static void test_single_object_and_limits(void **state)
{
  (void)state;
  struct kn_event ev[1];
  const char *body = "{\"changeType\":\"deleted\",\"resourceUrl\":"
                     "\"/communications/calls/z\"}";
  assert_int_equal(parse(body, ev, 1), 1);
  assert_string_equal(ev[0].call_id, "z");
  /* more than max is refused whole, never cut quietly */
  const char *two = "{\"value\":[{\"changeType\":\"deleted\",\"resourceUrl\":"
                    "\"/communications/calls/1\"},{\"changeType\":\"deleted\","
                    "\"resourceUrl\":\"/communications/calls/2\"}]}";
  size_t n = 9;
  char err[128] = "";
  assert_int_equal(kn_parse(two, strlen(two), ev, 1, &n, err, sizeof(err)),
                   KN_TOO_MANY);
  assert_int_equal(n, 0);
  assert_true(err[0] != '\0');
}

/* 1,001 notifications (the first 1,000 about other resources): 413, not
 * the last one dropped. */
static void test_too_many_notifications(void **state)
{
  (void)state;
  static struct kn_event ev[KN_MAX_EVENTS];
  size_t cap = 16 + (KN_MAX_EVENTS + 1) * 80, len = 0;
  char *body = malloc(cap);
  assert_non_null(body);
  len += (size_t)snprintf(body + len, cap - len, "{\"value\":[");
  for(int i = 0; i <= KN_MAX_EVENTS; i++)
    len += (size_t)snprintf(body + len, cap - len,
                            "%s{\"changeType\":\"deleted\",\"resourceUrl\":"
                            "\"/communications/calls/c%d\"}",
                            i ? "," : "", i);
  len += (size_t)snprintf(body + len, cap - len, "]}");
  size_t n = 9;
  char err[128] = "";
  assert_int_equal(kn_parse(body, len, ev, KN_MAX_EVENTS, &n, err, sizeof(err)),
                   KN_TOO_MANY);
  assert_int_equal(n, 0);
  free(body);
}

/* A tenant the library would refuse, an over-long one, a call id with an
 * escape or a bidi override: 400, not tracked under the default tenant. */
static void test_bad_ids_refused(void **state)
{
  (void)state;
  struct kn_event ev[2];
  char longt[400];
  memset(longt, 'a', 300);
  longt[300] = '\0';
  char body[1024];
  const char *tenants[] = {"../../evil?x=#", longt, "t\\u001b]0;x\\u0007"};
  for(size_t i = 0; i < 3; i++) {
    snprintf(
        body, sizeof(body),
        "{\"resourceUrl\":\"/communications/calls/x\","
        "\"resourceData\":{\"state\":\"established\",\"tenantId\":\"%s\"}}",
        tenants[i]);
    size_t n = 9;
    char err[128] = "";
    assert_int_equal(kn_parse(body, strlen(body), ev, 2, &n, err, sizeof(err)),
                     -1);
    assert_int_equal(n, 0);
  }
  const char *ids[] = {"a\\u202Eb", "a\\u0085b"};
  for(size_t i = 0; i < 2; i++) {
    snprintf(body, sizeof(body),
             "{\"resourceUrl\":\"/communications/calls/%s\","
             "\"resourceData\":{\"state\":\"established\"}}",
             ids[i]);
    size_t n = 9;
    char err[128] = "";
    assert_int_equal(kn_parse(body, strlen(body), ev, 2, &n, err, sizeof(err)),
                     -1);
  }
}

static void test_bad_bodies(void **state)
{
  (void)state;
  struct kn_event ev[2];
  size_t n = 5;
  char err[128];
  const char *bad[] = {"", "nope", "[1,2]", "{\"value\":3}", "\"s\""};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    assert_int_equal(
        kn_parse(bad[i], strlen(bad[i]), ev, 2, &n, err, sizeof(err)), -1);
    assert_int_equal(n, 0);
    assert_true(err[0] != '\0');
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_graph_deleted),
      cmocka_unit_test(test_established_terminating_and_others),
      cmocka_unit_test(test_single_object_and_limits),
      cmocka_unit_test(test_bad_bodies),
      cmocka_unit_test(test_too_many_notifications),
      cmocka_unit_test(test_bad_ids_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
