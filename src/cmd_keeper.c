/* SPDX-License-Identifier: MIT */
/* cmd_keeper.c - 'mgcall keeper'.  Not built yet: see the open issue for it. */
#include "cli.h"

#include <string.h>

int cmd_keeper(int argc, char **argv)
{
  if(argc > 1 && !strcmp(argv[1], "--help")) {
    printf("usage: mgcall keeper [OPTIONS]\n\n(not implemented yet)\n");
    return MGCALL_OK;
  }
  mgc_cli_error("keeper: not implemented yet");
  return MGCALL_E_INTERNAL;
}
