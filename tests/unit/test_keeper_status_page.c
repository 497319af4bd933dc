/* SPDX-License-Identifier: MIT */
/* test_keeper_status_page.c - the status page's renderer
 * (keeper/status_page.h): counts, the order of the rows, durations,
 * escaping of hostile ids and errors, no script and no external asset,
 * the fleet section only in fleet mode, the largest snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keeper/status_page.h"

#define NOW 1764547200000LL /* 2025-12-01T00:00:00Z */

static char *s_(const char *s)
{
  char *d = strdup(s);
  assert_non_null(d);
  return d;
}

static void live(struct ksp_snapshot *s, const char *id, const char *state,
                 int64_t left_ms)
{
  struct ksp_call *c = &s->worst[s->nworst++];
  c->call_id = s_(id);
  c->state = s_(state);
  c->deadline_ms = NOW + left_ms;
  c->last_success_ms = NOW - 61000;
  c->failures = 2;
  c->last_error = s_("HTTP 503 serviceNotAvailable: <b>busy</b>");
}

static void ended(struct ksp_snapshot *s, const char *id, const char *reason,
                  const char *hook)
{
  struct ksp_call *c = &s->latest[s->nlatest++];
  c->call_id = s_(id);
  c->tenant_id = s_("tenant-a");
  c->state = s_(strcmp(reason, "lost") ? "ended" : "lost");
  c->reason = s_(reason);
  c->ended_ms = NOW - 5000;
  if(hook)
    c->hook = s_(hook);
  c->hook_attempts = 3;
}

static int count(const char *hay, const char *needle)
{
  int n = 0;
  for(const char *p = hay; (p = strstr(p, needle)); p++)
    n++;
  return n;
}

static void test_figures_and_order(void **state)
{
  (void)state;
  struct ksp_snapshot s = {0};
  s.now_ms = NOW;
  s.active = 1234;
  s.at_risk = 2;
  s.ended = 7;
  s.lost = 1;
  live(&s, "first", "at-risk", 65000);
  live(&s, "second", "at-risk", -3000);
  live(&s, "third", "active", 7322000);
  ended(&s, "gone-1", "removed", "delivered");
  ended(&s, "gone-2", "lost", "failed");
  ended(&s, "gone-3", "not-found", NULL);
  char *p = ksp_render(&s);
  assert_non_null(p);
  assert_non_null(strstr(p, "<!DOCTYPE html>"));
  assert_non_null(strstr(p, "<meta http-equiv=\"refresh\" content=\"10\">"));
  assert_non_null(strstr(p, "data-count=\"active\" data-n=\"1234\">1,234<"));
  assert_non_null(strstr(p, "data-count=\"at-risk\" data-n=\"2\">2<"));
  assert_non_null(strstr(p, "data-count=\"ended\" data-n=\"7\">7<"));
  assert_non_null(strstr(p, "data-count=\"lost\" data-n=\"1\">1<"));
  assert_non_null(strstr(p, ">2025-12-01 00:00:00 UTC</time>"));
  assert_non_null(strstr(p, "<title>2 at risk, 1 lost - mgcall keeper"));
  assert_non_null(strstr(p, "class=\"count warn\""));
  assert_non_null(strstr(p, "class=\"count bad\""));
  /* rows in the order given (the collector sorts) */
  char *a = strstr(p, ">first<"), *b = strstr(p, ">second<"),
       *c = strstr(p, ">third<");
  assert_true(a && b && c && a < b && b < c);
  a = strstr(p, ">gone-1<");
  b = strstr(p, ">gone-2<");
  c = strstr(p, ">gone-3<");
  assert_true(a && b && c && a < b && b < c);
  /* durations */
  assert_non_null(strstr(p, "data-ms=\"65000\">1m 05s<"));
  assert_non_null(strstr(p, "data-ms=\"-3000\">overdue 3s<"));
  assert_non_null(strstr(p, "data-ms=\"7322000\">2h 02m<"));
  assert_non_null(strstr(p, "1m 01s ago"));
  assert_non_null(strstr(p, "5s ago"));
  /* hook outcomes */
  assert_non_null(strstr(p, "<span class=\"badge delivered\">delivered"));
  assert_non_null(strstr(p, "<span class=\"badge failed\">failed"));
  assert_non_null(strstr(p, "3 attempts"));
  assert_int_equal(count(p, "<span class=\"dim\">none</span>"), 1);
  /* the default tenant */
  assert_int_equal(count(p, "<span class=\"dim\">default</span>"), 3);
  /* links */
  assert_non_null(strstr(p, "href=\"/metrics\""));
  assert_non_null(strstr(p, "href=\"/openapi.yaml\""));
  assert_non_null(strstr(p, "href=\"/calls/first\""));
  /* no fleet section without fleet mode, no script, nothing external */
  assert_null(strstr(p, "id=\"fleet"));
  assert_null(strstr(p, "<script"));
  assert_null(strstr(p, "http:"));
  assert_null(strstr(p, "https:"));
  assert_null(strstr(p, "src="));
  free(p);
  ksp_release(&s);
  assert_int_equal((int)s.nworst, 0);
}

static void test_hostile_text_is_escaped(void **state)
{
  (void)state;
  const char *evil = "<script>alert(1)</script>\"'&x=\"><img src=x "
                     "onerror=alert(2)>/../%41";
  struct ksp_snapshot s = {0};
  s.now_ms = NOW;
  s.at_risk = 1;
  live(&s, evil, "at-risk", 1000);
  s.worst[0].tenant_id = s_(evil);
  free(s.worst[0].last_error);
  s.worst[0].last_error = s_(evil);
  /* a state is a word of a fixed set: a bad one loses its markup in the
   * class attribute and is escaped as text */
  free(s.worst[0].state);
  s.worst[0].state = s_("at-risk\" onclick=\"x");
  ended(&s, evil, "removed", "failed");
  s.latest[0].hook_error = s_(evil);
  s.fleet = 1;
  s.node_id = s_(evil);
  s.members[0].node_id = s_(evil);
  s.members[0].api_url = s_("http://x/\"><script>");
  s.members[0].self = 1;
  s.nmembers = 1;
  char *p = ksp_render(&s);
  assert_non_null(p);
  assert_null(strstr(p, "<script"));
  assert_null(strstr(p, "<img"));
  assert_null(strstr(p, "onclick=\""));
  assert_non_null(strstr(p, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;"
                            "&amp;x=&quot;&gt;&lt;img src=x onerror=alert(2)"
                            "&gt;/../%41"));
  /* in a link the id is %-encoded whole */
  assert_non_null(strstr(p, "href=\"/calls/%3Cscript%3Ealert%281%29%3C%2F"
                            "script%3E%22%27%26x%3D%22%3E%3Cimg%20src%3Dx%20"
                            "onerror%3Dalert%282%29%3E%2F..%2F%2541\""));
  assert_non_null(strstr(p, "class=\"at-riskonclickx\""));
  /* the fleet section, with this keeper marked */
  assert_non_null(strstr(p, "<table id=\"fleet\">"));
  assert_non_null(strstr(p, "this keeper"));
  assert_non_null(strstr(p, "http://x/&quot;&gt;&lt;script&gt;"));
  free(p);
  ksp_release(&s);
}

static void test_long_errors_are_cut(void **state)
{
  (void)state;
  char err[300];
  memset(err, 'e', sizeof(err));
  memcpy(err + 98, "\xc3\xa9<", 3); /* an é across the cut, then a < */
  err[299] = '\0';
  struct ksp_snapshot s = {0};
  s.now_ms = NOW;
  live(&s, "c", "active", 1000);
  free(s.worst[0].last_error);
  s.worst[0].last_error = s_(err);
  char *p = ksp_render(&s);
  assert_non_null(p);
  /* shown: 98 e, the whole é, the ellipsis; the title has it all */
  char want[200];
  snprintf(want, sizeof(want), ">%.98s\xc3\xa9&hellip;</td>", err);
  assert_non_null(strstr(p, want));
  snprintf(want, sizeof(want), "title=\"%.98s\xc3\xa9&lt;eee", err);
  assert_non_null(strstr(p, want));
  free(p);
  ksp_release(&s);
}

static void test_empty_and_unavailable(void **state)
{
  (void)state;
  struct ksp_snapshot s = {0};
  s.now_ms = NOW;
  char *p = ksp_render(&s);
  assert_non_null(p);
  assert_non_null(strstr(p, "<title>mgcall keeper</title>"));
  assert_non_null(strstr(p, "No live calls."));
  assert_non_null(strstr(p, "No call has ended."));
  assert_null(strstr(p, "<table"));
  assert_null(strstr(p, "class=\"count warn\""));
  free(p);
  s.latest_error = s_("store sqlite:/x: read: disk I/O <error>");
  s.fleet = 1;
  p = ksp_render(&s);
  assert_non_null(p);
  assert_non_null(strstr(p, "Not available: store sqlite:/x: read: disk I/O "
                            "&lt;error&gt;"));
  assert_non_null(strstr(p, "No member seen yet."));
  free(p);
  ksp_release(&s);
}

static void test_largest_snapshot(void **state)
{
  (void)state;
  char id[257];
  memset(id, '<', 256);
  id[256] = '\0';
  struct ksp_snapshot s = {0};
  s.now_ms = NOW;
  for(int i = 0; i < KSP_WORST; i++) {
    live(&s, id, "at-risk", i * 1000);
    s.worst[i].tenant_id = s_(id);
  }
  for(int i = 0; i < KSP_LATEST; i++) {
    ended(&s, id, "lost", "pending");
    s.latest[i].hook_error = s_(id);
  }
  s.fleet = 1;
  for(int i = 0; i < KSP_MEMBERS; i++) {
    s.members[i].node_id = s_(id);
    s.members[i].api_url = s_(id);
  }
  s.nmembers = KSP_MEMBERS;
  char *p = ksp_render(&s);
  assert_non_null(p);
  assert_int_equal(count(p, "<tr class=\"at-risk\">"), KSP_WORST);
  assert_true(strlen(p) < 2 * 1024 * 1024);
  free(p);
  ksp_release(&s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_figures_and_order),
      cmocka_unit_test(test_hostile_text_is_escaped),
      cmocka_unit_test(test_long_errors_are_cut),
      cmocka_unit_test(test_empty_and_unavailable),
      cmocka_unit_test(test_largest_snapshot),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
