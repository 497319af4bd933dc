/* SPDX-License-Identifier: MIT */
/* state.c - saving and restoring calls across restarts. */
#include "state.h"

#include "graph_json.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE (16 * 1024)

static const char *const state_names[] = {"establishing", "established",
                                          "terminated"};

int emu_state_parse_call(const char *line, size_t len,
                         struct emu_call_info *out, void **holder)
{
  *holder = NULL;
  memset(out, 0, sizeof(*out));
  json_error_t jerr;
  json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
  if(!json_is_object(o)) {
    json_decref(o);
    return -1;
  }
  const char *id = json_string_value(json_object_get(o, "id"));
  const char *st = json_string_value(json_object_get(o, "state"));
  json_t *created = json_object_get(o, "createdMs");
  int state = -1;
  for(int i = 0; st && i < 3; i++)
    if(!strcmp(st, state_names[i]))
      state = i;
  json_t *t = json_object_get(o, "tenantId"), *a = json_object_get(o, "appId"),
         *c = json_object_get(o, "callbackUri");
  if(!id || strlen(id) != 36 || state < 0 || !json_is_integer(created) ||
     json_integer_value(created) <= 0 || !json_is_string(t) ||
     !json_is_string(a) || !json_is_string(c)) {
    json_decref(o);
    return -1;
  }
  snprintf(out->id, sizeof(out->id), "%s", id);
  out->state = (enum emu_call_state)state;
  out->created_ms = json_integer_value(created);
  out->last_keepalive_ms =
      json_integer_value(json_object_get(o, "lastKeepAliveMs"));
  out->ended_ms = json_integer_value(json_object_get(o, "endedMs"));
  json_int_t reason = json_integer_value(json_object_get(o, "endReason"));
  json_int_t ka = json_integer_value(json_object_get(o, "keepAlives"));
  json_int_t mods = json_integer_value(json_object_get(o, "modalities"));
  json_int_t media = json_integer_value(json_object_get(o, "media"));
  if(out->last_keepalive_ms < 0 || out->ended_ms < 0 || reason < 0 ||
     reason > EMU_END_EMULATOR || ka < 0 || ka > UINT32_MAX || mods < 0 ||
     mods > 31 || media < 0 || media > 1) {
    json_decref(o);
    return -1;
  }
  out->end_reason = (enum emu_end_reason)reason;
  out->keepalives = (uint32_t)ka;
  json_int_t gap = json_integer_value(json_object_get(o, "maxGapMs"));
  out->max_gap_ms = gap > 0 ? gap : 0; /* absent in older files */
  out->modalities = (unsigned)mods;
  out->media = (enum emu_media)media;
  out->tenant = json_string_value(t);
  out->app = json_string_value(a);
  out->callback = json_string_value(c);
  *holder = o;
  return 0;
}

int emu_state_load(const char *path, struct emu_calls *calls, char **key_pem,
                   char *err, size_t errlen)
{
  *key_pem = NULL;
  FILE *f = fopen(path, "r");
  if(!f) {
    if(errno == ENOENT)
      return 0;
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  size_t lineno = 0;
  int rc = 0;
  while((n = getline(&line, &cap, f)) > 0) {
    lineno++;
    if(n > MAX_LINE) {
      snprintf(err, errlen, "%s:%zu: line too long", path, lineno);
      rc = -1;
      break;
    }
    if(lineno == 1) {
      json_t *h = json_loadb(line, (size_t)n, 0, NULL);
      const char *fmt = json_string_value(json_object_get(h, "format"));
      const char *key = json_string_value(json_object_get(h, "signingKey"));
      if(!fmt || strcmp(fmt, "mgcall-emulator-state") ||
         json_integer_value(json_object_get(h, "version")) != 1) {
        json_decref(h);
        snprintf(err, errlen, "%s: not an mgcall emulator state file", path);
        rc = -1;
        break;
      }
      if(key)
        *key_pem = strdup(key);
      json_decref(h);
      continue;
    }
    struct emu_call_info info;
    void *holder;
    if(emu_state_parse_call(line, (size_t)n, &info, &holder)) {
      snprintf(err, errlen, "%s:%zu: not a valid call record", path, lineno);
      rc = -1;
      break;
    }
    enum emu_call_result r = emu_calls_restore(calls, &info);
    json_decref(holder);
    if(r != EMU_CALLS_OK && r != EMU_CALLS_INVALID) {
      snprintf(err, errlen, "%s:%zu: cannot restore the call", path, lineno);
      rc = -1;
      break;
    }
  }
  free(line);
  fclose(f);
  if(rc) {
    free(*key_pem);
    *key_pem = NULL;
  }
  return rc;
}

int emu_state_save(const char *path, struct emu_calls *calls,
                   const struct emu_identity *id, char *err, size_t errlen)
{
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if(fd < 0) {
    snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    return -1;
  }
  FILE *f = fdopen(fd, "w");
  if(!f) {
    close(fd);
    snprintf(err, errlen, "cannot write %s", tmp);
    return -1;
  }
  char now[40];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  emu_format_time((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, now,
                  sizeof(now), 1);
  char *key = emu_identity_key_pem(id);
  json_t *h = json_pack("{s:s,s:i,s:s,s:s*}", "format", "mgcall-emulator-state",
                        "version", 1, "savedAt", now, "signingKey", key);
  free(key);
  char *text = h ? json_dumps(h, JSON_COMPACT) : NULL;
  json_decref(h);
  int ok = text && fprintf(f, "%s\n", text) > 0;
  free(text);
  size_t pos = 0;
  struct emu_call_info info[256];
  size_t got;
  while(ok && (got = emu_calls_list(calls, &pos, info, 256))) {
    for(size_t i = 0; ok && i < got; i++) {
      json_t *o = json_pack(
          "{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:i,s:I,s:i,s:i}", "id", info[i].id,
          "state", state_names[info[i].state], "tenantId", info[i].tenant,
          "appId", info[i].app, "callbackUri", info[i].callback, "createdMs",
          (json_int_t)info[i].created_ms, "lastKeepAliveMs",
          (json_int_t)info[i].last_keepalive_ms, "endedMs",
          (json_int_t)info[i].ended_ms, "endReason", (int)info[i].end_reason,
          "keepAlives", (json_int_t)info[i].keepalives, "modalities",
          (int)info[i].modalities, "media", (int)info[i].media);
      if(o)
        json_object_set_new(o, "maxGapMs", json_integer(info[i].max_gap_ms));
      char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
      json_decref(o);
      ok = t && fprintf(f, "%s\n", t) > 0;
      free(t);
    }
    for(size_t i = 0; i < got; i++)
      emu_calls_info_release(&info[i]);
  }
  if(fflush(f) || fsync(fileno(f)))
    ok = 0;
  if(fclose(f))
    ok = 0;
  if(!ok || rename(tmp, path)) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}
