/* SPDX-License-Identifier: MIT */
/* store.c - pick the store backend from its URL. */
#include "store.h"

#include "store_pg.h"

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
  if(!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11) ||
     !strncmp(url, "host=", 5) || !strncmp(url, "dbname=", 7))
    return kstore_pg_open(url, out, err);
  /* the URL may hold a password: never repeat it */
  return mgc__err_set(err, MGCALL_E_USAGE,
                      "store: unknown kind (want sqlite:PATH or "
                      "postgresql://...)");
}

void kstore_close(struct kstore *st)
{
  if(st)
    st->ops->close(st);
}
