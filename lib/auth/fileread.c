/* SPDX-License-Identifier: MIT */
/* fileread.c - capped reads of secret files. */
#include "fileread.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mgc__file_read(const char *path, size_t max, unsigned char **data,
                   size_t *len, struct mgc_err *err)
{
  *data = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if(fd < 0) {
    mgc__err_set(err, MGCALL_E_AUTH, "%s", strerror(errno));
    return -1;
  }
  struct stat st;
  if(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    mgc__err_set(err, MGCALL_E_AUTH, "is a directory");
    return -1;
  }
  unsigned char *buf = malloc(max + 1);
  if(!buf) {
    close(fd);
    mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
    return -1;
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
      mgc__err_set(err, MGCALL_E_AUTH, "%s", strerror(e));
      return -1;
    }
    if(r == 0)
      break;
    n += (size_t)r;
  }
  close(fd);
  if(n > max) {
    OPENSSL_cleanse(buf, n);
    free(buf);
    mgc__err_set(err, MGCALL_E_AUTH, "larger than %zu bytes", max);
    return -1;
  }
  buf[n] = '\0';
  *data = buf;
  *len = n;
  return 0;
}

int mgc__file_read_secret(const char *path, char **value, struct mgc_err *err)
{
  unsigned char *data;
  size_t len;
  *value = NULL;
  if(mgc__file_read(path, 64 * 1024, &data, &len, err))
    return -1;
  while(len && (data[len - 1] == '\n' || data[len - 1] == '\r' ||
                data[len - 1] == ' ' || data[len - 1] == '\t'))
    data[--len] = '\0';
  if(!len || strlen((char *)data) != len) {
    int empty = !len;
    OPENSSL_cleanse(data, len);
    free(data);
    mgc__err_set(err, MGCALL_E_AUTH, empty ? "is empty" : "contains NUL bytes");
    return -1;
  }
  *value = (char *)data;
  return 0;
}
