/* SPDX-License-Identifier: MIT */
/* record.c - the request log. */
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct emu_record {
  int fd;
  pthread_mutex_t lock;
};

struct emu_record *emu_record_open(const char *path, char *err, size_t errlen)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if(fd < 0) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  struct emu_record *r = calloc(1, sizeof(*r));
  if(!r) {
    close(fd);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  r->fd = fd;
  pthread_mutex_init(&r->lock, NULL);
  return r;
}

void emu_record_close(struct emu_record *r)
{
  if(!r)
    return;
  close(r->fd);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

int emu_record_is_secret(const char *name)
{
  static const char *const secrets[] = {"authorization", "proxy-authorization",
                                        "cookie",        "x-identity-header",
                                        "client_secret", "client_assertion",
                                        "access_token",  "secret",
                                        "refresh_token", "password"};
  for(size_t i = 0; i < sizeof(secrets) / sizeof(*secrets); i++)
    if(!strcasecmp(name, secrets[i]))
      return 1;
  return 0;
}

void emu_record_write(struct emu_record *r, const json_t *obj)
{
  char *line = json_dumps(obj, JSON_COMPACT);
  if(!line)
    return;
  size_t n = strlen(line);
  line[n] = '\n'; /* replaces the NUL: write n + 1 bytes */
  pthread_mutex_lock(&r->lock);
  const char *p = line;
  size_t left = n + 1;
  while(left) {
    ssize_t w = write(r->fd, p, left);
    if(w < 0 && errno == EINTR)
      continue;
    if(w <= 0)
      break;
    p += w;
    left -= (size_t)w;
  }
  pthread_mutex_unlock(&r->lock);
  free(line);
}
