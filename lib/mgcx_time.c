/* SPDX-License-Identifier: MIT */
/* mgcx_time.c - RFC 3339 timestamps <-> epoch milliseconds. */
#include "mgcx.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int digits(const char *s, int n, int *out)
{
  int v = 0;
  for(int i = 0; i < n; i++) {
    if(s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
  static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if(m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
    return 29;
  return dm[m - 1];
}

int mgcx_rfc3339_parse(const char *s, int64_t *ms)
{
  int y, mo, d, h, mi, sec;
  if(!s || strlen(s) < 20)
    return -1;
  if(digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
     digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
     digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
     s[16] != ':' || digits(s + 17, 2, &sec))
    return -1;
  if(y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
     h > 23 || mi > 59 || sec > 60)
    return -1;
  if(sec == 60)
    sec = 59; /* leap second: close enough for a schedule */
  const char *p = s + 19;
  int64_t frac_ms = 0;
  if(*p == '.') {
    p++;
    int n = 0;
    while(*p >= '0' && *p <= '9') {
      if(n < 3)
        frac_ms = frac_ms * 10 + (*p - '0');
      n++;
      p++;
      if(n > 9)
        return -1;
    }
    if(!n)
      return -1;
    for(int i = n; i < 3; i++)
      frac_ms *= 10;
  }
  int64_t off_min = 0;
  if(*p == 'Z' || *p == 'z')
    p++;
  else if(*p == '+' || *p == '-') {
    int oh, om;
    if(digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) ||
       oh > 23 || om > 59)
      return -1;
    off_min = (int64_t)oh * 60 + om;
    if(*p == '-')
      off_min = -off_min;
    p += 6;
  }
  else
    return -1;
  if(*p)
    return -1;
  int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
                 off_min * 60;
  if(secs < 0)
    return -1;
  *ms = secs * 1000 + frac_ms;
  return 0;
}

char *mgcx_rfc3339_format(int64_t ms, int millis, char *buf, size_t len)
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if(ms < 0 || !gmtime_r(&t, &tm)) {
    ms = 0;
    t = 0;
    gmtime_r(&t, &tm);
  }
  if(millis)
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(ms % 1000));
  else
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}
