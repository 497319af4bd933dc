/* SPDX-License-Identifier: MIT */
/* config.h - the keeper's settings, what `mgcall keeper run` sets from its
 * options: the schedule's (sched.h), the hooks' (hooks.h), the core's
 * (core.h) and the fleet lease's bounds (lease.h).  Plain values: no other
 * header of the keeper or of lib/, so that the tool's front end reaches no
 * library internal through it (keeper/keeper.h includes it;
 * scripts/check-src-includes). */
#ifndef MGCALL_KEEPER_CONFIG_H
#define MGCALL_KEEPER_CONFIG_H

#include <stdint.h>

/* The schedule (sched.h). */
struct ks_config {
  int64_t interval_ms; /* default 15 min */
  int64_t deadline_ms; /* default 45 min */
  unsigned jitter_pct; /* 0..50, default 10 */
};

/* The cleanup hooks (hooks.h). */
struct khooks_config {
  const char *command;  /* --on-ended, or NULL */
  const char *url;      /* --on-ended-url, or NULL */
  long timeout_ms;      /* per attempt; 0 = 30 s */
  int retries;          /* after the first attempt; default 3 */
  long retry_delay_ms;  /* first delay, doubled each time; 0 = 1 s */
  const char *cacert;   /* extra CAs for the URL (mgc__http_trust), or NULL */
  long stop_timeout_ms; /* --stop-timeout: drain at shutdown; 0 = 20 s */
  const char *node;     /* who claims (fleet node id); NULL = host:pid */
};

/* The keeper's shared state (core.h). */
struct kcore_config {
  struct ks_config sched;
  const char *store_url; /* NULL = default */
  struct khooks_config hooks;
  uint64_t seed;        /* jitter seed, 0 = from the clock */
  int64_t retention_ms; /* --retention: purge older ends; 0 = 7 days */
};

/* The fleet lease's TTL (lease.h): the shortest and the default, in ms. */
#define KLEASE_MIN_TTL_MS 250
#define KLEASE_DEFAULT_TTL_MS 30000

#endif
