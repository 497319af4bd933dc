/* SPDX-License-Identifier: MIT */
/* retry.c - retry decisions; no I/O, no clock, no RNG of its own. */
#include "retry.h"

#include <ctype.h>
#include <curl/curl.h>
#include <string.h>

int mgc__retry_status(long status)
{
  return status == 429 || status == 503 || status == 504;
}

int mgc__retry_after_parse(const char *value, time_t now, uint64_t *ms)
{
  if(!value)
    return -1;
  while(*value == ' ' || *value == '\t')
    value++;
  size_t len = strlen(value);
  while(len && (value[len - 1] == ' ' || value[len - 1] == '\t' ||
                value[len - 1] == '\r' || value[len - 1] == '\n'))
    len--;
  if(!len || len > 64)
    return -1;
  if(isdigit((unsigned char)value[0])) {
    uint64_t s = 0;
    for(size_t i = 0; i < len; i++) {
      if(!isdigit((unsigned char)value[i]))
        return -1;
      s = s * 10 + (uint64_t)(value[i] - '0');
      if(s > 100000000ULL) /* ~3 years: clamp, nobody waits that long */
        s = 100000000ULL;
    }
    *ms = s * 1000;
    return 0;
  }
  /* HTTP-date (IMF-fixdate, RFC 850 or asctime): a weekday name first. */
  if(!isalpha((unsigned char)value[0]))
    return -1;
  char date[65];
  memcpy(date, value, len);
  date[len] = '\0';
  time_t when = curl_getdate(date, NULL);
  if(when == -1)
    return -1;
  *ms = when > now ? (uint64_t)(when - now) * 1000 : 0;
  return 0;
}

uint64_t mgc__retry_backoff_ms(int n, uint32_t random)
{
  if(n < 1)
    n = 1;
  uint64_t d = MGC_RETRY_BASE_MS;
  for(int i = 1; i < n && d < MGC_RETRY_CAP_MS; i++)
    d *= 2;
  if(d > MGC_RETRY_CAP_MS)
    d = MGC_RETRY_CAP_MS;
  d += (uint64_t)random % (d / 4 + 1);
  return d > MGC_RETRY_CAP_MS ? MGC_RETRY_CAP_MS : d;
}

int64_t mgc__retry_next_delay(const struct mgc_retry_policy *p,
                              int retries_done, uint64_t elapsed_ms,
                              int64_t retry_after_ms, uint32_t random)
{
  if(retries_done < 0 || retries_done >= p->retries)
    return -1;
  uint64_t wait;
  if(retry_after_ms >= 0) {
    if((uint64_t)retry_after_ms > MGC_RETRY_AFTER_MAX_MS)
      return -1;
    wait = (uint64_t)retry_after_ms;
  }
  else {
    wait = mgc__retry_backoff_ms(retries_done + 1, random);
  }
  if(p->max_time_ms &&
     (elapsed_ms >= p->max_time_ms || wait > p->max_time_ms - elapsed_ms))
    return -1;
  return (int64_t)wait;
}
