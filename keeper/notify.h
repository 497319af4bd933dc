/* SPDX-License-Identifier: MIT */
/* notify.h - Graph commsNotifications (the body a bot forwards to
 * POST /notifications) -> what the keeper does with each call.  Bytes in,
 * values out: no I/O (fuzzed by fuzz/fuzz_notifications.c). */
#ifndef MGCALL_KEEPER_NOTIFY_H
#define MGCALL_KEEPER_NOTIFY_H

#include <stddef.h>

#include "keeper/sched.h"

enum kn_action {
  KN_TRACK = 1, /* resourceData.state "established": keep it alive */
  KN_END = 2    /* state "terminated" or changeType "deleted" */
};

struct kn_event {
  enum kn_action action;
  char call_id[KS_ID_MAX + 1];
  char tenant_id[KS_ID_MAX + 1]; /* "" when the notification has none */
};

/* Largest body accepted and most notifications in one body. */
#define KN_MAX_BODY (256 * 1024)
#define KN_MAX_EVENTS 1000
#define KN_TOO_MANY (-2)

/* Parse body (len bytes, need not be NUL-terminated): an object
 * {"value": [commsNotification, ...]} or a single commsNotification.
 * A notification counts when its resourceUrl (or resource) is exactly
 * [/]communications/calls/{id} (also with an /app or /beta prefix); others
 * (participants, operations, other states) are ignored.  The tenant comes
 * from resourceData.tenantId, else the notification's tenantId.
 * A call id must pass mgc__call_id_ok(), a tenant mgc__tenant_id_ok().
 * Fills up to max events, sets *n.  Returns 0; -1 for a body that is not
 * such JSON or holds a bad call id or tenant (400); KN_TOO_MANY when it
 * holds more than max (or KN_MAX_EVENTS) notifications (413): nothing is
 * dropped quietly.  err gets a one-line reason. */
int kn_parse(const char *body, size_t len, struct kn_event *events, size_t max,
             size_t *n, char *err, size_t errlen);

#endif
