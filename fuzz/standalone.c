/* SPDX-License-Identifier: MIT */
/* standalone.c - a main() for the fuzz harnesses without libFuzzer: feeds each
 * file named on the command line (or each file in a named directory) to
 * LLVMFuzzerTestOneInput() once.  `make check` uses it to replay the corpora
 * under the normal (and the ASan) build. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if(!f) {
    perror(path);
    return -1;
  }
  size_t cap = 1 << 20;
  uint8_t *buf = malloc(cap);
  size_t n = buf ? fread(buf, 1, cap, f) : 0;
  fclose(f);
  if(!buf)
    return -1;
  /* Exactly n bytes, so ASan sees reads past the end of the input. */
  uint8_t *exact = malloc(n ? n : 1);
  if(!exact) {
    free(buf);
    return -1;
  }
  memcpy(exact, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 0;
}

int main(int argc, char **argv)
{
  int files = 0;
  for(int i = 1; i < argc; i++) {
    struct stat st;
    if(stat(argv[i], &st)) {
      perror(argv[i]);
      return 1;
    }
    if(!S_ISDIR(st.st_mode)) {
      if(run_file(argv[i]))
        return 1;
      files++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    struct dirent *e;
    while(d && (e = readdir(d))) {
      if(e->d_name[0] == '.')
        continue;
      char path[4096];
      snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
      if(run_file(path)) {
        closedir(d);
        return 1;
      }
      files++;
    }
    if(d)
      closedir(d);
  }
  printf("replayed %d inputs\n", files);
  return files ? 0 : 1;
}
