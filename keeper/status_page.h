/* SPDX-License-Identifier: MIT */
/* status_page.h - the keeper's status page (GET /): one HTML document from
 * a snapshot of plain values (keeper/status.h gathers it), rendered with no
 * lock held and no I/O.  Self-contained (inline style, no script, no
 * external asset), refreshing itself with <meta http-equiv="refresh">.
 * Everything that comes from outside (call ids, tenants, errors, node
 * names) is HTML-escaped; links to a call percent-encode its id. */
#ifndef MGCALL_KEEPER_STATUS_PAGE_H
#define MGCALL_KEEPER_STATUS_PAGE_H

#include <stddef.h>
#include <stdint.h>

/* Rows shown: the live calls closest to their deadline, the calls that
 * ended last. */
#define KSP_WORST 25
#define KSP_LATEST 25
/* Seconds between refreshes. */
#define KSP_REFRESH_S 10
/* Fleet members shown at most. */
#define KSP_MEMBERS 64

/* One call of the page.  Strings are owned by the snapshot (NULL = none);
 * times are wall-clock ms since the epoch, 0 = none. */
struct ksp_call {
  char *call_id, *tenant_id, *state, *reason, *last_error;
  int64_t deadline_ms;     /* live calls */
  int64_t last_success_ms; /* live calls */
  int64_t ended_ms;        /* ended calls */
  int failures;
  /* ended calls: the outcome of their hook jobs: "delivered", "pending",
   * "failed", or NULL when none was stored (no hook set, or purged) */
  char *hook, *hook_error;
  int hook_attempts;
};

struct ksp_member {
  char *node_id, *api_url;
  int64_t heartbeat_age_ms, shards, calls;
  int self;
};

struct ksp_snapshot {
  int64_t now_ms;         /* wall clock of the snapshot */
  size_t active, at_risk; /* live calls now */
  /* calls this process ended since it started, by outcome */
  uint64_t ended, lost;
  struct ksp_call worst[KSP_WORST]; /* by deadline, soonest first */
  size_t nworst;
  struct ksp_call latest[KSP_LATEST]; /* by end, newest first */
  size_t nlatest;
  char *latest_error; /* why latest is empty (store failed), or NULL */
  int fleet;          /* fleet mode: members below */
  struct ksp_member members[KSP_MEMBERS];
  size_t nmembers;
  char *node_id; /* this keeper in a fleet, or NULL */
};

/* The page as a malloc'd NUL-terminated string (caller frees), or NULL on
 * out of memory. */
char *ksp_render(const struct ksp_snapshot *s);

/* Free the strings of s (not s itself) and zero it. */
void ksp_release(struct ksp_snapshot *s);

#endif
