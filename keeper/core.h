/* SPDX-License-Identifier: MIT */
/* core.h - the keeper's shared state: schedule + store + metrics + hooks
 * behind one mutex.  The control API (api.c, its own thread) and the main
 * loop (keeper.c) both go through here.  No network I/O of its own. */
#ifndef MGCALL_KEEPER_CORE_H
#define MGCALL_KEEPER_CORE_H

#include <jansson.h>
#include <pthread.h>

#include "keeper/config.h" /* struct kcore_config */
#include "keeper/hooks.h"
#include "keeper/metrics.h"
#include "keeper/retention.h"
#include "keeper/sched.h"
#include "keeper/store.h"
#include "keeper/writer.h"

/* Fleet mode: lease.c fills this in (NULL with a store one keeper uses
 * alone). */
struct kcore_fleet {
  /* The lease term of the shard of call_id while held, else 0 (core lock
   * held): stamped on every row written, which fences the write. */
  int64_t (*term_of)(void *ud, const char *call_id);
  json_t *(*members_json)(void *ud); /* GET /fleet; caller decrefs */
  char *(*metrics_text)(void *ud);   /* appended to GET /metrics; freed */
  void *ud;
};

struct kcore {
  pthread_mutex_t lock;
  struct ks_sched *sched;
  struct kstore *store;
  pthread_mutex_t store_lock; /* every use of store */
  struct kwriter *writer;     /* the only thread writing to store */
  struct kmetrics *metrics;
  struct khooks *hooks;
  struct kretention *retention;
  void (*wake)(void *ud); /* called (lock held) when work arrives */
  void *wake_ud;
  size_t terminal; /* ended/lost calls held in memory */
  size_t loaded;   /* calls restored from the store on open */
  /* under lock: */
  const struct kcore_fleet *fleet; /* fleet mode (lease.c), else NULL */
  char node_id[128];               /* this keeper's name (GET /fleet) */
  char api_url[128];               /* its control API, "" = unknown */
};

/* Keep at most this many ended/lost calls in memory (GET /calls shows
 * them); older ones are still in the store (GET /calls/{id}). */
#define KCORE_MAX_TERMINAL 10000
/* --retention by default: 7 days, in ms. */
#define KCORE_RETENTION_MS (7LL * 24 * 3600 * 1000)

/* Clocks, in ms. */
int64_t kcore_mono_ms(void);
int64_t kcore_wall_ms(void);

/* Open the store, load every active call, start the hook thread. */
int kcore_open(const struct kcore_config *cfg, struct kcore **out,
               struct mgc_err *err);
/* Flush progress, stop hooks (they finish), close.  NULL is a no-op. */
void kcore_free(struct kcore *k);

/* One registration of POST /calls. */
struct kcore_reg {
  const char *call_id;
  const char *tenant_id; /* NULL = default */
  int64_t started_ms;    /* 0 = not given */
};

/* Track regs (n >= 1); durable in the store when it returns MGCALL_OK.
 * created[i] (may be NULL) is 1 for a new registration, 0 when it was
 * already tracked.  On a store error nothing is acknowledged
 * (MGCALL_E_INTERNAL, err says why). */
int kcore_add(struct kcore *k, const struct kcore_reg *regs, size_t n,
              int *created, struct mgc_err *err);

/* End a live call (DELETE: KS_REASON_REMOVED; notification:
 * KS_REASON_TERMINATED): written at once, hooks queued.  MGCALL_OK,
 * MGCALL_E_NOT_FOUND (unknown), or MGCALL_E_INTERNAL.  *was_live (may be
 * NULL) is 0 when it had already ended (no hook runs again). */
int kcore_end(struct kcore *k, const char *call_id, enum ks_reason reason,
              int *was_live, struct mgc_err *err);
/* End n calls at once (a notification body): the live ones end, unknown or
 * already ended ones are skipped; all of it is written in ONE durable
 * transaction (kcore_end waits for one per call); in fleet mode each is
 * ended in the store, as kcore_end does, whichever keeper holds it.  *ended
 * (may be NULL) counts the calls that were live.  MGCALL_OK or
 * MGCALL_E_INTERNAL. */
int kcore_end_many(struct kcore *k, const char *const *call_ids, size_t n,
                   enum ks_reason reason, size_t *ended, struct mgc_err *err);

/* JSON of one call (from memory, else the store) or NULL when unknown;
 * caller decrefs. */
json_t *kcore_call_json(struct kcore *k, const char *call_id);
/* With the lock held: c's store row at now (its strings point into c:
 * copy them before unlocking). */
void kcore_row_locked(const struct kcore *k, const struct ks_call *c,
                      int64_t now_mono, int64_t now_wall,
                      struct kstore_call *row);
/* The API's JSON of one call from a row: next_due_ms as given, deadline_ms
 * (0 = null); caller decrefs; NULL on out of memory.  No lock needed. */
json_t *kcore_row_json(const struct kstore_call *row, int64_t deadline_ms);
/* GET /fleet: {"members": [...], "shards": N}; with a store one keeper
 * uses alone, this keeper as the one member.  Caller decrefs. */
json_t *kcore_fleet_json(struct kcore *k);
/* Prometheus text; caller frees. */
char *kcore_metrics_text(struct kcore *k);

/* With the lock held (main loop): end c for reason (metrics, log, hook). */
void kcore_end_locked(struct kcore *k, struct ks_call *c,
                      enum ks_reason reason);
/* The same for an end already stored at ended_wall (ms since the epoch),
 * e.g. removed through another keeper of the fleet: the hooks' event and
 * the call carry that time, as the store does. */
void kcore_end_at_locked(struct kcore *k, struct ks_call *c,
                         enum ks_reason reason, int64_t ended_wall);
/* With the lock held: queue every dirty call's row for the writer (one
 * transaction, not waited for).  MGCALL_OK, or MGCALL_E_INTERNAL when the
 * writer is backed up or memory ran out (the calls stay dirty). */
int kcore_flush_locked(struct kcore *k, struct mgc_err *err);
/* The same as one durable job: wait for it with kwriter_wait() after
 * releasing the lock.  NULL when nothing was dirty or memory ran out
 * (err set; the calls stay dirty). */
struct kwjob *kcore_flush_durable_locked(struct kcore *k, struct mgc_err *err);

#endif
