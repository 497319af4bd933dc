/* SPDX-License-Identifier: MIT */
/* calls.h - the emulator's call store: every call's lifecycle
 * (establishing -> established -> terminated -> dropped), driven by a
 * min-heap of timers and one timer thread, never by a scan of all calls.
 *
 * Memory is compact (about 100 bytes a live call): ids are kept as 16 binary
 * bytes, tenant / app / callbackUri strings are interned, timers live in one
 * array heap.  All functions are thread-safe (one mutex). */
#ifndef EMU_CALLS_H
#define EMU_CALLS_H

#include <stddef.h>
#include <stdint.h>

enum emu_call_state {
  EMU_CALL_ESTABLISHING = 0,
  EMU_CALL_ESTABLISHED = 1,
  EMU_CALL_TERMINATED = 2
};

enum emu_end_reason {
  EMU_END_NONE = 0,
  EMU_END_TIMEOUT = 1, /* no keepAlive for the inactivity timeout */
  EMU_END_DELETED = 2, /* DELETE /communications/calls/{id} */
  EMU_END_EMULATOR = 3 /* DELETE /_emulator/calls/{id} (a remote hang-up) */
};

/* Media configuration flavour of a call (mediaConfig's @odata.type). */
enum emu_media { EMU_MEDIA_SERVICE = 0, EMU_MEDIA_APP = 1 };

/* requestedModalities bits. */
enum {
  EMU_MOD_AUDIO = 1 << 0,
  EMU_MOD_VIDEO = 1 << 1,
  EMU_MOD_SCREEN = 1 << 2,
  EMU_MOD_DATA = 1 << 3,
  EMU_MOD_UNKNOWN = 1 << 4
};

/* A copy of one call, times as wall-clock Unix milliseconds.  The string
 * pointers are interned by the store; in an info the store filled they stay
 * valid until emu_calls_info_release(info) (the string is freed with the
 * last call using it and the last info holding it).  Every function that
 * takes an out info may be followed by emu_calls_info_release(out), filled
 * or not. */
struct emu_call_info {
  char id[37];
  enum emu_call_state state;
  enum emu_end_reason end_reason;
  int64_t created_ms;
  int64_t last_keepalive_ms; /* 0: none yet */
  int64_t ended_ms;          /* 0: not ended */
  int64_t expires_ms; /* active: when inactivity ends it; ended: when dropped */
  int64_t max_gap_ms; /* longest time without a successful keepAlive, from
                         creation; for a live call up to now */
  uint32_t keepalives;
  unsigned modalities;
  enum emu_media media;
  const char *tenant;
  const char *app;
  const char *callback;
  void *held_[3]; /* private: the strings pinned for this copy */
};

/* Let go of the strings of an info the store filled (or cleared); NULL and
 * a second call are no-ops. */
void emu_calls_info_release(struct emu_call_info *info);

struct emu_calls_config {
  int64_t inactivity_ms;  /* --inactivity-timeout (default 45 min) */
  int64_t establish_ms;   /* establishing -> established delay */
  int64_t retention_ms;   /* how long ended calls stay visible */
  uint32_t max_calls;     /* live + retained; 0 = default (4 million) */
  int64_t (*clock)(void); /* monotonic ms; NULL = emu_now_ms (tests) */
};

struct emu_calls_stats {
  uint64_t created, keepalives, ended_timeout, ended_deleted, ended_emulator;
  uint64_t dropped;
  uint32_t active, ended;
  uint32_t strings; /* distinct tenant/app/callbackUri strings held */
  /* the longest max_gap_ms of any call since the start (live, ended or
   * already dropped) */
  int64_t max_gap_ms;
  /* the longest gap still open now: the most time any live call has gone
   * without a successful keepAlive (from its creation when it had none);
   * 0 with no live call */
  int64_t open_gap_ms;
};

enum emu_call_result {
  EMU_CALLS_OK = 0,
  EMU_CALLS_NOT_FOUND = 1,    /* unknown id, or the call has ended */
  EMU_CALLS_WRONG_TENANT = 2, /* exists, but belongs to another tenant */
  EMU_CALLS_FULL = 3,         /* max_calls or memory exhausted */
  EMU_CALLS_INVALID = 4       /* bad argument (id, string too long) */
};

/* Event: EMU_EVENT_ESTABLISHED or EMU_EVENT_ENDED.  Called without the store
 * lock held, from the timer thread or the thread that ended the call.
 * EMU_EVENT_CREATED is never fired by the store: the Graph front end reports
 * it to the notifier after a create. */
enum emu_call_event {
  EMU_EVENT_ESTABLISHED = 1,
  EMU_EVENT_ENDED = 2,
  EMU_EVENT_CREATED = 3
};
typedef void (*emu_call_event_fn)(void *ctx, enum emu_call_event ev,
                                  const struct emu_call_info *call);

struct emu_calls;

/* A new store; NULL when out of memory.  on_event may be NULL. */
struct emu_calls *emu_calls_new(const struct emu_calls_config *cfg,
                                emu_call_event_fn on_event, void *ctx);
/* Stops the timer thread (if started) and frees everything.  NULL: no-op. */
void emu_calls_free(struct emu_calls *s);

/* Start the timer thread that moves calls along.  0 or -1. */
int emu_calls_start(struct emu_calls *s);

/* Fire every timer due now (establish, expire, drop), calling the event
 * hook for each; the timer thread does this, tests call it with their own
 * clock.  Returns how many events fired. */
size_t emu_calls_run_due(struct emu_calls *s);

/* Monotonic milliseconds, the store's default clock. */
int64_t emu_now_ms(void);

/* Create a call.  Strings are copied (interned: one copy shared by the calls
 * using it, freed with the last of them); each at most 2048 bytes. */
enum emu_call_result emu_calls_create(struct emu_calls *s, const char *tenant,
                                      const char *app, const char *callback,
                                      unsigned modalities, enum emu_media media,
                                      struct emu_call_info *out);

/* Look up a call in any state (ended ones until dropped). */
enum emu_call_result emu_calls_get(struct emu_calls *s, const char *id,
                                   struct emu_call_info *out);

/* A successful keepAlive: the inactivity timer restarts.  tenant NULL skips
 * the tenant check.  Ended calls give EMU_CALLS_NOT_FOUND. */
enum emu_call_result emu_calls_keepalive(struct emu_calls *s, const char *id,
                                         const char *tenant,
                                         struct emu_call_info *out);

/* End a live call (reason EMU_END_DELETED or EMU_END_EMULATOR); fires the
 * ENDED event.  tenant NULL skips the tenant check. */
enum emu_call_result emu_calls_end(struct emu_calls *s, const char *id,
                                   const char *tenant,
                                   enum emu_end_reason reason,
                                   struct emu_call_info *out);

/* Copy up to max calls starting at cursor *pos (0 to begin) into out; *pos
 * moves on.  Returns how many were copied (release each); 0 means done. */
size_t emu_calls_list(struct emu_calls *s, size_t *pos,
                      struct emu_call_info *out, size_t max);

/* Counters; max_gap_ms and open_gap_ms look at every live call
 * (O(calls)). */
void emu_calls_get_stats(struct emu_calls *s, struct emu_calls_stats *out);

/* Insert a call read back from a state file (times wall-clock ms).  A live
 * call whose deadline already passed is ended by the timer thread as soon as
 * it runs.  Duplicates are refused (EMU_CALLS_INVALID). */
enum emu_call_result emu_calls_restore(struct emu_calls *s,
                                       const struct emu_call_info *in);

/* Bumped on every change; for the state file writer. */
uint64_t emu_calls_generation(struct emu_calls *s);

/* Parse a canonical UUID ("8-4-4-4-12" hex, any case) into 16 bytes. 0/-1. */
int emu_uuid_parse(const char *s, uint8_t out[16]);
/* Format 16 bytes as a lower-case UUID into out (37 bytes). */
void emu_uuid_format(const uint8_t id[16], char out[37]);
/* A fresh random (version 4) UUID string. */
void emu_uuid_new(char out[37]);

#endif
