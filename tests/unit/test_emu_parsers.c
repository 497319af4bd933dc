/* SPDX-License-Identifier: MIT */
/* test_emu_parsers.c - the emulator's byte parsers: form bodies, Basic
 * credentials, --listen, fault settings, create-call bodies, state lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "emulator.h"
#include "faults.h"
#include "form.h"
#include "graph_json.h"
#include "state.h"

#include <stdlib.h>
#include <string.h>

static void test_form(void **state)
{
  (void)state;
  struct emu_form f;
  const char *b = "grant_type=client_credentials&scope=https%3A%2F%2Fgraph."
                  "microsoft.com%2F.default&client_secret=a+b%2Bc&&empty=";
  assert_int_equal(emu_form_parse(b, strlen(b), &f), EMU_FORM_OK);
  assert_string_equal(emu_form_get(&f, "grant_type"), "client_credentials");
  assert_string_equal(emu_form_get(&f, "scope"),
                      "https://graph.microsoft.com/.default");
  assert_string_equal(emu_form_get(&f, "client_secret"), "a b+c");
  assert_string_equal(emu_form_get(&f, "empty"), "");
  assert_null(emu_form_get(&f, "missing"));
  assert_int_equal(f.n, 4);
  emu_form_release(&f);

  assert_int_equal(emu_form_parse("a=%zz", 5, &f), EMU_FORM_BAD_ENCODING);
  emu_form_release(&f);
  assert_int_equal(emu_form_parse("a=%4", 4, &f), EMU_FORM_BAD_ENCODING);
  emu_form_release(&f);
  assert_int_equal(emu_form_parse("a=%00", 5, &f), EMU_FORM_BAD_ENCODING);
  emu_form_release(&f);
  assert_int_equal(emu_form_parse("a=1&a=2", 7, &f), EMU_FORM_DUPLICATE);
  emu_form_release(&f);
  char many[EMU_FORM_MAX_FIELDS * 8 + 16] = "";
  for(int i = 0; i <= EMU_FORM_MAX_FIELDS; i++) {
    char one[16];
    snprintf(one, sizeof(one), "k%d=v&", i);
    strcat(many, one);
  }
  assert_int_equal(emu_form_parse(many, strlen(many), &f), EMU_FORM_TOO_MANY);
  emu_form_release(&f);
  assert_int_equal(emu_form_parse("", 0, &f), EMU_FORM_OK);
  assert_int_equal(f.n, 0);
}

static void test_basic(void **state)
{
  (void)state;
  char *u, *p;
  /* "app%3A1:s%3Acret" -> user "app:1", secret "s:cret" (RFC 6749 2.3.1) */
  assert_int_equal(emu_basic_parse("Basic YXBwJTNBMTpzJTNBY3JldA==", &u, &p),
                   0);
  assert_string_equal(u, "app:1");
  assert_string_equal(p, "s:cret");
  free(u);
  free(p);
  assert_int_equal(emu_basic_parse("basic YXBwMTpzM2NyZXQ=", &u, &p), 0);
  assert_string_equal(u, "app1");
  assert_string_equal(p, "s3cret");
  free(u);
  free(p);
  assert_int_equal(emu_basic_parse("Bearer abc", &u, &p), -1);
  assert_int_equal(emu_basic_parse("Basic bm9jb2xvbg==", &u, &p), -1);
  assert_int_equal(emu_basic_parse("Basic ***", &u, &p), -1);
  assert_int_equal(emu_basic_parse("Basic ", &u, &p), -1);
  assert_int_equal(emu_basic_parse("Basic OnNlY3JldA==", &u, &p), -1);
  assert_null(u);
  assert_null(p);
}

static void test_listen(void **state)
{
  (void)state;
  struct sockaddr_storage a;
  socklen_t len;
  char host[80];
  assert_int_equal(emu_parse_listen("127.0.0.1:8443", &a, &len, host, 80), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(a.ss_family, AF_INET);
  assert_int_equal(emu_parse_listen("[::1]:0", &a, &len, host, 80), 0);
  assert_string_equal(host, "[::1]");
  assert_int_equal(a.ss_family, AF_INET6);
  assert_int_equal(emu_parse_listen("localhost:80", &a, &len, host, 80), 0);
  assert_string_equal(host, "127.0.0.1");
  const char *bad[] = {
      "",       "8443",         "127.0.0.1",     "127.0.0.1:",
      "::1:80", "[::1]",        "[::1]80",       "127.0.0.1:65536",
      "x.y:1",  "127.0.0.1:-1", "[127.0.0.1]:1", "1.2.3.4:12ab"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
    assert_int_equal(emu_parse_listen(bad[i], &a, &len, host, 80), -1);
}

static void test_fault_values(void **state)
{
  (void)state;
  double r;
  assert_int_equal(emu_parse_rate("0.25", &r), 0);
  assert_true(r == 0.25);
  assert_int_equal(emu_parse_rate("5%", &r), 0);
  assert_true(r > 0.0499 && r < 0.0501);
  assert_int_equal(emu_parse_rate("1.5", &r), -1);
  assert_int_equal(emu_parse_rate("-0.1", &r), -1);
  assert_int_equal(emu_parse_rate("x", &r), -1);
  assert_int_equal(emu_parse_rate("nan", &r), -1);
  int st[4];
  size_t n;
  assert_int_equal(emu_parse_statuses("429,503", st, 4, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(st[1], 503);
  assert_int_equal(emu_parse_statuses("200", st, 4, &n), -1);
  assert_int_equal(emu_parse_statuses("429,", st, 4, &n), -1);
  assert_int_equal(emu_parse_statuses("500,501,502,503,504", st, 4, &n), -1);
  double t;
  assert_int_equal(emu_parse_throttle("100/s", &t), 0);
  assert_true(t == 100);
  assert_int_equal(emu_parse_throttle("60/m", &t), 0);
  assert_true(t == 1);
  assert_int_equal(emu_parse_throttle("7", &t), 0);
  assert_int_equal(emu_parse_throttle("0/s", &t), -1);
  assert_int_equal(emu_parse_throttle("5/d", &t), -1);
}

static void test_faults_decide(void **state)
{
  (void)state;
  struct emu_faults_config cfg;
  emu_faults_config_default(&cfg);
  struct emu_faults *f = emu_faults_new(&cfg);
  struct emu_fault_decision d;
  emu_faults_decide(f, EMU_SCOPE_GRAPH, "a", 0, &d);
  assert_int_equal(d.status, 0);
  char err[128];
  json_t *o = json_loads("{\"sequence\":[429,500],\"retryAfter\":7}", 0, NULL);
  assert_int_equal(emu_faults_from_json(f, o, err, sizeof(err)), 0);
  json_decref(o);
  emu_faults_decide(f, EMU_SCOPE_TOKEN, "a", 0, &d); /* scope graph only */
  assert_int_equal(d.status, 0);
  emu_faults_decide(f, EMU_SCOPE_GRAPH, "a", 0, &d);
  assert_int_equal(d.status, 429);
  assert_int_equal(d.retry_after, 7);
  emu_faults_decide(f, EMU_SCOPE_GRAPH, "a", 0, &d);
  assert_int_equal(d.status, 500);
  assert_int_equal(d.retry_after, 0);
  emu_faults_decide(f, EMU_SCOPE_GRAPH, "a", 0, &d);
  assert_int_equal(d.status, 0);
  assert_int_equal(emu_faults_injected(f), 2);

  /* throttle 2/s: two at t=0 pass, the third waits, one more at t=500ms */
  o = json_loads("{\"throttle\":2}", 0, NULL);
  assert_int_equal(emu_faults_from_json(f, o, err, sizeof(err)), 0);
  json_decref(o);
  emu_faults_decide(f, EMU_SCOPE_GRAPH, "a", 1000, &d);
  assert_int_equal(d.status, 0);
  emu_faults_decide(f, EMU_SCOPE_GRAPH, "a", 1000, &d);
  assert_int_equal(d.status, 0);
  emu_faults_decide(f, EMU_SCOPE_GRAPH, "a", 1000, &d);
  assert_int_equal(d.status, 429);
  assert_int_equal(d.retry_after, 1);
  assert_true(d.throttled);
  emu_faults_decide(f, EMU_SCOPE_GRAPH, "b", 1000, &d); /* per app */
  assert_int_equal(d.status, 0);
  emu_faults_decide(f, EMU_SCOPE_GRAPH, "a", 1500, &d);
  assert_int_equal(d.status, 0);

  o = json_loads("{\"rate\":1,\"statuses\":[503]}", 0, NULL);
  assert_int_equal(emu_faults_from_json(f, o, err, sizeof(err)), 0);
  json_decref(o);
  o = json_loads("{\"throttle\":0}", 0, NULL);
  assert_int_equal(emu_faults_from_json(f, o, err, sizeof(err)), 0);
  json_decref(o);
  emu_faults_decide(f, EMU_SCOPE_GRAPH, "a", 2000, &d);
  assert_int_equal(d.status, 503);
  assert_int_equal(d.retry_after, 7);

  const char *bad[] = {"[]",
                       "{\"rate\":2}",
                       "{\"statuses\":[200]}",
                       "{\"latency\":\"1y\"}",
                       "{\"scope\":\"x\"}",
                       "{\"what\":1}",
                       "{\"sequence\":[1]}"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    o = json_loads(bad[i], 0, NULL);
    assert_int_equal(emu_faults_from_json(f, o, err, sizeof(err)), -1);
    json_decref(o);
  }
  emu_faults_free(f);
}

/* tenantFault: one tenant's token requests slow and failing, the others
 * untouched; bad values refused; null clears it. */
static void test_tenant_fault(void **state)
{
  (void)state;
  struct emu_faults_config cfg;
  emu_faults_config_default(&cfg);
  struct emu_faults *f = emu_faults_new(&cfg);
  char err[256];
  json_t *o = json_loads("{\"tenantFault\":{\"tenant\":\"tb\",\"latency\":"
                         "\"6s\",\"status\":503},\"retryAfter\":2}",
                         0, NULL);
  assert_int_equal(emu_faults_from_json(f, o, err, sizeof(err)), 0);
  json_decref(o);
  struct emu_fault_decision d;
  emu_faults_decide(f, EMU_SCOPE_TOKEN, NULL, 0, &d);
  emu_faults_tenant(f, "tb", &d);
  assert_int_equal(d.status, 503);
  assert_int_equal(d.latency_ms, 6000);
  assert_int_equal(d.retry_after, 2);
  emu_faults_decide(f, EMU_SCOPE_TOKEN, NULL, 0, &d);
  emu_faults_tenant(f, "ta", &d);
  assert_int_equal(d.status, 0);
  assert_int_equal(d.latency_ms, 0);
  json_t *j = emu_faults_to_json(f);
  char *text = json_dumps(json_object_get(j, "tenantFault"), JSON_COMPACT);
  assert_string_equal(text,
                      "{\"tenant\":\"tb\",\"latencyMs\":6000,\"status\":503}");
  free(text);
  json_decref(j);
  const char *bad[] = {
      "{\"tenantFault\":{\"tenant\":\"\"}}",
      "{\"tenantFault\":{\"tenant\":\"t\",\"status\":200}}",
      "{\"tenantFault\":{\"tenant\":\"t\",\"latency\":\"11m\"}}",
      "{\"tenantFault\":{\"tenant\":\"t\",\"other\":1}}",
      "{\"tenantFault\":7}"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    o = json_loads(bad[i], 0, NULL);
    assert_non_null(o);
    assert_int_equal(emu_faults_from_json(f, o, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "tenantFault"));
    json_decref(o);
  }
  /* latency only: answered normally, late */
  o = json_loads("{\"tenantFault\":{\"tenant\":\"tb\",\"latency\":250}}", 0,
                 NULL);
  assert_int_equal(emu_faults_from_json(f, o, err, sizeof(err)), 0);
  json_decref(o);
  emu_faults_decide(f, EMU_SCOPE_TOKEN, NULL, 0, &d);
  emu_faults_tenant(f, "tb", &d);
  assert_int_equal(d.status, 0);
  assert_int_equal(d.latency_ms, 250);
  o = json_loads("{\"tenantFault\":null}", 0, NULL);
  assert_int_equal(emu_faults_from_json(f, o, err, sizeof(err)), 0);
  json_decref(o);
  emu_faults_decide(f, EMU_SCOPE_TOKEN, NULL, 0, &d);
  emu_faults_tenant(f, "tb", &d);
  assert_int_equal(d.latency_ms, 0);
  emu_faults_free(f);
}

/* --latency-jitter: every delay within latency +- pct, and spread over it */
static void test_latency_jitter(void **state)
{
  (void)state;
  struct emu_faults_config cfg;
  emu_faults_config_default(&cfg);
  cfg.latency_ms = 300;
  cfg.latency_jitter_pct = 20;
  struct emu_faults *f = emu_faults_new(&cfg);
  assert_non_null(f);
  struct emu_fault_decision d;
  int64_t lo = 1000, hi = 0;
  for(int i = 0; i < 2000; i++) {
    emu_faults_decide(f, EMU_SCOPE_GRAPH, "a", 0, &d);
    if(d.latency_ms < lo)
      lo = d.latency_ms;
    if(d.latency_ms > hi)
      hi = d.latency_ms;
  }
  assert_true(lo >= 240 && lo < 250);
  assert_true(hi <= 360 && hi > 350);
  char err[128];
  json_t *o = json_loads("{\"latencyJitter\":0}", 0, NULL);
  assert_int_equal(emu_faults_from_json(f, o, err, sizeof(err)), 0);
  json_decref(o);
  emu_faults_decide(f, EMU_SCOPE_GRAPH, "a", 0, &d);
  assert_int_equal(d.latency_ms, 300);
  o = json_loads("{\"latencyJitter\":101}", 0, NULL);
  assert_int_equal(emu_faults_from_json(f, o, err, sizeof(err)), -1);
  json_decref(o);
  o = emu_faults_to_json(f);
  assert_int_equal(json_integer_value(json_object_get(o, "latencyJitter")), 0);
  json_decref(o);
  emu_faults_free(f);
}

static void test_call_request(void **state)
{
  (void)state;
  struct emu_call_request r;
  char err[256];
  const char *ok = "{\"callbackUri\":\"https://bot.example/cb\","
                   "\"requestedModalities\":[\"audio\",\"video\"],"
                   "\"mediaConfig\":{\"@odata.type\":\"#microsoft.graph."
                   "appHostedMediaConfig\"}}";
  assert_int_equal(emu_call_request_parse(ok, strlen(ok), &r, err, 256), 0);
  assert_string_equal(r.callback, "https://bot.example/cb");
  assert_int_equal(r.modalities, EMU_MOD_AUDIO | EMU_MOD_VIDEO);
  assert_int_equal(r.media, EMU_MEDIA_APP);
  emu_call_request_release(&r);
  const char *bad[] = {"",
                       "{",
                       "[]",
                       "{}",
                       "{\"callbackUri\":1}",
                       "{\"callbackUri\":\"ftp://x\"}",
                       "{\"callbackUri\":\"http://x y\"}",
                       "{\"callbackUri\":\"http://x\",\"callbackUri\":\"a\"}",
                       "{\"callbackUri\":\"http://x\","
                       "\"requestedModalities\":[\"smell\"]}",
                       "{\"callbackUri\":\"http://x\",\"mediaConfig\":3}"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    assert_int_equal(
        emu_call_request_parse(bad[i], strlen(bad[i]), &r, err, 256), -1);
    assert_null(r.root);
  }
}

static void test_state_line(void **state)
{
  (void)state;
  struct emu_call_info c;
  void *holder;
  const char *ok =
      "{\"id\":\"0e0c4a43-6a1b-4d35-9f4e-5f1e5b1d2c3a\",\"state\":"
      "\"established\",\"tenantId\":\"t\",\"appId\":\"a\",\"callbackUri\":"
      "\"http://x/\",\"createdMs\":1764249600000,\"lastKeepAliveMs\":"
      "1764249700000,\"endedMs\":0,\"endReason\":0,\"keepAlives\":3,"
      "\"modalities\":1,\"media\":0}";
  assert_int_equal(emu_state_parse_call(ok, strlen(ok), &c, &holder), 0);
  assert_int_equal(c.state, EMU_CALL_ESTABLISHED);
  assert_int_equal(c.keepalives, 3);
  assert_string_equal(c.tenant, "t");
  json_decref(holder);
  const char *bad[] = {"{}", "x",
                       "{\"id\":\"short\",\"state\":\"established\","
                       "\"tenantId\":\"t\",\"appId\":\"a\",\"callbackUri\":"
                       "\"h\",\"createdMs\":1}",
                       "{\"id\":\"0e0c4a43-6a1b-4d35-9f4e-5f1e5b1d2c3a\","
                       "\"state\":\"ringing\",\"tenantId\":\"t\",\"appId\":"
                       "\"a\",\"callbackUri\":\"h\",\"createdMs\":1}"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    assert_int_equal(emu_state_parse_call(bad[i], strlen(bad[i]), &c, &holder),
                     -1);
    assert_null(holder);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_form),          cmocka_unit_test(test_basic),
      cmocka_unit_test(test_listen),        cmocka_unit_test(test_fault_values),
      cmocka_unit_test(test_faults_decide), cmocka_unit_test(test_tenant_fault),
      cmocka_unit_test(test_call_request),  cmocka_unit_test(test_state_line),
      cmocka_unit_test(test_latency_jitter)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
