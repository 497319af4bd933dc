/* SPDX-License-Identifier: MIT */
/* hooks.c - the cleanup hooks' thread: a FIFO of ended calls, each run as a
 * command (posix_spawn, no shell) and/or a JSON POST. */
#include "hooks.h"

#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct job {
  struct job *next;
  char *call_id, *tenant_id, *reason;
};

struct khooks {
  struct khooks_config cfg;
  char *url;
  char *cacert;
  char **argv;
  struct kmetrics *metrics;
  pthread_t thread;
  int started;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct job *head, *tail;
  size_t queued;
  int stopping;
};

static void set_err(char *err, size_t errlen, const char *msg)
{
  if(err && errlen)
    snprintf(err, errlen, "%s", msg);
}

void khooks_argv_free(char **argv)
{
  if(!argv)
    return;
  for(char **p = argv; *p; p++)
    free(*p);
  free(argv);
}

char **khooks_split(const char *cmd, int *argc, char *err, size_t errlen)
{
  if(!cmd || strlen(cmd) > KHOOKS_MAX_CMD) {
    set_err(err, errlen, "command too long");
    return NULL;
  }
  size_t cap = strlen(cmd) + 1;
  char **argv = calloc(KHOOKS_MAX_ARGS + 1, sizeof(*argv));
  char *word = malloc(cap);
  if(!argv || !word) {
    free(argv);
    free(word);
    set_err(err, errlen, "out of memory");
    return NULL;
  }
  int n = 0;
  const char *p = cmd;
  for(;;) {
    while(*p == ' ' || *p == '\t' || *p == '\n')
      p++;
    if(!*p)
      break;
    size_t len = 0;
    while(*p && *p != ' ' && *p != '\t' && *p != '\n') {
      if(*p == '\'') {
        const char *end = strchr(p + 1, '\'');
        if(!end)
          goto unterminated;
        memcpy(word + len, p + 1, (size_t)(end - p - 1));
        len += (size_t)(end - p - 1);
        p = end + 1;
      }
      else if(*p == '"') {
        p++;
        while(*p && *p != '"') {
          if(*p == '\\' && (p[1] == '"' || p[1] == '\\'))
            p++;
          word[len++] = *p++;
        }
        if(*p != '"')
          goto unterminated;
        p++;
      }
      else if(*p == '\\') {
        if(!p[1])
          goto unterminated;
        word[len++] = p[1];
        p += 2;
      }
      else
        word[len++] = *p++;
    }
    if(n >= KHOOKS_MAX_ARGS) {
      set_err(err, errlen, "too many words");
      goto fail;
    }
    argv[n] = strndup(word, len);
    if(!argv[n]) {
      set_err(err, errlen, "out of memory");
      goto fail;
    }
    n++;
  }
  free(word);
  if(!n) {
    set_err(err, errlen, "empty command");
    khooks_argv_free(argv);
    return NULL;
  }
  *argc = n;
  return argv;
unterminated:
  set_err(err, errlen, "unterminated quote or trailing backslash");
fail:
  free(word);
  khooks_argv_free(argv);
  return NULL;
}

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while(nanosleep(&ts, &ts) && errno == EINTR)
    ;
}

static char *env_pair(const char *name, const char *value)
{
  size_t n = strlen(name) + strlen(value) + 2;
  char *s = malloc(n);
  if(s)
    snprintf(s, n, "%s=%s", name, value);
  return s;
}

/* Run the command once; 1 on exit status 0. */
static int run_command(struct khooks *h, const struct job *j)
{
  size_t nenv = 0;
  while(environ[nenv])
    nenv++;
  char **envp = calloc(nenv + 4, sizeof(*envp));
  if(!envp)
    return 0;
  size_t k = 0;
  for(size_t i = 0; i < nenv; i++)
    if(strncmp(environ[i], "MGCALL_CALL_ID=", 15) &&
       strncmp(environ[i], "MGCALL_TENANT_ID=", 17) &&
       strncmp(environ[i], "MGCALL_REASON=", 14))
      envp[k++] = environ[i];
  char *own[3] = {env_pair("MGCALL_CALL_ID", j->call_id),
                  env_pair("MGCALL_TENANT_ID", j->tenant_id),
                  env_pair("MGCALL_REASON", j->reason)};
  for(int i = 0; i < 3; i++)
    if(own[i])
      envp[k++] = own[i];
  envp[k] = NULL;

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, 2, 1); /* its output goes to the log */
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
  pid_t pid;
  int rc = posix_spawnp(&pid, h->argv[0], &fa, &attr, h->argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  for(int i = 0; i < 3; i++)
    free(own[i]);
  free(envp);
  if(rc) {
    klog(KLOG_WARN, j->call_id, NULL, "on-ended: cannot run '%s': %s",
         h->argv[0], strerror(rc));
    return 0;
  }
  int64_t end = mono_ms() + h->cfg.timeout_ms;
  int status = 0;
  long nap = 1;
  for(;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if(w == pid)
      break;
    if(w < 0 && errno != EINTR) {
      klog(KLOG_WARN, j->call_id, NULL, "on-ended: waitpid: %s",
           strerror(errno));
      return 0;
    }
    if(mono_ms() >= end) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      klog(KLOG_WARN, j->call_id, NULL,
           "on-ended: '%s' timed out after %ld ms: killed", h->argv[0],
           h->cfg.timeout_ms);
      return 0;
    }
    sleep_ms(nap);
    if(nap < 50)
      nap *= 2;
  }
  if(WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 1;
  if(WIFEXITED(status))
    klog(KLOG_WARN, j->call_id, NULL, "on-ended: '%s' exited with status %d",
         h->argv[0], WEXITSTATUS(status));
  else
    klog(KLOG_WARN, j->call_id, NULL, "on-ended: '%s' killed by signal %d",
         h->argv[0], WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return 0;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
  (void)ptr;
  (void)ud;
  return size * nmemb;
}

/* POST the JSON once; 1 on a 2xx answer. */
static int post_url(struct khooks *h, const struct job *j)
{
  json_t *o =
      json_pack("{s:s, s:s?, s:s}", "callId", j->call_id, "tenantId",
                *j->tenant_id ? j->tenant_id : NULL, "reason", j->reason);
  char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  CURL *curl = body ? curl_easy_init() : NULL;
  if(!curl) {
    free(body);
    return 0;
  }
  struct curl_slist *hdr =
      curl_slist_append(NULL, "Content-Type: application/json");
  char ua[64];
  snprintf(ua, sizeof(ua), "mgcall-keeper/%s", mgcall_version());
  curl_easy_setopt(curl, CURLOPT_URL, h->url);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, ua);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, h->cfg.timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  if(h->cacert)
    curl_easy_setopt(curl, CURLOPT_CAINFO, h->cacert);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(hdr);
  curl_easy_cleanup(curl);
  free(body);
  if(rc != CURLE_OK) {
    klog(KLOG_WARN, j->call_id, NULL, "on-ended-url: %s",
         curl_easy_strerror(rc));
    return 0;
  }
  if(status < 200 || status > 299) {
    klog(KLOG_WARN, j->call_id, NULL, "on-ended-url: HTTP %ld", status);
    return 0;
  }
  return 1;
}

static void run_job(struct khooks *h, const struct job *j)
{
  for(int kind = 0; kind < 2; kind++) {
    if(kind == 0 && !h->argv)
      continue;
    if(kind == 1 && !h->url)
      continue;
    long delay = h->cfg.retry_delay_ms;
    for(int attempt = 0; attempt <= h->cfg.retries; attempt++) {
      int ok = kind == 0 ? run_command(h, j) : post_url(h, j);
      km_hook_run(h->metrics, kind ? KM_HOOK_URL : KM_HOOK_COMMAND, ok);
      if(ok) {
        klog(KLOG_INFO, j->call_id, NULL, "%s ran (reason %s)",
             kind ? "on-ended-url" : "on-ended", j->reason);
        break;
      }
      if(attempt == h->cfg.retries) {
        klog(KLOG_ERROR, j->call_id, NULL, "%s failed %d times: giving up",
             kind ? "on-ended-url" : "on-ended", attempt + 1);
        break;
      }
      sleep_ms(delay);
      if(delay < 60000)
        delay *= 2;
    }
  }
}

static void job_free(struct job *j)
{
  free(j->call_id);
  free(j->tenant_id);
  free(j->reason);
  free(j);
}

static void *worker(void *arg)
{
  struct khooks *h = arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals go to the main loop */
  pthread_mutex_lock(&h->lock);
  for(;;) {
    while(!h->head && !h->stopping)
      pthread_cond_wait(&h->cond, &h->lock);
    struct job *j = h->head;
    if(!j)
      break;
    h->head = j->next;
    if(!h->head)
      h->tail = NULL;
    h->queued--;
    pthread_mutex_unlock(&h->lock);
    run_job(h, j);
    job_free(j);
    pthread_mutex_lock(&h->lock);
  }
  pthread_mutex_unlock(&h->lock);
  return NULL;
}

int khooks_new(const struct khooks_config *cfg, struct kmetrics *metrics,
               struct khooks **out, char *err, size_t errlen)
{
  *out = NULL;
  struct khooks *h = calloc(1, sizeof(*h));
  if(!h) {
    set_err(err, errlen, "out of memory");
    return MGCALL_E_INTERNAL;
  }
  h->cfg = *cfg;
  if(h->cfg.timeout_ms <= 0)
    h->cfg.timeout_ms = 30000;
  if(h->cfg.retries < 0)
    h->cfg.retries = 0;
  if(h->cfg.retry_delay_ms <= 0)
    h->cfg.retry_delay_ms = 1000;
  h->cfg.command = h->cfg.url = h->cfg.cacert = NULL;
  h->metrics = metrics;
  pthread_mutex_init(&h->lock, NULL);
  pthread_cond_init(&h->cond, NULL);
  if(cfg->command) {
    int argc;
    char why[128];
    h->argv = khooks_split(cfg->command, &argc, why, sizeof(why));
    if(!h->argv) {
      snprintf(err, errlen, "--on-ended: %s", why);
      khooks_free(h);
      return MGCALL_E_USAGE;
    }
  }
  if(cfg->url) {
    if(strncmp(cfg->url, "http://", 7) && strncmp(cfg->url, "https://", 8)) {
      set_err(err, errlen, "--on-ended-url: not an http(s) URL");
      khooks_free(h);
      return MGCALL_E_USAGE;
    }
    h->url = strdup(cfg->url);
  }
  if(cfg->cacert)
    h->cacert = strdup(cfg->cacert);
  if(h->argv || h->url) {
    if(pthread_create(&h->thread, NULL, worker, h)) {
      set_err(err, errlen, "cannot start the hook thread");
      khooks_free(h);
      return MGCALL_E_INTERNAL;
    }
    h->started = 1;
  }
  *out = h;
  return MGCALL_OK;
}

int khooks_enqueue(struct khooks *h, const char *call_id, const char *tenant_id,
                   const char *reason)
{
  if(!h || !h->started)
    return 0;
  struct job *j = calloc(1, sizeof(*j));
  if(j) {
    j->call_id = strdup(call_id);
    j->tenant_id = strdup(tenant_id ? tenant_id : "");
    j->reason = strdup(reason);
  }
  if(!j || !j->call_id || !j->tenant_id || !j->reason) {
    if(j)
      job_free(j);
    klog(KLOG_ERROR, call_id, NULL, "on-ended: out of memory: hook dropped");
    return -1;
  }
  pthread_mutex_lock(&h->lock);
  if(h->queued >= KHOOKS_MAX_QUEUE) {
    pthread_mutex_unlock(&h->lock);
    job_free(j);
    klog(KLOG_ERROR, call_id, NULL, "on-ended: queue full: hook dropped");
    return -1;
  }
  if(h->tail)
    h->tail->next = j;
  else
    h->head = j;
  h->tail = j;
  h->queued++;
  pthread_cond_signal(&h->cond);
  pthread_mutex_unlock(&h->lock);
  return 0;
}

void khooks_free(struct khooks *h)
{
  if(!h)
    return;
  if(h->started) {
    pthread_mutex_lock(&h->lock);
    h->stopping = 1;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
  }
  while(h->head) {
    struct job *j = h->head;
    h->head = j->next;
    job_free(j);
  }
  pthread_mutex_destroy(&h->lock);
  pthread_cond_destroy(&h->cond);
  khooks_argv_free(h->argv);
  free(h->url);
  free(h->cacert);
  free(h);
}
