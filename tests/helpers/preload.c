/* SPDX-License-Identifier: MIT */
/* preload.c - libmgcall-test-preload.so, LD_PRELOADed into the mgcall tool
 * by t_failures.sh to see what cannot be seen from outside:
 *   MGCALL_TEST_INIT_LOG=F      every curl_global_init() appends a line to F;
 *   MGCALL_TEST_FAIL_SLIST=P    curl_slist_append() of a header starting
 *                               with P fails (returns NULL, as out of
 *                               memory);
 *   MGCALL_TEST_FAIL_GETLINE=N  the Nth getline() fails with ENOMEM;
 *   MGCALL_TEST_FSYNC_LOG=F     every fsync()/fdatasync() appends a line to F;
 *   MGCALL_TEST_FSYNC_HOLD=D    while the file D/hold exists, an fsync()/
 *                               fdatasync() creates D/held and waits (at
 *                               most 60 s) until D/hold is gone: a disk
 *                               that holds a write as long as a test wants.
 * Each calls the real function otherwise. */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static void on_sync(void)
{
  const char *log = getenv("MGCALL_TEST_FSYNC_LOG");
  if(log) {
    FILE *f = fopen(log, "a");
    if(f) {
      fputs("sync\n", f);
      fclose(f);
    }
  }
  const char *dir = getenv("MGCALL_TEST_FSYNC_HOLD");
  if(!dir)
    return;
  char hold[4096], held[4096];
  snprintf(hold, sizeof(hold), "%s/hold", dir);
  snprintf(held, sizeof(held), "%s/held", dir);
  struct stat st;
  if(stat(hold, &st))
    return;
  FILE *f = fopen(held, "w");
  if(f)
    fclose(f);
  struct timespec ts = {0, 20 * 1000000L};
  for(int i = 0; i < 3000 && !stat(hold, &st); i++)
    nanosleep(&ts, NULL);
}

int fsync(int fd)
{
  int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  on_sync();
  return real(fd);
}

int fdatasync(int fd)
{
  int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  on_sync();
  return real(fd);
}

CURLcode curl_global_init(long flags)
{
  CURLcode (*real)(long) =
      (CURLcode(*)(long))dlsym(RTLD_NEXT, "curl_global_init");
  const char *log = getenv("MGCALL_TEST_INIT_LOG");
  if(log) {
    FILE *f = fopen(log, "a");
    if(f) {
      fputs("curl_global_init\n", f);
      fclose(f);
    }
  }
  return real(flags);
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
  struct curl_slist *(*real)(struct curl_slist *, const char *) =
      (struct curl_slist * (*)(struct curl_slist *, const char *))
          dlsym(RTLD_NEXT, "curl_slist_append");
  const char *fail = getenv("MGCALL_TEST_FAIL_SLIST");
  if(fail && *fail && s && !strncmp(s, fail, strlen(fail)))
    return NULL;
  return real(list, s);
}

/* glibc's <stdio.h> inlines getline() as __getdelim(..., '\n', ...) when
 * optimising: both are here. */
static long getline_calls;
static int getline_fails(void)
{
  const char *n = getenv("MGCALL_TEST_FAIL_GETLINE");
  if(n && ++getline_calls == atol(n)) {
    errno = ENOMEM;
    return 1;
  }
  return 0;
}

ssize_t __getdelim(char **line, size_t *cap, int delim, FILE *f);
ssize_t __getdelim(char **line, size_t *cap, int delim, FILE *f)
{
  ssize_t (*real)(char **, size_t *, int, FILE *) =
      (ssize_t(*)(char **, size_t *, int, FILE *))dlsym(RTLD_NEXT,
                                                        "__getdelim");
  if(delim == '\n' && getline_fails())
    return -1;
  return real(line, cap, delim, f);
}

ssize_t getline(char **line, size_t *cap, FILE *f)
{
  ssize_t (*real)(char **, size_t *, FILE *) =
      (ssize_t(*)(char **, size_t *, FILE *))dlsym(RTLD_NEXT, "getline");
  if(getline_fails())
    return -1;
  return real(line, cap, f);
}
