/* SPDX-License-Identifier: MIT */
/* test_keeper_hooks.c - the --on-ended word splitting, and the hook thread:
 * environment, bounded retries, timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keeper/hooks.h"
#include "keeper/log.h"

static char **split_ok(const char *cmd, int want_argc)
{
  int argc = -1;
  char err[128] = "";
  char **argv = khooks_split(cmd, &argc, err, sizeof(err));
  assert_non_null(argv);
  assert_int_equal(argc, want_argc);
  assert_null(argv[argc]);
  return argv;
}

static void test_split(void **state)
{
  (void)state;
  char **a = split_ok("  /bin/echo  a\tb  ", 3);
  assert_string_equal(a[0], "/bin/echo");
  assert_string_equal(a[1], "a");
  assert_string_equal(a[2], "b");
  khooks_argv_free(a);
  a = split_ok(
      "sh -c 'echo $MGCALL_CALL_ID >x' \"a \\\"b\\\" \\n\" c\\ d e'f'g", 6);
  assert_string_equal(a[2], "echo $MGCALL_CALL_ID >x");
  assert_string_equal(a[3], "a \"b\" \\n");
  assert_string_equal(a[4], "c d");
  assert_string_equal(a[5], "efg");
  khooks_argv_free(a);
  a = split_ok("x '' y", 3);
  assert_string_equal(a[1], "");
  khooks_argv_free(a);
  const char *bad[] = {"", "   ", "'open", "\"open", "trailing\\"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int argc;
    char err[128] = "";
    assert_null(khooks_split(bad[i], &argc, err, sizeof(err)));
    assert_true(err[0] != '\0');
  }
  char many[400] = "";
  for(int i = 0; i < 70; i++)
    strcat(many, "w ");
  int argc;
  char err[128];
  assert_null(khooks_split(many, &argc, err, sizeof(err)));
  assert_non_null(strstr(err, "too many"));
}

static char dir[256];

static void slurp(const char *path, char *buf, size_t n)
{
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if(!f)
    return;
  size_t got = fread(buf, 1, n - 1, f);
  buf[got] = '\0';
  fclose(f);
}

static void test_runs_with_env_and_retries(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/mgcall-hooks.XXXXXX");
  assert_non_null(mkdtemp(dir));
  char cmd[1024];
  /* fails twice (exit 1), then succeeds: 3 attempts with --hook-retries 3 */
  snprintf(cmd, sizeof(cmd),
           "sh -c 'echo \"$MGCALL_CALL_ID|$MGCALL_TENANT_ID|$MGCALL_REASON\" "
           ">>%s/log; test $(wc -l <%s/log) -ge 3'",
           dir, dir);
  struct kmetrics *m = km_new();
  struct khooks_config cfg = {
      .command = cmd, .timeout_ms = 5000, .retries = 3, .retry_delay_ms = 10};
  struct khooks *h = NULL;
  char err[128] = "";
  klog_setup(KLOG_TEXT, KLOG_ERROR);
  assert_int_equal(khooks_new(&cfg, m, &h, err, sizeof(err)), MGCALL_OK);
  assert_int_equal(khooks_enqueue(h, "call-1", "tenant-1", "not-found"), 0);
  khooks_free(h); /* finishes the queue */
  char log[512];
  char path[300];
  snprintf(path, sizeof(path), "%s/log", dir);
  slurp(path, log, sizeof(log));
  assert_string_equal(log, "call-1|tenant-1|not-found\n"
                           "call-1|tenant-1|not-found\n"
                           "call-1|tenant-1|not-found\n");
  assert_int_equal(km_hook_runs(m, KM_HOOK_COMMAND, 0), 2);
  assert_int_equal(km_hook_runs(m, KM_HOOK_COMMAND, 1), 1);
  unlink(path);

  /* a hook that hangs is killed at the timeout, retried a bounded number
   * of times */
  struct khooks_config slow = {.command = "sleep 30",
                               .timeout_ms = 100,
                               .retries = 1,
                               .retry_delay_ms = 10};
  assert_int_equal(khooks_new(&slow, m, &h, err, sizeof(err)), MGCALL_OK);
  assert_int_equal(khooks_enqueue(h, "call-2", NULL, "lost"), 0);
  khooks_free(h);
  assert_int_equal(km_hook_runs(m, KM_HOOK_COMMAND, 0), 4);

  /* a program that does not exist fails cleanly */
  struct khooks_config none = {.command = "/nonexistent/hook", .retries = 0};
  assert_int_equal(khooks_new(&none, m, &h, err, sizeof(err)), MGCALL_OK);
  assert_int_equal(khooks_enqueue(h, "call-3", NULL, "removed"), 0);
  khooks_free(h);
  assert_int_equal(km_hook_runs(m, KM_HOOK_COMMAND, 0), 5);

  /* bad settings */
  struct khooks_config bad = {.command = "'x"};
  assert_int_equal(khooks_new(&bad, m, &h, err, sizeof(err)), MGCALL_E_USAGE);
  assert_non_null(strstr(err, "--on-ended"));
  struct khooks_config badurl = {.url = "ftp://x"};
  assert_int_equal(khooks_new(&badurl, m, &h, err, sizeof(err)),
                   MGCALL_E_USAGE);
  /* no hook configured: enqueue is a no-op */
  struct khooks_config off = {0};
  assert_int_equal(khooks_new(&off, m, &h, err, sizeof(err)), MGCALL_OK);
  assert_int_equal(khooks_enqueue(h, "x", NULL, "lost"), 0);
  khooks_free(h);
  khooks_free(NULL);
  km_free(m);
  rmdir(dir);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_split),
      cmocka_unit_test(test_runs_with_env_and_retries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
