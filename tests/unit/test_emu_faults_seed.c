/* SPDX-License-Identifier: MIT */
/* test_emu_faults_seed.c - the emulator's fault generator is reproducible:
 * the same --seed gives the same faults for the same requests, another
 * seed other faults, and a seed set at run time (PUT /_emulator/faults
 * {"seed": N}) restarts the generator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "emulator/faults.h"

#define N 2000

static struct emu_faults *mk(uint64_t seed)
{
  struct emu_faults_config cfg;
  emu_faults_config_default(&cfg);
  cfg.rate = 0.3;
  cfg.statuses[0] = 429;
  cfg.statuses[1] = 503;
  cfg.statuses[2] = 504;
  cfg.nstatuses = 3;
  cfg.seed = seed;
  cfg.have_seed = 1;
  struct emu_faults *f = emu_faults_new(&cfg);
  assert_non_null(f);
  assert_int_equal(emu_faults_seed(f), seed);
  return f;
}

static void draw(struct emu_faults *f, int *out)
{
  for(int i = 0; i < N; i++) {
    struct emu_fault_decision d;
    emu_faults_decide(f, EMU_SCOPE_GRAPH, NULL, 0, &d);
    out[i] = d.status;
  }
}

static void test_same_seed_same_faults(void **state)
{
  (void)state;
  static int a[N], b[N], c[N];
  struct emu_faults *f1 = mk(42), *f2 = mk(42), *f3 = mk(43);
  draw(f1, a);
  draw(f2, b);
  draw(f3, c);
  assert_memory_equal(a, b, sizeof(a));
  assert_memory_not_equal(a, c, sizeof(a));
  /* about 30% faults, each status used */
  int faults = 0, s429 = 0, s503 = 0, s504 = 0;
  for(int i = 0; i < N; i++) {
    faults += a[i] != 0;
    s429 += a[i] == 429;
    s503 += a[i] == 503;
    s504 += a[i] == 504;
  }
  assert_in_range(faults, N / 4, N * 35 / 100);
  assert_true(s429 > 0 && s503 > 0 && s504 > 0);
  /* seed 0 is a seed like any other */
  struct emu_faults *z1 = mk(0), *z2 = mk(0);
  draw(z1, a);
  draw(z2, b);
  assert_memory_equal(a, b, sizeof(a));
  emu_faults_free(f1);
  emu_faults_free(f2);
  emu_faults_free(f3);
  emu_faults_free(z1);
  emu_faults_free(z2);
}

static void test_seed_at_run_time(void **state)
{
  (void)state;
  static int a[N], b[N];
  struct emu_faults *f1 = mk(7), *f2 = mk(99);
  draw(f1, a);
  char err[128];
  json_t *o = json_pack("{s:s}", "seed", "7"); /* as GET shows it */
  assert_int_equal(emu_faults_from_json(f2, o, err, sizeof(err)), 0);
  json_decref(o);
  assert_int_equal(emu_faults_seed(f2), 7);
  draw(f2, b);
  assert_memory_equal(a, b, sizeof(a));
  o = json_pack("{s:i}", "seed", -1);
  assert_int_equal(emu_faults_from_json(f2, o, err, sizeof(err)), -1);
  json_decref(o);
  o = json_pack("{s:s}", "seed", "12x");
  assert_int_equal(emu_faults_from_json(f2, o, err, sizeof(err)), -1);
  json_decref(o);
  assert_int_equal(emu_faults_seed(f2), 7);
  emu_faults_free(f1);
  emu_faults_free(f2);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_seed_same_faults),
      cmocka_unit_test(test_seed_at_run_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
