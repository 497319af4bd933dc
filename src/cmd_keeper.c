/* SPDX-License-Identifier: MIT */
/* cmd_keeper.c - 'mgcall keeper': dispatches its commands from a table
 * (as src/main.c does the tool's): `run` is the daemon
 * (cmd_keeper_run.c), the others the control-API client
 * (cmd_keeper_client.c); and the API token file both read. */
#include "cmd_keeper.h"

#include "cli.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void help_main(FILE *out)
{
  fputs("usage: mgcall keeper run    [OPTIONS]\n"
        "       mgcall keeper add    ID [--tenant-id T] [--started-at "
        "RFC3339]\n"
        "       mgcall keeper add    -          (ids from stdin, one a line)\n"
        "       mgcall keeper remove ID\n"
        "       mgcall keeper list   [--json]\n"
        "       mgcall keeper show   ID [--json]\n"
        "       mgcall keeper fleet  [--json]   (the keepers sharing the "
        "store)\n\n"
        "Keep many Microsoft Graph calls alive on schedule: `run` is the\n"
        "daemon; the other commands talk to its control API at --keeper-url\n"
        "(default " CMD_KEEPER_DEFAULT_URL ", env MGCALL_KEEPER_URL).\n"
        "'mgcall keeper <command> --help' describes each command;\n"
        "docs/mgcall-keeper.md describes states, endpoints and metrics.\n",
        out);
}

int cmd_keeper_read_token(const char *path, char **out, const char *what)
{
  FILE *f = fopen(path, "r");
  if(!f) {
    mgc_cli_error("%s '%s': %s", what, path, strerror(errno));
    return MGCALL_E_USAGE;
  }
  struct stat sb;
  if(!fstat(fileno(f), &sb) && (sb.st_mode & 0004))
    mgc_cli_error("warning: %s '%s' is readable by everyone", what, path);
  char buf[4097];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  size_t line = 0; /* the first line, without its end */
  while(line < n && buf[line] != '\n' && buf[line] != '\r')
    line++;
  buf[line] = '\0';
  const char *bad = NULL;
  if(n >= sizeof(buf) - 1)
    bad = "longer than 4096 bytes";
  else if(!line)
    bad = "empty";
  else if(memchr(buf, '\0', line))
    bad = "contains a NUL byte";
  else
    for(size_t i = 0; i < line && !bad; i++)
      if((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
        bad = "contains a control character";
  if(!bad && line < 16)
    bad = "shorter than 16 characters";
  if(bad) {
    OPENSSL_cleanse(buf, sizeof(buf));
    mgc_cli_error("%s '%s': %s", what, path, bad);
    return MGCALL_E_USAGE;
  }
  *out = strdup(buf);
  OPENSSL_cleanse(buf, sizeof(buf));
  return *out ? MGCALL_OK : MGCALL_E_INTERNAL;
}

static int run(const char *sub, int argc, char **argv)
{
  (void)sub;
  return cmd_keeper_run(argc, argv);
}

static const struct {
  const char *name;
  int (*fn)(const char *sub, int argc, char **argv);
} commands[] = {
    {"run", run},
    {"add", cmd_keeper_client},
    {"remove", cmd_keeper_client},
    {"list", cmd_keeper_client},
    {"show", cmd_keeper_client},
    {"fleet", cmd_keeper_client},
};

int cmd_keeper(int argc, char **argv)
{
  if(argc < 2) {
    help_main(stderr);
    return MGCALL_E_USAGE;
  }
  const char *sub = argv[1];
  if(!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
    help_main(stdout);
    return MGCALL_OK;
  }
  for(size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if(!strcmp(sub, commands[i].name))
      return commands[i].fn(sub, argc - 1, argv + 1);
  return mgc_cli_usage_error("keeper", "'%s' is not a keeper command", sub);
}
