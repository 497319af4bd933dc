/* SPDX-License-Identifier: MIT */
/* graph_json.h - the Graph side's JSON: the create-call request (parser, no
 * I/O), call resources, commsNotifications and OData error bodies. */
#ifndef EMU_GRAPH_JSON_H
#define EMU_GRAPH_JSON_H

#include "calls.h"

#include <jansson.h>
#include <stddef.h>

#define EMU_MAX_BODY (64 * 1024)

/* What POST /communications/calls carried that the emulator keeps. */
struct emu_call_request {
  json_t *root;         /* the parsed body (echoed fields); decref */
  const char *callback; /* callbackUri, borrowed from root */
  unsigned modalities;  /* EMU_MOD_* */
  enum emu_media media;
};

/* Parse a create-call body.  Returns 0 (release with emu_call_request_release)
 * or -1 with a Graph-style message in err: not JSON, not an object, no
 * callbackUri, a callbackUri that is not an http(s) URL, bad modalities. */
int emu_call_request_parse(const char *body, size_t len,
                           struct emu_call_request *req, char *err,
                           size_t errlen);
void emu_call_request_release(struct emu_call_request *req);

/* A call resource as Graph serialises it.  base_url and api ("v1.0", "beta")
 * make @odata.context; req, when not NULL, adds the request's source,
 * targets and subject to the result (the 201 response). */
json_t *emu_call_json(const struct emu_call_info *call, const char *base_url,
                      const char *api, const struct emu_call_request *req);

/* The /_emulator/calls view of a call (adds lastKeepAliveDateTime,
 * keepAliveCount, endReason, expiresDateTime). */
json_t *emu_call_inspect_json(const struct emu_call_info *call);

/* The lifecycle notices Graph sends a call's callbackUri, in order. */
enum emu_notice {
  EMU_NOTICE_ESTABLISHING = 0, /* changeType updated */
  EMU_NOTICE_ESTABLISHED = 1,  /* changeType updated */
  EMU_NOTICE_TERMINATING = 2,  /* changeType updated */
  EMU_NOTICE_TERMINATED = 3    /* changeType deleted, with resultInfo */
};

/* The commsNotifications body of one notice: resource /app/calls/{id},
 * resourceUrl /communications/calls/{id}, resourceData a
 * #microsoft.graph.call with @odata.id, @odata.etag (W/"1".."4" by notice),
 * state, callChainId, tenantId, and resultInfo when terminated. */
json_t *emu_notification_json(const struct emu_call_info *call,
                              enum emu_notice notice);

/* resultInfo of an ended call (NULL for a live one). */
json_t *emu_result_info_json(const struct emu_call_info *call);

/* {"error":{"code","message","innerError":{"date","request-id",
 * "client-request-id"[,"code": inner_code]}}} */
json_t *emu_odata_error(const char *code, const char *message,
                        const char *inner_code, const char *request_id,
                        const char *client_request_id);

/* A JSON string of len bytes of text that may hold anything (a request's
 * path, headers, form fields): valid UTF-8 is kept as it is, every other
 * byte becomes \xHH (jansson refuses invalid UTF-8).  NULL when out of
 * memory.  emu_odata_error() passes its message through it. */
json_t *emu_json_text(const char *text, size_t len);

/* Format Unix ms as "2026-11-27T13:22:01.123Z" (ms 0: "" ). */
void emu_format_time(int64_t ms, char *buf, size_t len, int with_ms);

#endif
