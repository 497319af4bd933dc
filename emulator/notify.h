/* SPDX-License-Identifier: MIT */
/* notify.h - commsNotifications POSTed to calls' callbackUris from one
 * background thread (libcurl), with bounded retries and a bounded queue, so
 * request handling never waits for a callback.  Only loopback callback URLs
 * (127.0.0.0/8, ::1, localhost) are contacted. */
#ifndef EMU_NOTIFY_H
#define EMU_NOTIFY_H

#include "calls.h"

#include <stddef.h>
#include <stdint.h>

#define EMU_NOTIFY_MAX_QUEUE 100000
#define EMU_NOTIFY_ATTEMPTS 4 /* first try + 3 retries: 0.5 s, 1 s, 2 s */

struct emu_notify;
struct emu_nsign;

struct emu_notify_stats {
  uint64_t sent, failed, retried, skipped, dropped;
  uint32_t queued;
};

/* cacert: extra trust for https callbacks (NULL: system trust only). */
struct emu_notify *emu_notify_new(const char *cacert);
int emu_notify_start(struct emu_notify *n);
/* Stops the thread: pending deliveries get one last attempt if due within
 * a second, the rest are dropped.  NULL: no-op. */
void emu_notify_free(struct emu_notify *n);

/* Sign every callback with signer (borrowed; it must outlive n) from now
 * on: "Authorization: Bearer <JWT>" with aud app and tid tenant.  NULL (the
 * default): unsigned callbacks.  Call before emu_notify_start(). */
void emu_notify_set_signer(struct emu_notify *n, struct emu_nsign *signer);

/* Queue body (JSON text, copied) for url; app and tenant (copied) are the
 * call's, for the signature.  Jobs due at the same time go out in the order
 * they were posted.  Non-loopback URLs are counted as skipped and ignored. */
void emu_notify_post(struct emu_notify *n, const char *url, const char *body,
                     const char *app, const char *tenant);

/* With on, a call's "established" notice goes out before its
 * "establishing" one (a fault: Graph warns they may arrive out of order).
 * Call before emu_notify_start(). */
void emu_notify_set_reorder(struct emu_notify *n, int on);

/* Post the notices of one lifecycle event of call to its callbackUri:
 * CREATED: establishing; ESTABLISHED: established; ENDED: terminating, then
 * terminated (with resultInfo).  n NULL or no callbackUri: nothing. */
void emu_notify_event(struct emu_notify *n, enum emu_call_event ev,
                      const struct emu_call_info *call);

void emu_notify_get_stats(struct emu_notify *n, struct emu_notify_stats *out);

/* Whether url is http(s) to a loopback host (parser, no I/O). */
int emu_url_is_loopback(const char *url);

#endif
