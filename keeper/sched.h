/* SPDX-License-Identifier: MIT */
/* sched.h - the keeper's schedule: every tracked call, a min-heap of due
 * times keyed on (monotonic due ms, sequence), a ready heap of calls whose
 * time has come keyed on their deadline (the most urgent is sent first when
 * the keeper is behind), the live calls ordered by deadline (rank.h: the
 * counts by state and the most urgent calls without a pass over all of
 * them), and the rules of SPEC.md section 4 (interval, jitter, retries that
 * land before last success + deadline, states).
 *
 * No I/O and no clock: every function takes "now" (monotonic ms for the
 * schedule, wall ms for what is displayed and stored), so the rules are unit
 * tested without waiting.  Not thread-safe: the keeper guards it with one
 * mutex. */
#ifndef MGCALL_KEEPER_SCHED_H
#define MGCALL_KEEPER_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "keeper/config.h" /* struct ks_config */
#include "rank.h"

enum ks_state { KS_ACTIVE = 0, KS_AT_RISK, KS_ENDED, KS_LOST };

/* Why a call left the schedule (MGCALL_REASON of the hook). */
enum ks_reason {
  KS_REASON_NONE = 0,
  KS_REASON_NOT_FOUND,  /* Graph answered 404 */
  KS_REASON_TERMINATED, /* a commsNotification said so */
  KS_REASON_REMOVED,    /* DELETE /calls/{id} */
  KS_REASON_LOST        /* the deadline passed without a success */
};

/* Longest call id / tenant id accepted (Graph call ids are uuids). */
#define KS_ID_MAX 256
#define KS_ERROR_MAX 200

struct ks_call {
  char *call_id;                 /* owned */
  char *tenant_id;               /* owned, NULL = the credential's tenant */
  int64_t added_wall;            /* wall ms of the registration */
  int64_t started_wall;          /* wall ms of started-at, 0 = not given */
  int64_t last_success_wall;     /* wall ms, 0 = never */
  int64_t anchor_mono;           /* monotonic ms the deadline counts from */
  struct krank_node by_deadline; /* key anchor_mono, while live */
  int64_t due_mono;              /* monotonic ms of the next keepAlive */
  uint64_t seq;                  /* tie-break of equal due times (FIFO) */
  size_t heap_idx;               /* index in the heap, KS_NOT_QUEUED if none */
  size_t ready_idx;              /* index in the ready heap, KS_NOT_QUEUED */
  struct ks_call *hnext;         /* hash chain */
  int failures;                  /* consecutive */
  unsigned char state;           /* enum ks_state (ended/lost are final) */
  unsigned char reason;          /* enum ks_reason when ended/lost */
  unsigned char in_flight;
  unsigned char ready;
  unsigned char dirty;       /* progress not yet written to the store */
  unsigned char last_chance; /* deadline passed: one try, then lost */
  unsigned char in_batch;    /* owned by the main loop: a request is out */
  unsigned char ranked;      /* in the schedule's by-deadline set */
  int64_t sent_mono;         /* when the current request was handed over */
  int64_t ended_wall;        /* wall ms the call ended, 0 = live */
  char *last_error;          /* owned, NULL = none */
  struct ks_call *next_dirty;
};

#define KS_NOT_QUEUED ((size_t)-1)

struct ks_sched;

/* Make an empty schedule; cfg is copied.  seed seeds the jitter (0 = fixed
 * default).  NULL on out of memory or when cfg is inconsistent
 * (interval >= deadline, jitter > 50). */
struct ks_sched *ks_sched_new(const struct ks_config *cfg, uint64_t seed);
void ks_sched_free(struct ks_sched *s);

/* Largest number of calls held (active + terminal); ks_track() refuses more. */
#define KS_MAX_CALLS 4000000u

/* Look a call up by id; NULL when unknown.  Borrowed. */
struct ks_call *ks_find(struct ks_sched *s, const char *call_id);

/* Track a new call (ids copied).  started_wall 0 = first keepAlive at once,
 * else at started_at + interval (at once if that has passed).  A call known
 * in a final state is revived.  Returns the call (borrowed), NULL on out of
 * memory, bad id or when KS_MAX_CALLS are held.  *created is 1 for a new or
 * revived call, 0 when it was already active. */
struct ks_call *ks_track(struct ks_sched *s, const char *call_id,
                         const char *tenant_id, int64_t started_wall,
                         int64_t now_mono, int64_t now_wall, int *created);

/* Put back a call loaded from the store (after a restart): the deadline
 * counts from last_success (else started, else added) and the next
 * keepAlive is due at that + interval.  When that has passed (the start-up
 * surge) it is due after 1/KS_RESTORE_SPREAD of the time left before its
 * deadline: the backlog spreads out, the most urgent deadline first, and
 * new registrations (due at once) are not stuck behind it.  A call never
 * kept alive is due at once; a call whose deadline passed gets one last try
 * at once (success revives it, a failure makes it lost).  Returns the call
 * or NULL (out of memory, duplicate). */
#define KS_RESTORE_SPREAD 8
struct ks_call *ks_restore(struct ks_sched *s, const char *call_id,
                           const char *tenant_id, int64_t added_wall,
                           int64_t started_wall, int64_t last_success_wall,
                           int failures, const char *last_error,
                           int64_t now_mono, int64_t now_wall);

/* The same for a call adopted from another keeper of a fleet (its lease
 * expired: killed, paused, cut off): an overdue keepAlive is due at once,
 * not spread (SPEC 4a: "send the overdue keepAlives at once").  The ready
 * heap sends them earliest deadline first and the in-flight controller
 * bounds the surge.  A restart spreads because a new registration must not
 * wait behind a whole store's backlog (t_keeper_surge); an adoption is the
 * backlog of a dead keeper that was already late by the lease TTL
 * (bench/fleet.sh: the spread kept adopted calls overdue 11-15 s after
 * the adoption, half of the catch-up time). */
struct ks_call *ks_adopt(struct ks_sched *s, const char *call_id,
                         const char *tenant_id, int64_t added_wall,
                         int64_t started_wall, int64_t last_success_wall,
                         int failures, const char *last_error,
                         int64_t now_mono, int64_t now_wall);

/* Move every call due at or before now_mono to the ready list.  Returns how
 * many were moved. */
size_t ks_collect_due(struct ks_sched *s, int64_t now_mono);

/* Take the oldest ready call (marks it in flight) or NULL. */
struct ks_call *ks_next_ready(struct ks_sched *s);
/* The call ks_next_ready() would take (not taken), or NULL. */
const struct ks_call *ks_peek_ready(const struct ks_sched *s);
/* Calls due and not taken yet (the ready list's length). */
size_t ks_ready_count(const struct ks_sched *s);

/* Milliseconds until the earliest due call (0 when one is due or ready),
 * -1 when nothing is scheduled. */
int64_t ks_wait_ms(const struct ks_sched *s, int64_t now_mono);

/* Outcome of a keepAlive sent at sent_mono/sent_wall (the deadline then
 * counts from the send time, the conservative end). */
void ks_on_success(struct ks_sched *s, struct ks_call *c, int64_t sent_mono,
                   int64_t sent_wall);
/* A failure that is worth retrying (429, 5xx, network, 401 ...).  Schedules
 * the retry before the deadline and returns 0, or returns 1 when no retry
 * can land before the deadline (or it has passed): the caller then ends
 * the call with KS_REASON_LOST.  Results for a call that ended or was
 * registered again meanwhile are ignored (0). */
int ks_on_failure(struct ks_sched *s, struct ks_call *c, const char *error,
                  int64_t now_mono);
/* The same, honouring the server's Retry-After (retry_after_ms, -1 = none;
 * the keeper passes it for 429 and 503): the retry waits the longer of the
 * usual backoff (ks_retry_delay()) and Retry-After, Retry-After counting
 * only up to half of what remains minus the guard, (remaining - guard) / 2,
 * so that further retries still fit before the deadline.  When Retry-After
 * reaches beyond that, *clamped (may be NULL) is set to 1 so the caller can
 * log it, and the retry goes at that half, or at the backoff when that is
 * longer (near the deadline, its floor of 1% of the deadline). */
int ks_on_failure_after(struct ks_sched *s, struct ks_call *c,
                        const char *error, int64_t now_mono,
                        int64_t retry_after_ms, int *clamped);
/* End a call (404, notification, removal, lost): out of the heap and the
 * ready list, state ended (or lost for KS_REASON_LOST).  Returns 0, or -1
 * when it had already ended (nothing changes: hooks must run once). */
int ks_end(struct ks_sched *s, struct ks_call *c, enum ks_reason reason);

/* The live state of c at now_mono: at-risk when less than the at-risk
 * margin remains before its deadline. */
enum ks_state ks_state_at(const struct ks_sched *s, const struct ks_call *c,
                          int64_t now_mono);

/* Monotonic ms of c's deadline. */
int64_t ks_deadline_mono(const struct ks_sched *s, const struct ks_call *c);

/* The at-risk margin: 10 minutes, or 2/9 of the deadline when the deadline
 * is shorter than 45 minutes (10 min is 2/9 of 45 min). */
int64_t ks_at_risk_ms(const struct ks_sched *s);

/* Delay before retry number n (1 = first) when remaining_ms are left before
 * the deadline: the backoff base * 2^(n-1), base = (deadline - interval)/40
 * clamped to 50 ms .. 3 s, capped at deadline/4 (at most 180 s, at least
 * base); but never more than a bound: half of what remains minus a guard
 * (deadline/10, 20 ms .. 5 s), and near the deadline, where that half
 * shrinks, 1% of the deadline (20 ms .. 30 s) when that is more: a small
 * fixed step, so transient faults need a long losing streak to lose a call.
 * That is min(backoff, max((remaining - guard) / 2, step)).  When the
 * result is not below remaining_ms no retry fits: the call is lost. */
int64_t ks_retry_delay(const struct ks_sched *s, int n, int64_t remaining_ms);

/* Every call, for listing: fn(ud, call) in no particular order. */
void ks_foreach(struct ks_sched *s, void (*fn)(void *ud, struct ks_call *c),
                void *ud);

/* Counts by live state at now_mono (array of 4, indexed by enum ks_state),
 * of every call in memory: O(log n) (kept as calls change, the at-risk
 * ones counted in the by-deadline order). */
void ks_count_states(const struct ks_sched *s, int64_t now_mono,
                     size_t counts[4]);

/* Least time left before a deadline among live calls; -1 if none.
 * O(log n). */
int64_t ks_min_time_left(const struct ks_sched *s, int64_t now_mono);

/* The (at most max) live calls with the soonest deadlines, soonest first,
 * into out; returns how many.  O(max log n). */
size_t ks_most_urgent(const struct ks_sched *s, struct ks_call **out,
                      size_t max);

/* Dirty list: calls whose progress must be written.  ks_mark_dirty() adds c
 * once; ks_take_dirty() hands the whole list over (linked by next_dirty)
 * and empties it. */
void ks_mark_dirty(struct ks_sched *s, struct ks_call *c);
struct ks_call *ks_take_dirty(struct ks_sched *s);

/* Drop a call from memory completely (not in the heap or ready list). */
void ks_forget(struct ks_sched *s, struct ks_call *c);

/* Drop every call pick(ud, c) chooses (never one in_batch: a request is
 * out for it), in one pass over the ready and dirty lists (ks_forget() of
 * many calls would walk them once per call).  pick must give the same
 * answer for a call every time it is asked.  Returns how many. */
size_t ks_forget_if(struct ks_sched *s,
                    int (*pick)(void *ud, const struct ks_call *c), void *ud);

size_t ks_count(const struct ks_sched *s);
size_t ks_scheduled(const struct ks_sched *s); /* in heap + ready + flight */

/* Wall ms of the next keepAlive (for display), 0 when not scheduled. */
int64_t ks_next_due_wall(const struct ks_call *c, int64_t now_mono,
                         int64_t now_wall);

const char *ks_state_name(enum ks_state st);
const char *ks_reason_name(enum ks_reason r);
/* Parse a state name; -1 if unknown. */
int ks_state_parse(const char *name);

#endif
