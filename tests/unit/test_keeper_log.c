/* SPDX-License-Identifier: MIT */
/* test_keeper_log.c - the keeper's log lines carry untrusted text (Graph's
 * error messages, ids): one line each, in text and JSON, whatever the bytes
 * and however long. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keeper/log.h"

/* Run klog with stderr sent to a file; return what it wrote (static). */
static const char *logged(enum klog_format fmt, const char *call_id,
                          const char *msg)
{
  static char out[16384];
  char path[] = "/tmp/mgcall-klog.XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stderr);
  int saved = dup(2);
  assert_true(saved >= 0);
  assert_int_equal(dup2(fd, 2), 2);
  klog_setup(fmt, KLOG_DEBUG);
  klog(KLOG_WARN, call_id, "req-1", "keepAlive failed: %s", msg);
  fflush(stderr);
  assert_int_equal(dup2(saved, 2), 2);
  close(saved);
  ssize_t n = pread(fd, out, sizeof(out) - 1, 0);
  assert_true(n >= 0);
  out[n] = '\0';
  close(fd);
  unlink(path);
  return out;
}

static int lines(const char *s)
{
  int n = 0;
  for(; *s; s++)
    n += *s == '\n';
  return n;
}

/* A newline in Graph's message must not start a line of its own. */
static void test_text_no_forged_line(void **state)
{
  (void)state;
  const char *out =
      logged(KLOG_TEXT, "call-1",
             "bad\n2026-01-01T00:00:00.000Z info  call x: forged\x1b[2J");
  assert_int_equal(lines(out), 1);
  assert_non_null(strstr(out, "bad\\n2026-01-01"));
  assert_non_null(strstr(out, "forged\\x1b[2J"));
  /* and an id with a newline neither */
  out = logged(KLOG_TEXT, "id\nerror forged", "x");
  assert_int_equal(lines(out), 1);
  assert_non_null(strstr(out, "call id\\nerror forged: "));
}

/* A message with bytes that are not UTF-8 (a character cut in two, say)
 * is still written as a JSON line, with the rest of the message. */
static void test_json_line_survives_bad_utf8(void **state)
{
  (void)state;
  const char *out = logged(KLOG_JSON, "call-2", "caf\xc3 and more");
  assert_int_equal(lines(out), 1);
  json_error_t e;
  json_t *o = json_loads(out, 0, &e);
  assert_non_null(o);
  assert_string_equal(json_string_value(json_object_get(o, "msg")),
                      "keepAlive failed: caf\\xc3 and more");
  assert_string_equal(json_string_value(json_object_get(o, "callId")),
                      "call-2");
  json_decref(o);
  /* a bad id too */
  out = logged(KLOG_JSON, "id-\xff", "x");
  o = json_loads(out, 0, &e);
  assert_non_null(o);
  assert_string_equal(json_string_value(json_object_get(o, "callId")),
                      "id-\\xff");
  json_decref(o);
}

/* A long message of multi-byte characters is cut between characters, in
 * both formats, and the line stays valid. */
static void test_long_message_cut(void **state)
{
  (void)state;
  size_t n = 3000; /* 3000 x "é" = 6000 bytes */
  char *msg = malloc(2 * n + 1);
  assert_non_null(msg);
  for(size_t i = 0; i < n; i++)
    memcpy(msg + 2 * i, "\xc3\xa9", 2);
  msg[2 * n] = '\0';
  const char *out = logged(KLOG_JSON, NULL, msg);
  json_error_t e;
  json_t *o = json_loads(out, 0, &e);
  assert_non_null(o);
  const char *m = json_string_value(json_object_get(o, "msg"));
  assert_non_null(strstr(m, "..."));
  json_decref(o);
  out = logged(KLOG_TEXT, NULL, msg);
  assert_int_equal(lines(out), 1);
  assert_non_null(strstr(out, "\xc3\xa9..."));
  free(msg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_no_forged_line),
      cmocka_unit_test(test_json_line_survives_bad_utf8),
      cmocka_unit_test(test_long_message_cut),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
