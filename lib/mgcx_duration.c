/* SPDX-License-Identifier: MIT */
/* mgcx_duration.c - human durations for command-line options. */
#include "mgcx.h"

#include <stdio.h>
#include <string.h>

int mgcx_duration_parse(const char *s, uint64_t *ms)
{
  uint64_t total = 0;
  if(!s || !*s)
    return -1;
  if(!strcmp(s, "0")) {
    *ms = 0;
    return 0;
  }
  while(*s) {
    uint64_t n = 0;
    int digits = 0;
    while(*s >= '0' && *s <= '9') {
      n = n * 10 + (uint64_t)(*s - '0');
      if(n > MGCX_DURATION_MAX_MS)
        return -1;
      s++;
      digits++;
    }
    if(!digits)
      return -1;
    uint64_t unit;
    if(!strncmp(s, "ms", 2)) {
      unit = 1;
      s += 2;
    }
    else if(*s == 's') {
      unit = 1000;
      s++;
    }
    else if(*s == 'm') {
      unit = 60 * 1000;
      s++;
    }
    else if(*s == 'h') {
      unit = 3600 * 1000;
      s++;
    }
    else if(*s == 'd') {
      unit = 24 * 3600 * 1000;
      s++;
    }
    else
      return -1;
    if(n > MGCX_DURATION_MAX_MS / unit)
      return -1;
    total += n * unit;
    if(total > MGCX_DURATION_MAX_MS)
      return -1;
  }
  *ms = total;
  return 0;
}

char *mgcx_duration_format(uint64_t ms, char *buf, size_t buflen)
{
  static const struct {
    const char *name;
    uint64_t ms;
  } units[] = {{"d", 86400000ULL},
               {"h", 3600000ULL},
               {"m", 60000ULL},
               {"s", 1000ULL},
               {"ms", 1ULL}};
  size_t used = 0;
  if(!buflen)
    return buf;
  buf[0] = '\0';
  if(!ms) {
    snprintf(buf, buflen, "0s");
    return buf;
  }
  for(size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    uint64_t n = ms / units[i].ms;
    if(!n)
      continue;
    ms -= n * units[i].ms;
    int w = snprintf(buf + used, buflen - used, "%llu%s", (unsigned long long)n,
                     units[i].name);
    if(w < 0 || (size_t)w >= buflen - used) {
      buf[used] = '\0'; /* drop the group that did not fit */
      break;
    }
    used += (size_t)w;
  }
  return buf;
}
