/* SPDX-License-Identifier: MIT */
/* form.c - form bodies, query strings and Basic credentials. */
#include "form.h"

#include "b64url.h"
#include "mgcx.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum emu_form_error emu_form_parse(const char *body, size_t len,
                                   struct emu_form *form)
{
  form->n = 0;
  if(len > EMU_FORM_MAX_BYTES)
    return EMU_FORM_TOO_LONG;
  size_t i = 0;
  while(i < len) {
    const char *amp = memchr(body + i, '&', len - i);
    size_t end = amp ? (size_t)(amp - body) : len;
    if(end > i) {
      const char *eq = memchr(body + i, '=', end - i);
      size_t name_end = eq ? (size_t)(eq - body) : end;
      size_t value_start = eq ? name_end + 1 : end;
      if(form->n == EMU_FORM_MAX_FIELDS)
        return EMU_FORM_TOO_MANY;
      char *name = mgcx_pct_decode(body + i, name_end - i, 1);
      char *value = mgcx_pct_decode(body + value_start, end - value_start, 1);
      if(!name || !value) {
        free(name);
        free(value);
        return EMU_FORM_BAD_ENCODING;
      }
      if(emu_form_get(form, name)) {
        free(name);
        free(value);
        return EMU_FORM_DUPLICATE;
      }
      form->f[form->n].name = name;
      form->f[form->n].value = value;
      form->n++;
    }
    i = end + 1;
  }
  return EMU_FORM_OK;
}

const char *emu_form_get(const struct emu_form *form, const char *name)
{
  for(size_t i = 0; i < form->n; i++)
    if(!strcmp(form->f[i].name, name))
      return form->f[i].value;
  return NULL;
}

void emu_form_release(struct emu_form *form)
{
  if(!form)
    return;
  for(size_t i = 0; i < form->n; i++) {
    free(form->f[i].name);
    free(form->f[i].value);
  }
  form->n = 0;
}

int emu_basic_parse(const char *header, char **user, char **pass)
{
  *user = *pass = NULL;
  if(!header || strncasecmp(header, "Basic ", 6))
    return -1;
  const char *p = header + 6;
  while(*p == ' ')
    p++;
  size_t n = strlen(p);
  while(n && (p[n - 1] == ' ' || p[n - 1] == '='))
    n--;
  if(!n || n > 8192)
    return -1;
  /* Standard base64 -> base64url, then the shared decoder. */
  char *url = malloc(n + 1);
  if(!url)
    return -1;
  for(size_t i = 0; i < n; i++) {
    char c = p[i];
    if(c == '-' || c == '_') { /* not standard base64 */
      free(url);
      return -1;
    }
    url[i] = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  url[n] = '\0';
  unsigned char *raw = NULL;
  size_t rawlen = 0;
  int rc = mgc__b64url_decode(url, n, &raw, &rawlen);
  free(url);
  if(rc)
    return -1;
  const char *colon = memchr(raw, ':', rawlen);
  if(!colon || memchr(raw, '\0', rawlen)) {
    free(raw);
    return -1;
  }
  size_t ulen = (size_t)(colon - (const char *)raw);
  *user = mgcx_pct_decode((const char *)raw, ulen, 1);
  *pass = mgcx_pct_decode(colon + 1, rawlen - ulen - 1, 1);
  free(raw);
  if(!*user || !*pass || !**user) {
    free(*user);
    free(*pass);
    *user = *pass = NULL;
    return -1;
  }
  return 0;
}
