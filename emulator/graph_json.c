/* SPDX-License-Identifier: MIT */
/* graph_json.c - Graph JSON bodies in and out. */
#include "graph_json.h"

#include "mgcx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const struct {
  const char *name;
  unsigned bit;
} modality_names[] = {{"audio", EMU_MOD_AUDIO},
                      {"video", EMU_MOD_VIDEO},
                      {"videoBasedScreenSharing", EMU_MOD_SCREEN},
                      {"data", EMU_MOD_DATA},
                      {"unknown", EMU_MOD_UNKNOWN}};
#define NMODALITIES (sizeof(modality_names) / sizeof(modality_names[0]))

void emu_format_time(int64_t ms, char *buf, size_t len, int with_ms)
{
  if(!ms) {
    if(len)
      buf[0] = '\0';
    return;
  }
  mgcx_rfc3339_format(ms, with_ms, buf, len);
  size_t n = strlen(buf);
  if(!with_ms && n && buf[n - 1] == 'Z')
    buf[n - 1] = '\0'; /* Graph's innerError date has no zone */
}

int emu_call_request_parse(const char *body, size_t len,
                           struct emu_call_request *req, char *err,
                           size_t errlen)
{
  memset(req, 0, sizeof(*req));
  json_error_t jerr;
  if(len > EMU_MAX_BODY) {
    snprintf(err, errlen, "The request body is too large.");
    return -1;
  }
  req->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
  if(!req->root) {
    snprintf(err, errlen,
             "Unable to read JSON request payload. Please ensure Content-Type "
             "header is set and payload is of valid JSON format. (line %d, "
             "column %d: %.100s)",
             jerr.line, jerr.column, jerr.text);
    return -1;
  }
  if(!json_is_object(req->root)) {
    snprintf(err, errlen, "The request body must be a JSON object (a call).");
    goto fail;
  }
  json_t *cb = json_object_get(req->root, "callbackUri");
  const char *uri = json_string_value(cb);
  if(!uri || !*uri) {
    snprintf(err, errlen, "The property 'callbackUri' is required.");
    goto fail;
  }
  if((strncasecmp(uri, "https://", 8) && strncasecmp(uri, "http://", 7)) ||
     strlen(uri) > 2048 || strpbrk(uri, " \t\r\n")) {
    snprintf(err, errlen,
             "The property 'callbackUri' must be an absolute http(s) URL.");
    goto fail;
  }
  req->callback = uri;
  json_t *mods = json_object_get(req->root, "requestedModalities");
  if(mods) {
    size_t i;
    json_t *m;
    if(!json_is_array(mods)) {
      snprintf(err, errlen, "'requestedModalities' must be an array.");
      goto fail;
    }
    json_array_foreach(mods, i, m)
    {
      const char *s = json_string_value(m);
      unsigned bit = 0;
      for(size_t k = 0; s && k < NMODALITIES; k++)
        if(!strcmp(s, modality_names[k].name))
          bit = modality_names[k].bit;
      if(!bit) {
        snprintf(err, errlen, "'requestedModalities' has an unknown modality.");
        goto fail;
      }
      req->modalities |= bit;
    }
  }
  else
    req->modalities = EMU_MOD_AUDIO;
  json_t *media = json_object_get(req->root, "mediaConfig");
  if(media) {
    const char *type = json_string_value(json_object_get(media, "@odata.type"));
    if(!json_is_object(media)) {
      snprintf(err, errlen, "'mediaConfig' must be an object.");
      goto fail;
    }
    if(type && strstr(type, "appHostedMediaConfig"))
      req->media = EMU_MEDIA_APP;
  }
  return 0;
fail:
  json_decref(req->root);
  req->root = NULL;
  return -1;
}

void emu_call_request_release(struct emu_call_request *req)
{
  if(!req)
    return;
  json_decref(req->root);
  req->root = NULL;
}

static const char *state_name(enum emu_call_state s)
{
  switch(s) {
  case EMU_CALL_ESTABLISHING:
    return "establishing";
  case EMU_CALL_ESTABLISHED:
    return "established";
  case EMU_CALL_TERMINATED:
    return "terminated";
  }
  return "unknown";
}

static const char *end_reason_name(enum emu_end_reason r)
{
  switch(r) {
  case EMU_END_NONE:
    return NULL;
  case EMU_END_TIMEOUT:
    return "inactivityTimeout";
  case EMU_END_DELETED:
    return "deleted";
  case EMU_END_EMULATOR:
    return "remoteHangUp";
  }
  return NULL;
}

json_t *emu_result_info_json(const struct emu_call_info *call)
{
  if(call->state != EMU_CALL_TERMINATED)
    return NULL;
  int code = 200, subcode = 5001;
  const char *msg = "The conversation has ended.";
  if(call->end_reason == EMU_END_TIMEOUT) {
    code = 408;
    subcode = 8537;
    msg = "Keep Alive timeout, cleaned up inactive call.";
  }
  else if(call->end_reason == EMU_END_EMULATOR) {
    subcode = 5000;
    msg = "The remote party hung up the call.";
  }
  return json_pack("{s:s,s:i,s:i,s:s}", "@odata.type",
                   "#microsoft.graph.resultInfo", "code", code, "subcode",
                   subcode, "message", msg);
}

static json_t *modalities_json(unsigned mods)
{
  json_t *a = json_array();
  for(size_t k = 0; a && k < NMODALITIES; k++)
    if(mods & modality_names[k].bit)
      json_array_append_new(a, json_string(modality_names[k].name));
  return a;
}

json_t *emu_call_json(const struct emu_call_info *call, const char *base_url,
                      const char *api, const struct emu_call_request *req)
{
  char ctx[512];
  snprintf(ctx, sizeof(ctx), "%s/%s/$metadata#communications/calls/$entity",
           base_url, api);
  json_t *ri = emu_result_info_json(call);
  json_t *o = json_pack(
      "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:{s:s},s:s,s:o*}", "@odata.context",
      ctx, "@odata.type", "#microsoft.graph.call", "id", call->id, "state",
      state_name(call->state), "direction", "outgoing", "callbackUri",
      call->callback, "tenantId", call->tenant, "requestedModalities",
      modalities_json(call->modalities), "mediaConfig", "@odata.type",
      call->media == EMU_MEDIA_APP
          ? "#microsoft.graph.appHostedMediaConfig"
          : "#microsoft.graph.serviceHostedMediaConfig",
      "callChainId", call->id, "resultInfo", ri);
  if(o && !ri)
    json_object_set_new(o, "resultInfo", json_null());
  static const char *const echoed[] = {"source", "targets", "subject",
                                       "chatInfo", "meetingInfo"};
  for(size_t i = 0; o && req && req->root && i < 5; i++) {
    json_t *v = json_object_get(req->root, echoed[i]);
    if(v)
      json_object_set(o, echoed[i], v);
  }
  return o;
}

json_t *emu_call_inspect_json(const struct emu_call_info *call)
{
  char created[40], last[40], ended[40], expires[40];
  emu_format_time(call->created_ms, created, sizeof(created), 1);
  emu_format_time(call->last_keepalive_ms, last, sizeof(last), 1);
  emu_format_time(call->ended_ms, ended, sizeof(ended), 1);
  emu_format_time(call->expires_ms, expires, sizeof(expires), 1);
  const char *reason = end_reason_name(call->end_reason);
  json_t *ri = emu_result_info_json(call);
  json_t *o = json_pack(
      "{s:s,s:s,s:s,s:s,s:s,s:s,s:s*,s:I,s:s*,s:s*,s:s,s:o*}", "id", call->id,
      "state", state_name(call->state), "tenantId", call->tenant, "appId",
      call->app, "callbackUri", call->callback, "createdDateTime", created,
      "lastKeepAliveDateTime", call->last_keepalive_ms ? last : NULL,
      "keepAliveCount", (json_int_t)call->keepalives, "endedDateTime",
      call->ended_ms ? ended : NULL, "endReason", reason,
      call->state == EMU_CALL_TERMINATED ? "dropDateTime" : "expiresDateTime",
      expires, "resultInfo", ri);
  if(o && !call->last_keepalive_ms)
    json_object_set_new(o, "lastKeepAliveDateTime", json_null());
  if(o)
    json_object_set_new(o, "maxGapMs", json_integer(call->max_gap_ms));
  return o;
}

json_t *emu_notification_json(const struct emu_call_info *call,
                              enum emu_notice notice)
{
  static const char *const states[] = {"establishing", "established",
                                       "terminating", "terminated"};
  int deleted = notice == EMU_NOTICE_TERMINATED;
  char url[96], resource[96], etag[16];
  snprintf(url, sizeof(url), "/communications/calls/%s", call->id);
  snprintf(resource, sizeof(resource), "/app/calls/%s", call->id);
  /* the etag grows with each notice, so a receiver can order them */
  snprintf(etag, sizeof(etag), "W/\"%d\"", (int)notice + 1);
  json_t *data = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "@odata.type",
                           "#microsoft.graph.call", "@odata.id", url,
                           "@odata.etag", etag, "id", call->id, "state",
                           states[notice], "callChainId", call->id);
  if(!data)
    return NULL;
  json_t *ri = deleted ? emu_result_info_json(call) : NULL;
  if(ri)
    json_object_set_new(data, "resultInfo", ri);
  json_object_set_new(data, "callbackUri", json_string(call->callback));
  json_object_set_new(data, "tenantId", json_string(call->tenant));
  return json_pack("{s:s,s:[{s:s,s:s,s:s,s:s,s:o}]}", "@odata.type",
                   "#microsoft.graph.commsNotifications", "value",
                   "@odata.type", "#microsoft.graph.commsNotification",
                   "changeType", deleted ? "deleted" : "updated", "resource",
                   resource, "resourceUrl", url, "resourceData", data);
}

json_t *emu_odata_error(const char *code, const char *message,
                        const char *inner_code, const char *request_id,
                        const char *client_request_id)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char date[40];
  emu_format_time((int64_t)ts.tv_sec * 1000, date, sizeof(date), 0);
  json_t *inner = json_pack("{s:s,s:s,s:s}", "date", date, "request-id",
                            request_id, "client-request-id", client_request_id);
  if(inner && inner_code)
    json_object_set_new(inner, "code", json_string(inner_code));
  return json_pack("{s:{s:s,s:o,s:o}}", "error", "code", code, "message",
                   emu_json_text(message, strlen(message)), "innerError",
                   inner);
}

json_t *emu_json_text(const char *text, size_t len)
{
  json_t *j = json_stringn(text, len);
  if(j || !text)
    return j;
  size_t cap = len * 4 + 1; /* every byte may become \xHH */
  char *clean = cap > len ? malloc(cap) : NULL;
  if(!clean)
    return NULL;
  mgcx_utf8_clean(clean, cap, text, len);
  j = json_string(clean);
  free(clean);
  return j;
}
