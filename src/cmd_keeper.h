/* SPDX-License-Identifier: MIT */
/* cmd_keeper.h - what the parts of 'mgcall keeper' share: the daemon's
 * front end (cmd_keeper_run.c), the control-API client (cmd_keeper_client.c)
 * and the dispatcher (cmd_keeper.c).  Internal to the tool. */
#ifndef MGCALL_CMD_KEEPER_H
#define MGCALL_CMD_KEEPER_H

#define CMD_KEEPER_DEFAULT_URL "http://127.0.0.1:8787"

/* getopt values of every keeper command's long options */
enum cmd_keeper_opt {
  OPT_STORE = 0x100,
  OPT_LISTEN,
  OPT_INTERVAL,
  OPT_DEADLINE,
  OPT_JITTER,
  OPT_CONCURRENCY,
  OPT_MAX_CONCURRENCY,
  OPT_ON_ENDED,
  OPT_ON_ENDED_URL,
  OPT_API_TOKEN_FILE,
  OPT_NOTIFICATION_APP_ID,
  OPT_NOTIFICATION_OPENID_URL,
  OPT_LOG_FORMAT,
  OPT_HOOK_TIMEOUT,
  OPT_HOOK_RETRIES,
  OPT_STOP_TIMEOUT,
  OPT_RETENTION,
  OPT_VERBOSE,
  OPT_ALLOWED_HOST,
  OPT_NODE_ID,
  OPT_LEASE_TTL,
  OPT_HELP,
  /* clients */
  OPT_KEEPER_URL,
  OPT_TENANT,
  OPT_STARTED_AT,
  OPT_JSON,
};

/* Read the control API's bearer token from path (its first line): a
 * usage error, said on stderr, for a file that is missing, empty, longer
 * than 4096 bytes, shorter than 16 characters or holds a NUL or a control
 * character; a warning when everyone may read it.  *out is the caller's
 * (wipe it). */
int cmd_keeper_read_token(const char *path, char **out, const char *what);

/* `mgcall keeper run ...` (argv[0] is "run") */
int cmd_keeper_run(int argc, char **argv);
/* `mgcall keeper add|remove|list|show|fleet ...` (argv[0] is sub) */
int cmd_keeper_client(const char *sub, int argc, char **argv);

#endif
