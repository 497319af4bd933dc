/* SPDX-License-Identifier: MIT */
/* header.c - checking an extra request header line (mgcall_header_check(),
 * for the library's mgcall_config.headers and the tool's --header). */
#include "mgcall/mgcall.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int is_tchar(unsigned char c)
{
  return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c);
}

int mgcall_header_check(const char *line, char *errbuf, size_t errlen)
{
  const char *why = NULL;
  size_t len = line ? strlen(line) : 0;
  const char *colon = line ? strchr(line, ':') : NULL;
  if(!line || !len)
    why = "empty header";
  else if(len > MGCALL_HEADER_MAX)
    why = "header too long";
  else if(strpbrk(line, "\r\n"))
    why = "header contains CR or LF";
  else if(!colon || colon == line)
    why = "header is not 'Name: value'";
  if(!why) {
    for(const char *p = line; p < colon; p++)
      if(!is_tchar((unsigned char)*p)) {
        why = "header name has a character not allowed in a name";
        break;
      }
  }
  if(!why) {
    size_t n = (size_t)(colon - line);
    static const char *const forbidden[] = {"Authorization", "Host",
                                            "Content-Length"};
    for(size_t i = 0; i < 3; i++)
      if(n == strlen(forbidden[i]) && !strncasecmp(line, forbidden[i], n)) {
        if(errbuf && errlen)
          snprintf(errbuf, errlen, "header '%s' may not be set", forbidden[i]);
        return MGCALL_E_USAGE;
      }
    for(const char *p = colon + 1; *p; p++)
      if((unsigned char)*p < 0x20 && *p != '\t') {
        why = "header value has a control character";
        break;
      }
  }
  if(why) {
    if(errbuf && errlen)
      snprintf(errbuf, errlen, "%s", why);
    return MGCALL_E_USAGE;
  }
  return MGCALL_OK;
}
