/* SPDX-License-Identifier: MIT */
/* log.c - text or JSON log lines, one write each. */
#include "log.h"

#include "mgcx.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static enum klog_format format = KLOG_TEXT;
static enum klog_level max_level = KLOG_INFO;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const names[] = {"error", "warn", "info", "debug"};

void klog_setup(enum klog_format fmt, enum klog_level max)
{
  format = fmt;
  max_level = max;
}

void klog(enum klog_level lvl, const char *call_id, const char *request_id,
          const char *fmt, ...)
{
  if(lvl > max_level)
    return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char when[32];
  mgcx_rfc3339_format((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, 1, when,
                      sizeof(when));
  pthread_mutex_lock(&lock);
  if(format == KLOG_JSON) {
    json_t *o = json_pack("{s:s, s:s, s:s}", "ts", when, "level", names[lvl],
                          "msg", msg);
    if(o && call_id)
      json_object_set_new(o, "callId", json_string(call_id));
    if(o && request_id && *request_id)
      json_object_set_new(o, "requestId", json_string(request_id));
    char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if(line)
      fprintf(stderr, "%s\n", line);
    free(line);
    json_decref(o);
  }
  else {
    int has_req = request_id && *request_id;
    fprintf(stderr, "%s %-5s %s%s%s%s%s%s%s\n", when, names[lvl],
            call_id ? "call " : "", call_id ? call_id : "", call_id ? ": " : "",
            msg, has_req ? " (request-id " : "", has_req ? request_id : "",
            has_req ? ")" : "");
  }
  fflush(stderr);
  pthread_mutex_unlock(&lock);
}
