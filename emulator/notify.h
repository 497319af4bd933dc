/* SPDX-License-Identifier: MIT */
/* notify.h - commsNotifications POSTed to calls' callbackUris from one
 * background thread (libcurl), with bounded retries and a bounded queue, so
 * request handling never waits for a callback.  Only loopback callback URLs
 * (127.0.0.0/8, ::1, localhost) are contacted. */
#ifndef EMU_NOTIFY_H
#define EMU_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#define EMU_NOTIFY_MAX_QUEUE 100000
#define EMU_NOTIFY_ATTEMPTS 4 /* first try + 3 retries: 0.5 s, 1 s, 2 s */

struct emu_notify;

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

/* Queue body (JSON text, copied) for url.  Non-loopback URLs are counted as
 * skipped and ignored. */
void emu_notify_post(struct emu_notify *n, const char *url, const char *body);

void emu_notify_get_stats(struct emu_notify *n, struct emu_notify_stats *out);

/* Whether url is http(s) to a loopback host (parser, no I/O). */
int emu_url_is_loopback(const char *url);

#endif
