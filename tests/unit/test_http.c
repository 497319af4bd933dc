/* SPDX-License-Identifier: MIT */
/* test_http.c - capped buffers, error mapping, clouds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud.h"
#include "http.h"

#include <string.h>

static void test_buf_cap(void **state)
{
  (void)state;
  struct mgcx_buf b;
  mgcx_buf_init(&b, 10);
  assert_int_equal(mgcx_buf_add(&b, "hello", 5), 0);
  assert_int_equal(mgcx_buf_add(&b, "world", 5), 0);
  assert_string_equal(b.data, "helloworld");
  assert_int_equal(mgcx_buf_add(&b, "!", 1), -1); /* over the cap */
  assert_int_equal(b.len, 10);
  assert_string_equal(b.data, "helloworld");
  /* The curl callback reports a short write when over the cap. */
  char more[4] = "abc";
  assert_int_equal(mgc__buf_curl_write(more, 1, 3, &b), 0);
  mgcx_buf_release(&b);
  assert_null(b.data);
  mgcx_buf_init(&b, 100);
  assert_int_equal(mgc__buf_curl_write(more, 1, 3, &b), 3);
  assert_string_equal(b.data, "abc");
  mgcx_buf_release(&b);
}

static void test_curl_codes(void **state)
{
  (void)state;
  assert_int_equal(mgc__http_curl_code(CURLE_OK), MGCALL_OK);
  assert_int_equal(mgc__http_curl_code(CURLE_COULDNT_CONNECT),
                   MGCALL_E_NETWORK);
  assert_int_equal(mgc__http_curl_code(CURLE_PEER_FAILED_VERIFICATION),
                   MGCALL_E_NETWORK);
  assert_int_equal(mgc__http_curl_code(CURLE_OUT_OF_MEMORY), MGCALL_E_INTERNAL);
  assert_true(mgc__http_curl_retryable(CURLE_COULDNT_CONNECT));
  assert_true(mgc__http_curl_retryable(CURLE_OPERATION_TIMEDOUT));
  assert_false(mgc__http_curl_retryable(CURLE_PEER_FAILED_VERIFICATION));
  assert_false(mgc__http_curl_retryable(CURLE_COULDNT_RESOLVE_HOST));
}

static void test_clouds(void **state)
{
  (void)state;
  const struct mgc_cloud *c = mgc__cloud_find(NULL);
  assert_string_equal(c->name, "Global");
  assert_string_equal(c->graph, "https://graph.microsoft.com");
  c = mgc__cloud_find("usgovdod");
  assert_non_null(c);
  assert_string_equal(c->authority, "https://login.microsoftonline.us");
  assert_string_equal(c->graph, "https://dod-graph.microsoft.us");
  c = mgc__cloud_find("China");
  assert_string_equal(c->authority, "https://login.chinacloudapi.cn");
  assert_string_equal(c->graph, "https://microsoftgraph.chinacloudapi.cn");
  assert_string_equal(mgc__cloud_find("USGov")->graph,
                      "https://graph.microsoft.us");
  assert_null(mgc__cloud_find("Germany"));
  assert_true(mgc__cloud_is_graph("https://graph.microsoft.us"));
  assert_false(mgc__cloud_is_graph("https://graph.example.com"));
  unsigned n = 0;
  while(mgc__cloud_at(n))
    n++;
  assert_int_equal(n, 4);
  assert_string_equal(mgc__http_user_agent(), "mgcall/" MGCALL_VERSION_STRING);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buf_cap),
      cmocka_unit_test(test_curl_codes),
      cmocka_unit_test(test_clouds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
