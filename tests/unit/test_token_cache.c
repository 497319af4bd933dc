/* SPDX-License-Identifier: MIT */
/* test_token_cache.c - cache keying, expiry margin, file mode and refusal of
 * files others can write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/token_cache.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* umask() is process-wide state: a library that promises thread safety must
 * not touch it (issue 8 item 8).  This definition takes the place of libc's
 * for the statically linked library and counts the calls. */
static int umask_calls;
mode_t umask(mode_t mask)
{
  umask_calls++;
  return (mode_t)syscall(SYS_umask, mask);
}

#define NOW ((time_t)1700000000)

static const struct mgc_cache_key K1 = {"https://login.example", "t1", "c1",
                                        "https://graph.microsoft.com/.default"};

static void test_roundtrip_and_keying(void **state)
{
  (void)state;
  char *text = mgc__token_cache_update(NULL, 0, &K1, "tok1", NOW + 3600, NOW);
  assert_non_null(text);
  char *tok = NULL;
  time_t exp = 0;
  assert_int_equal(
      mgc__token_cache_find(text, strlen(text), &K1, NOW, &tok, &exp), 1);
  assert_string_equal(tok, "tok1");
  assert_int_equal(exp, NOW + 3600);
  free(tok);
  /* Every part of the key matters. */
  struct mgc_cache_key k = K1;
  k.tenant = "t2";
  assert_int_equal(
      mgc__token_cache_find(text, strlen(text), &k, NOW, &tok, &exp), 0);
  k = K1;
  k.client = "c2";
  assert_int_equal(
      mgc__token_cache_find(text, strlen(text), &k, NOW, &tok, &exp), 0);
  k = K1;
  k.scope = "https://graph.microsoft.us/.default";
  assert_int_equal(
      mgc__token_cache_find(text, strlen(text), &k, NOW, &tok, &exp), 0);
  k = K1;
  k.authority = "https://login.microsoftonline.us";
  assert_int_equal(
      mgc__token_cache_find(text, strlen(text), &k, NOW, &tok, &exp), 0);
  /* A second key is added, the first kept; updating a key replaces it. */
  k = K1;
  k.tenant = "t2";
  char *two =
      mgc__token_cache_update(text, strlen(text), &k, "tok2", NOW + 1800, NOW);
  char *three =
      mgc__token_cache_update(two, strlen(two), &K1, "tok1b", NOW + 4000, NOW);
  assert_int_equal(
      mgc__token_cache_find(three, strlen(three), &K1, NOW, &tok, &exp), 1);
  assert_string_equal(tok, "tok1b");
  free(tok);
  assert_int_equal(
      mgc__token_cache_find(three, strlen(three), &k, NOW, &tok, &exp), 1);
  assert_string_equal(tok, "tok2");
  free(tok);
  /* tok1 appears once only */
  assert_null(strstr(three, "\"tok1\""));
  free(text);
  free(two);
  free(three);
}

static void test_margin(void **state)
{
  (void)state;
  char *text = mgc__token_cache_update(NULL, 0, &K1, "tok", NOW + 301, NOW);
  char *tok = NULL;
  time_t exp;
  /* 301 s left: reused; 300 s left: not (5 minutes before expiry). */
  assert_int_equal(
      mgc__token_cache_find(text, strlen(text), &K1, NOW, &tok, &exp), 1);
  free(tok);
  assert_int_equal(
      mgc__token_cache_find(text, strlen(text), &K1, NOW + 1, &tok, &exp), 0);
  assert_null(tok);
  /* Expired entries are dropped on the next update. */
  struct mgc_cache_key k = K1;
  k.tenant = "other";
  char *next = mgc__token_cache_update(text, strlen(text), &k, "t2", NOW + 9999,
                                       NOW + 400);
  assert_null(strstr(next, "\"tok\""));
  free(text);
  free(next);
}

static void test_garbage(void **state)
{
  (void)state;
  const char *bad[] = {"",
                       "null",
                       "[]",
                       "{\"version\":2,\"tokens\":[]}",
                       "{\"version\":1,\"tokens\":{}}",
                       "{\"version\":1,\"tokens\":[1,\"x\",{\"authority\":3}]}",
                       "\xff\xfe"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *tok = NULL;
    time_t exp;
    assert_int_equal(
        mgc__token_cache_find(bad[i], strlen(bad[i]), &K1, NOW, &tok, &exp), 0);
    char *text = mgc__token_cache_update(bad[i], strlen(bad[i]), &K1, "t",
                                         NOW + 3600, NOW);
    assert_non_null(text);
    assert_int_equal(
        mgc__token_cache_find(text, strlen(text), &K1, NOW, &tok, &exp), 1);
    free(tok);
    free(text);
  }
}

static void test_cap(void **state)
{
  (void)state;
  char *text = NULL;
  char tenant[32];
  for(int i = 0; i < MGC_TOKEN_CACHE_MAX_ENTRIES + 10; i++) {
    struct mgc_cache_key k = K1;
    snprintf(tenant, sizeof(tenant), "t%d", i);
    k.tenant = tenant;
    char *next = mgc__token_cache_update(text, text ? strlen(text) : 0, &k,
                                         "tok", NOW + 1000 + i, NOW);
    assert_non_null(next);
    free(text);
    text = next;
  }
  size_t n = 0;
  for(const char *p = text; (p = strstr(p, "\"tenant\"")) != NULL; p++)
    n++;
  assert_int_equal(n, MGC_TOKEN_CACHE_MAX_ENTRIES);
  /* The newest is there, the ones expiring first went. */
  assert_non_null(strstr(text, "\"t265\""));
  assert_null(strstr(text, "\"t0\""));
  free(text);
}

static char dir[256];

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/mgcall-cache-test.XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void test_file_mode_and_refusal(void **state)
{
  (void)state;
  char path[400], sub[300];
  snprintf(sub, sizeof(sub), "%s/mgcall", dir);
  snprintf(path, sizeof(path), "%s/tokens.json", sub);
  char warning[600];
  assert_int_equal(
      mgc__token_cache_write(path, "{\"x\":1}", warning, sizeof(warning)), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(stat(sub, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
  /* Only tokens.json is left: the temporary file was renamed. */
  DIR *d = opendir(sub);
  struct dirent *de;
  int files = 0;
  while((de = readdir(d)) != NULL)
    if(de->d_name[0] != '.')
      files++;
  closedir(d);
  assert_int_equal(files, 1);

  char *text = NULL;
  size_t len = 0;
  assert_int_equal(
      mgc__token_cache_read(path, &text, &len, warning, sizeof(warning)), 1);
  assert_string_equal(text, "{\"x\":1}");
  assert_string_equal(warning, "");
  free(text);

  /* group-writable file: refused with a warning */
  assert_int_equal(chmod(path, 0620), 0);
  assert_int_equal(
      mgc__token_cache_read(path, &text, &len, warning, sizeof(warning)), 0);
  assert_null(text);
  assert_non_null(strstr(warning, "writable by other users"));
  assert_int_equal(chmod(path, 0602), 0);
  assert_int_equal(
      mgc__token_cache_read(path, &text, &len, warning, sizeof(warning)), 0);
  assert_int_equal(chmod(path, 0600), 0);

  /* world-writable directory: refused, and not written either */
  assert_int_equal(chmod(sub, 0777), 0);
  assert_int_equal(
      mgc__token_cache_read(path, &text, &len, warning, sizeof(warning)), 0);
  assert_non_null(strstr(warning, "directory"));
  assert_int_equal(mgc__token_cache_write(path, "{}", warning, sizeof(warning)),
                   -1);
  assert_int_equal(chmod(sub, 0700), 0);

  /* missing file: 0 without a warning */
  char missing[400];
  snprintf(missing, sizeof(missing), "%s/none.json", sub);
  assert_int_equal(
      mgc__token_cache_read(missing, &text, &len, warning, sizeof(warning)), 0);
  assert_string_equal(warning, "");

  /* a symlink is not followed */
  char link[400];
  snprintf(link, sizeof(link), "%s/link.json", sub);
  assert_int_equal(symlink(path, link), 0);
  assert_int_equal(
      mgc__token_cache_read(link, &text, &len, warning, sizeof(warning)), 0);
  assert_string_not_equal(warning, "");
}

/* The file is 0600 without touching the process umask, even when the
 * umask would allow more. */
static void test_no_umask(void **state)
{
  (void)state;
  char path[400];
  snprintf(path, sizeof(path), "%s/mgcall/tokens.json", dir);
  mode_t old = (mode_t)syscall(SYS_umask, 0);
  umask_calls = 0;
  char warning[600];
  int rc = mgc__token_cache_write(path, "{}", warning, sizeof(warning));
  mode_t now = (mode_t)syscall(SYS_umask, old);
  assert_int_equal(rc, 0);
  assert_int_equal(umask_calls, 0);
  assert_int_equal(now, 0); /* left as it was */
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_default_path(void **state)
{
  (void)state;
  setenv("XDG_CACHE_HOME", "/x/cache", 1);
  char *p = mgc__token_cache_default_path();
  assert_string_equal(p, "/x/cache/mgcall/tokens.json");
  free(p);
  setenv("XDG_CACHE_HOME", "relative", 1);
  setenv("HOME", "/home/u", 1);
  p = mgc__token_cache_default_path();
  assert_string_equal(p, "/home/u/.cache/mgcall/tokens.json");
  free(p);
  unsetenv("XDG_CACHE_HOME");
  p = mgc__token_cache_default_path();
  assert_string_equal(p, "/home/u/.cache/mgcall/tokens.json");
  free(p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_and_keying),
      cmocka_unit_test(test_margin),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_cap),
      cmocka_unit_test_setup_teardown(test_file_mode_and_refusal, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_no_umask, setup, teardown),
      cmocka_unit_test(test_default_path),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
