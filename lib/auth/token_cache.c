/* SPDX-License-Identifier: MIT */
/* token_cache.c - the token cache: JSON text with jansson, a 0600 file
 * written through rename(). */
#include "token_cache.h"


#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int str_eq(json_t *obj, const char *name, const char *want)
{
  const char *s = json_string_value(json_object_get(obj, name));
  return s && !strcmp(s, want ? want : "");
}

static int key_matches(json_t *e, const struct mgc_cache_key *key)
{
  return str_eq(e, "authority", key->authority) &&
         str_eq(e, "tenant", key->tenant) && str_eq(e, "client", key->client) &&
         str_eq(e, "scope", key->scope);
}

static json_t *tokens_of(json_t *doc)
{
  if(!json_is_object(doc))
    return NULL;
  json_t *v = json_object_get(doc, "version");
  if(!json_is_integer(v) || json_integer_value(v) != 1)
    return NULL;
  json_t *a = json_object_get(doc, "tokens");
  return json_is_array(a) ? a : NULL;
}

static long long expiry_of(json_t *e)
{
  json_t *v = json_object_get(e, "expires_at");
  return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

int mgc__token_cache_find(const char *text, size_t len,
                          const struct mgc_cache_key *key, time_t now,
                          char **token, time_t *expires_at)
{
  *token = NULL;
  if(!text || !len)
    return 0;
  json_error_t jerr;
  json_t *doc = json_loadb(text, len, 0, &jerr);
  json_t *arr = tokens_of(doc);
  size_t i;
  json_t *e;
  int found = 0;
  if(arr) {
    json_array_foreach(arr, i, e)
    {
      if(!json_is_object(e) || !key_matches(e, key))
        continue;
      long long exp = expiry_of(e);
      const char *tok = json_string_value(json_object_get(e, "access_token"));
      if(!tok || !*tok || exp - (long long)now <= MGC_TOKEN_MARGIN)
        continue;
      *token = strdup(tok);
      if(*token) {
        if(expires_at)
          *expires_at = (time_t)exp;
        found = 1;
      }
      break;
    }
  }
  json_decref(doc);
  return found;
}

static int by_expiry_desc(const void *a, const void *b)
{
  long long x = expiry_of(*(json_t *const *)a);
  long long y = expiry_of(*(json_t *const *)b);
  return x < y ? 1 : x > y ? -1 : 0;
}

char *mgc__token_cache_update(const char *old, size_t len,
                              const struct mgc_cache_key *key,
                              const char *token, time_t expires_at, time_t now)
{
  json_error_t jerr;
  json_t *doc = old && len ? json_loadb(old, len, 0, &jerr) : NULL;
  json_t *arr = tokens_of(doc);
  json_t *kept[MGC_TOKEN_CACHE_MAX_ENTRIES];
  size_t nkept = 0;
  size_t i;
  json_t *e;
  if(arr) {
    json_array_foreach(arr, i, e)
    {
      if(!json_is_object(e) || key_matches(e, key) ||
         expiry_of(e) <= (long long)now ||
         !json_is_string(json_object_get(e, "access_token")) ||
         !json_is_string(json_object_get(e, "authority")) ||
         !json_is_string(json_object_get(e, "tenant")) ||
         !json_is_string(json_object_get(e, "client")) ||
         !json_is_string(json_object_get(e, "scope")))
        continue;
      if(nkept < MGC_TOKEN_CACHE_MAX_ENTRIES) {
        kept[nkept++] = e;
      }
      else {
        /* Full: replace the entry that expires first when e lasts longer. */
        size_t min = 0;
        for(size_t k = 1; k < nkept; k++)
          if(expiry_of(kept[k]) < expiry_of(kept[min]))
            min = k;
        if(expiry_of(e) > expiry_of(kept[min]))
          kept[min] = e;
      }
    }
  }
  /* Room for the new entry. */
  if(nkept == MGC_TOKEN_CACHE_MAX_ENTRIES) {
    qsort(kept, nkept, sizeof(kept[0]), by_expiry_desc);
    nkept--;
  }
  json_t *out = json_object();
  json_t *list = json_array();
  char *text = NULL;
  if(!out || !list)
    goto done;
  json_object_set_new(out, "version", json_integer(1));
  json_t *fresh = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "authority",
                            key->authority ? key->authority : "", "tenant",
                            key->tenant ? key->tenant : "", "client",
                            key->client ? key->client : "", "scope",
                            key->scope ? key->scope : "", "access_token", token,
                            "expires_at", (json_int_t)expires_at);
  if(!fresh || json_array_append_new(list, fresh))
    goto done;
  for(size_t k = 0; k < nkept; k++)
    if(json_array_append(list, kept[k]))
      goto done;
  json_object_set(out, "tokens", list);
  text = json_dumps(out, JSON_INDENT(1));
done:
  json_decref(list);
  json_decref(out);
  json_decref(doc);
  return text;
}

char *mgc__token_cache_default_path(void)
{
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  char *path = NULL;
  int n;
  /* XDG base directory spec: a relative XDG_CACHE_HOME is ignored. */
  if(xdg && xdg[0] == '/')
    n = asprintf(&path, "%s/mgcall/tokens.json", xdg);
  else if(home && *home)
    n = asprintf(&path, "%s/.cache/mgcall/tokens.json", home);
  else
    return NULL;
  return n < 0 ? NULL : path;
}

/* The directory part of path (malloc'd). */
static char *dir_of(const char *path)
{
  char *copy = strdup(path);
  if(!copy)
    return NULL;
  char *d = strdup(dirname(copy));
  free(copy);
  return d;
}

static int unsafe_mode(const struct stat *st)
{
  return (st->st_mode & (S_IWGRP | S_IWOTH)) != 0 || st->st_uid != geteuid();
}

int mgc__token_cache_read(const char *path, char **text, size_t *len,
                          char *warning, size_t n)
{
  *text = NULL;
  *len = 0;
  if(n)
    warning[0] = '\0';
  char *dir = dir_of(path);
  struct stat st;
  if(dir && stat(dir, &st) == 0 && unsafe_mode(&st) &&
     !(st.st_mode & S_ISVTX && st.st_uid == 0)) {
    snprintf(warning, n,
             "token cache directory %s is writable by other users or "
             "owned by another user: not using the token cache (chmod 700 "
             "it)",
             dir);
    free(dir);
    return 0;
  }
  free(dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if(fd < 0) {
    if(errno != ENOENT)
      snprintf(warning, n, "token cache %s: %s: not using it", path,
               strerror(errno));
    return 0;
  }
  if(fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    snprintf(warning, n, "token cache %s is not a regular file: not using it",
             path);
    return 0;
  }
  if(unsafe_mode(&st)) {
    close(fd);
    snprintf(warning, n,
             "token cache %s is writable by other users or owned by another "
             "user (mode %03o): not using it (chmod 600 it or remove it)",
             path, (unsigned)(st.st_mode & 0777));
    return 0;
  }
  if(st.st_size > MGC_TOKEN_CACHE_MAX_FILE) {
    close(fd);
    snprintf(warning, n, "token cache %s is larger than %d bytes: ignored",
             path, MGC_TOKEN_CACHE_MAX_FILE);
    return 0;
  }
  size_t cap = (size_t)st.st_size;
  char *buf = malloc(cap + 1);
  size_t got = 0;
  while(buf && got < cap) {
    ssize_t r = read(fd, buf + got, cap - got);
    if(r < 0 && errno == EINTR)
      continue;
    if(r <= 0)
      break;
    got += (size_t)r;
  }
  close(fd);
  if(!buf)
    return 0;
  buf[got] = '\0';
  *text = buf;
  *len = got;
  return 1;
}

/* mkdir -p with mode 0700 for what is created. */
static int make_dirs(const char *dir)
{
  char *p = strdup(dir);
  if(!p)
    return -1;
  for(char *s = p + 1; *s; s++) {
    if(*s != '/')
      continue;
    *s = '\0';
    if(mkdir(p, 0700) != 0 && errno != EEXIST) {
      free(p);
      return -1;
    }
    *s = '/';
  }
  int rc = mkdir(p, 0700) != 0 && errno != EEXIST ? -1 : 0;
  free(p);
  return rc;
}

int mgc__token_cache_write(const char *path, const char *text, char *warning,
                           size_t n)
{
  if(n)
    warning[0] = '\0';
  char *dir = dir_of(path);
  if(!dir || make_dirs(dir)) {
    snprintf(warning, n, "token cache: cannot create %s: %s", dir ? dir : path,
             strerror(errno));
    free(dir);
    return -1;
  }
  struct stat st;
  if(stat(dir, &st) == 0 && unsafe_mode(&st) &&
     !(st.st_mode & S_ISVTX && st.st_uid == 0)) {
    snprintf(warning, n,
             "token cache directory %s is writable by other users: not "
             "writing the token cache",
             dir);
    free(dir);
    return -1;
  }
  free(dir);
  char *tmp = NULL;
  if(asprintf(&tmp, "%s.XXXXXX", path) < 0)
    return -1;
  /* mkstemp() creates the file 0600 whatever the umask (which is
   * process-wide state a library must not change). */
  int fd = mkstemp(tmp);
  if(fd < 0) {
    snprintf(warning, n, "token cache: cannot create %s: %s", tmp,
             strerror(errno));
    free(tmp);
    return -1;
  }
  size_t len = strlen(text), off = 0;
  int bad = fchmod(fd, 0600) != 0;
  while(!bad && off < len) {
    ssize_t w = write(fd, text + off, len - off);
    if(w < 0 && errno == EINTR)
      continue;
    if(w <= 0)
      bad = 1;
    else
      off += (size_t)w;
  }
  if(!bad && fsync(fd) != 0)
    bad = 1;
  if(close(fd) != 0)
    bad = 1;
  if(bad || rename(tmp, path) != 0) {
    snprintf(warning, n, "token cache: cannot write %s: %s", path,
             strerror(errno));
    unlink(tmp);
    free(tmp);
    return -1;
  }
  free(tmp);
  return 0;
}
