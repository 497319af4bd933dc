/* SPDX-License-Identifier: MIT */
/* cmd_keep_alive.c - 'mgcall keep-alive'.  Not built yet: see the open issue
 * for it. */
#include "cli.h"

#include <string.h>

int cmd_keep_alive(int argc, char **argv)
{
  if(argc > 1 && !strcmp(argv[1], "--help")) {
    printf("usage: mgcall keep-alive [OPTIONS]\n\n(not implemented yet)\n");
    return MGCALL_OK;
  }
  mgc_cli_error("keep-alive: not implemented yet");
  return MGCALL_E_INTERNAL;
}
