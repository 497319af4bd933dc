/* SPDX-License-Identifier: MIT */
/* hooks.h - cleanup when a call ends: --on-ended CMD (run without a shell)
 * and --on-ended-url URL (JSON POST), each with a timeout and bounded
 * retries, on a thread of their own so they never delay keepAlives. */
#ifndef MGCALL_KEEPER_HOOKS_H
#define MGCALL_KEEPER_HOOKS_H

#include <stddef.h>

#include "keeper/metrics.h"

struct khooks_config {
  const char *command; /* --on-ended, or NULL */
  const char *url;     /* --on-ended-url, or NULL */
  long timeout_ms;     /* per attempt; 0 = 30 s */
  int retries;         /* after the first attempt; default 3 */
  long retry_delay_ms; /* first delay, doubled each time; 0 = 1 s */
  const char *cacert;  /* extra CAs for the URL, or NULL */
};

/* Most jobs queued; more are logged and dropped. */
#define KHOOKS_MAX_QUEUE 100000
/* Longest --on-ended command and most words in it. */
#define KHOOKS_MAX_CMD 4096
#define KHOOKS_MAX_ARGS 64

struct khooks;

/* Start the hook thread (none when neither hook is set).  metrics is
 * borrowed.  Returns MGCALL_OK or MGCALL_E_USAGE (bad command: err says why)
 * or MGCALL_E_INTERNAL. */
int khooks_new(const struct khooks_config *cfg, struct kmetrics *metrics,
               struct khooks **out, char *err, size_t errlen);

/* Queue the hooks for a call that ended (strings copied).  Never blocks on
 * a hook.  Returns 0, or -1 when the queue is full (logged). */
int khooks_enqueue(struct khooks *h, const char *call_id, const char *tenant_id,
                   const char *reason);

/* Finish every queued job (each bounded by its timeout and retries), stop
 * the thread, free.  NULL is a no-op. */
void khooks_free(struct khooks *h);

/* Split a command line into words, without a shell: words are separated by
 * blanks; '...' keeps everything literally; "..." keeps everything but a
 * backslash escapes " and \ inside it; outside quotes a backslash escapes
 * the next character.  No variables, globs, pipes or redirections.
 * Returns a NULL-terminated malloc'd array (free with khooks_argv_free())
 * and sets *argc, or NULL with a reason in err (unterminated quote, empty,
 * too long, too many words). */
char **khooks_split(const char *cmd, int *argc, char *err, size_t errlen);
void khooks_argv_free(char **argv);

#endif
