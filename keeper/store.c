/* SPDX-License-Identifier: MIT */
/* store.c - pick the store backend from its URL. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kstore_open(const char *url, struct kstore **out, struct mgc_err *err)
{
  *out = NULL;
  if(!url || !*url) {
    char path[4096];
    const char *state = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int n;
    if(state && *state)
      n = snprintf(path, sizeof(path), "%s/mgcall/keeper.db", state);
    else if(home && *home)
      n = snprintf(path, sizeof(path), "%s/.local/state/mgcall/keeper.db",
                   home);
    else
      return mgc__err_set(err, MGCALL_E_USAGE,
                          "store: neither XDG_STATE_HOME nor HOME is set: "
                          "give --store sqlite:PATH");
    if(n < 0 || (size_t)n >= sizeof(path))
      return mgc__err_set(err, MGCALL_E_USAGE, "store: path too long");
    return kstore_sqlite_open(path, out, err);
  }
  if(!strncmp(url, "sqlite:", 7)) {
    const char *path = url + 7;
    if(!strncmp(path, "//", 2)) /* sqlite:///abs/path */
      path += 2;
    if(!*path)
      return mgc__err_set(err, MGCALL_E_USAGE, "store '%s': no path", url);
    return kstore_sqlite_open(path, out, err);
  }
  if(!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11))
    return mgc__err_set(err, MGCALL_E_USAGE,
                        "store: postgresql (fleet mode) is not built into "
                        "this mgcall yet");
  return mgc__err_set(err, MGCALL_E_USAGE,
                      "store '%s': unknown kind (want sqlite:PATH)", url);
}

void kstore_close(struct kstore *st)
{
  if(st)
    st->ops->close(st);
}
