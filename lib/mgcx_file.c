/* SPDX-License-Identifier: MIT */
/* mgcx_file.c - capped reads of small files that hold secrets. */
#include "mgcx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(int rc, char *why, size_t whylen, const char *reason)
{
  if(why && whylen)
    snprintf(why, whylen, "%s", reason);
  return rc;
}

int mgcx_file_read(const char *path, size_t max, unsigned char **data,
                   size_t *len, char *why, size_t whylen)
{
  *data = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if(fd < 0)
    return fail(MGCX_FILE_ERR, why, whylen, strerror(errno));
  struct stat st;
  if(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    return fail(MGCX_FILE_ERR, why, whylen, "is a directory");
  }
  unsigned char *buf = malloc(max + 1);
  if(!buf) {
    close(fd);
    return fail(MGCX_FILE_NOMEM, why, whylen, "out of memory");
  }
  size_t n = 0;
  for(;;) {
    if(n == max + 1)
      break;
    ssize_t r = read(fd, buf + n, max + 1 - n);
    if(r < 0 && errno == EINTR)
      continue;
    if(r < 0) {
      int e = errno;
      close(fd);
      OPENSSL_cleanse(buf, n);
      free(buf);
      return fail(MGCX_FILE_ERR, why, whylen, strerror(e));
    }
    if(r == 0)
      break;
    n += (size_t)r;
  }
  close(fd);
  if(n > max) {
    OPENSSL_cleanse(buf, n);
    free(buf);
    if(why && whylen)
      snprintf(why, whylen, "larger than %zu bytes", max);
    return MGCX_FILE_ERR;
  }
  buf[n] = '\0';
  *data = buf;
  *len = n;
  return 0;
}

int mgcx_file_read_secret(const char *path, char **value, char *why,
                          size_t whylen)
{
  unsigned char *data;
  size_t len;
  *value = NULL;
  int rc = mgcx_file_read(path, 64 * 1024, &data, &len, why, whylen);
  if(rc)
    return rc;
  while(len && (data[len - 1] == '\n' || data[len - 1] == '\r' ||
                data[len - 1] == ' ' || data[len - 1] == '\t'))
    data[--len] = '\0';
  if(!len || strlen((char *)data) != len) {
    int empty = !len;
    OPENSSL_cleanse(data, len);
    free(data);
    return fail(MGCX_FILE_ERR, why, whylen,
                empty ? "is empty" : "contains NUL bytes");
  }
  *value = (char *)data;
  return 0;
}
