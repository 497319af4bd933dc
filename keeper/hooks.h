/* SPDX-License-Identifier: MIT */
/* hooks.h - cleanup when a call ends: --on-ended CMD (run without a shell)
 * and --on-ended-url URL (JSON POST), each with a timeout and bounded
 * retries, on a thread of their own so they never delay keepAlives.
 *
 * The hooks are a durable outbox in the store (store.h): the end of a call
 * stages one job per configured kind (khooks_stage), the keeper writes the
 * staged jobs in the transaction that writes the end (khooks_take), and the
 * hook thread claims due jobs from the store, runs one attempt each and
 * records the outcome there (delivered, retry later, given up).  A job the
 * process did not finish (kill -9, a stop timeout) runs after a restart;
 * every delivery carries the job's event id so a receiver can drop a
 * duplicate. */
#ifndef MGCALL_KEEPER_HOOKS_H
#define MGCALL_KEEPER_HOOKS_H

#include <pthread.h>
#include <stddef.h>

#include "keeper/config.h" /* struct khooks_config */
#include "keeper/metrics.h"
#include "keeper/store.h"

/* Most jobs staged and not yet taken; more are logged and dropped. */
#define KHOOKS_MAX_STAGED 100000
/* Longest --on-ended command and most words in it. */
#define KHOOKS_MAX_CMD 4096
#define KHOOKS_MAX_ARGS 64
/* How often the hook thread looks for due jobs without being kicked (retry
 * times, jobs left by a dead node), in ms. */
#define KHOOKS_POLL_MS 1000

struct khooks;

/* Start the hook thread on store (none when neither hook is set; staging
 * is then a no-op).  metrics and store are borrowed; store_lock guards
 * every use of store.  Returns MGCALL_OK or MGCALL_E_USAGE (bad command:
 * err says why) or MGCALL_E_INTERNAL. */
int khooks_new(const struct khooks_config *cfg, struct kmetrics *metrics,
               struct kstore *store, pthread_mutex_t *store_lock,
               struct khooks **out, char *err, size_t errlen);

/* Stage the jobs for a call that ended at ended_ms (wall), one per
 * configured kind, with one new event id (strings copied).  Never blocks.
 * Called under the keeper's lock, like khooks_take().  Returns 0, or -1
 * when out of memory or too many are staged (logged: that hook is lost). */
int khooks_stage(struct khooks *h, const char *call_id, const char *tenant_id,
                 const char *reason, int64_t ended_ms);

/* Hand over every staged job (*n of them; NULL when none): the caller
 * writes them with put_outbox() and frees them with khooks_jobs_free(), or
 * gives them back with khooks_unstage() when it could not queue the write.
 * NULL h: none. */
struct kstore_hook *khooks_take(struct khooks *h, size_t *n);
void khooks_unstage(struct khooks *h, struct kstore_hook *jobs, size_t n);
void khooks_jobs_free(struct kstore_hook *jobs, size_t n);

/* Jobs were written: look for due jobs now (any thread; NULL: no-op). */
void khooks_kick(struct khooks *h);

/* Stop: run the jobs that are due for at most the stop timeout (an attempt
 * still running then is killed and its job released), leave the rest
 * pending in the store, stop the thread, free.  NULL is a no-op. */
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
