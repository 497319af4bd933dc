/* SPDX-License-Identifier: MIT */
/* hooks.c - the cleanup hooks' thread: claims due jobs of the store's
 * outbox, runs each as a command (posix_spawn, no shell) or a JSON POST,
 * and writes back how it went. */
#include "hooks.h"

#include "condwait.h"
#include "http.h"
#include "log.h"
#include "uuid.h"

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

struct khooks {
  struct khooks_config cfg;
  char *url;
  char *cacert;
  char *node;
  char **argv;
  int kinds; /* KSTORE_HOOK_* configured */
  struct kmetrics *metrics;
  struct kstore *store;
  pthread_mutex_t *store_lock;
  pthread_t thread;
  int started;
  pthread_mutex_t lock; /* the fields below */
  pthread_cond_t cond;  /* kicked / stopping */
  int kicked;
  int stopping;
  int64_t stop_deadline; /* monotonic ms, once stopping */
  int store_failing;     /* the last claim failed (logged once) */
  int64_t last_retry_at; /* monotonic ms of the latest retry we scheduled */
  /* staged jobs: under the keeper's lock, not ours */
  struct kstore_hook *staged;
  size_t nstaged, staged_cap;
};

/* The outcome of one attempt. */
enum attempt { ATTEMPT_OK, ATTEMPT_FAILED, ATTEMPT_CUT /* stop deadline */ };

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

static int64_t wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while(nanosleep(&ts, &ts) && errno == EINTR)
    ;
}

/* The stop deadline (monotonic ms), 0 while not stopping. */
static int64_t stop_deadline(struct khooks *h)
{
  pthread_mutex_lock(&h->lock);
  int64_t d = h->stopping ? h->stop_deadline : 0;
  pthread_mutex_unlock(&h->lock);
  return d;
}

static const char *kind_name(int kind)
{
  return kind == KSTORE_HOOK_URL ? "on-ended-url" : "on-ended";
}

static char *env_pair(const char *name, const char *value)
{
  size_t n = strlen(name) + strlen(value) + 2;
  char *s = malloc(n);
  if(s)
    snprintf(s, n, "%s=%s", name, value);
  return s;
}

static const char *const own_env[] = {"MGCALL_CALL_ID", "MGCALL_TENANT_ID",
                                      "MGCALL_REASON", "MGCALL_EVENT_ID"};
#define NOWN (sizeof(own_env) / sizeof(own_env[0]))

static int is_own_env(const char *kv)
{
  for(size_t i = 0; i < NOWN; i++) {
    size_t n = strlen(own_env[i]);
    if(!strncmp(kv, own_env[i], n) && kv[n] == '=')
      return 1;
  }
  return 0;
}

/* Run the command once. */
static enum attempt run_command(struct khooks *h, const struct kstore_hook *j,
                                char *why, size_t whylen)
{
  size_t nenv = 0;
  while(environ[nenv])
    nenv++;
  char **envp = calloc(nenv + NOWN + 1, sizeof(*envp));
  if(!envp) {
    snprintf(why, whylen, "out of memory");
    return ATTEMPT_FAILED;
  }
  size_t k = 0;
  for(size_t i = 0; i < nenv; i++)
    if(!is_own_env(environ[i]))
      envp[k++] = environ[i];
  const char *vals[NOWN] = {j->call_id, j->tenant_id ? j->tenant_id : "",
                            j->reason, j->event_id};
  char *own[NOWN];
  for(size_t i = 0; i < NOWN; i++)
    if((own[i] = env_pair(own_env[i], vals[i])))
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
  for(size_t i = 0; i < NOWN; i++)
    free(own[i]);
  free(envp);
  if(rc) {
    snprintf(why, whylen, "cannot run '%s': %s", h->argv[0], strerror(rc));
    return ATTEMPT_FAILED;
  }
  int64_t end = mono_ms() + h->cfg.timeout_ms;
  int status = 0;
  long nap = 1;
  for(;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if(w == pid)
      break;
    if(w < 0 && errno != EINTR) {
      snprintf(why, whylen, "waitpid: %s", strerror(errno));
      return ATTEMPT_FAILED;
    }
    int64_t now = mono_ms(), stop = stop_deadline(h);
    if(now >= end || (stop && now >= stop)) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      if(now < end) {
        snprintf(why, whylen, "'%s' killed: the stop timeout ran out",
                 h->argv[0]);
        return ATTEMPT_CUT;
      }
      snprintf(why, whylen, "'%s' timed out after %ld ms: killed", h->argv[0],
               h->cfg.timeout_ms);
      return ATTEMPT_FAILED;
    }
    sleep_ms(nap);
    if(nap < 50)
      nap *= 2;
  }
  if(WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return ATTEMPT_OK;
  if(WIFEXITED(status))
    snprintf(why, whylen, "'%s' exited with status %d", h->argv[0],
             WEXITSTATUS(status));
  else
    snprintf(why, whylen, "'%s' killed by signal %d", h->argv[0],
             WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return ATTEMPT_FAILED;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
  (void)ptr;
  (void)ud;
  return size * nmemb;
}

/* curl progress callback: abort the POST once the stop deadline passed. */
static int past_stop(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                     curl_off_t ultotal, curl_off_t ulnow)
{
  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  (void)ulnow;
  int64_t stop = stop_deadline(ud);
  return stop && mono_ms() >= stop;
}

/* POST the JSON once; OK on a 2xx answer. */
static enum attempt post_url(struct khooks *h, const struct kstore_hook *j,
                             char *why, size_t whylen)
{
  json_t *o =
      json_pack("{s:s, s:s?, s:s, s:s}", "callId", j->call_id, "tenantId",
                j->tenant_id, "reason", j->reason, "eventId", j->event_id);
  char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  CURL *curl = body ? curl_easy_init() : NULL;
  struct curl_slist *hdr =
      curl ? curl_slist_append(NULL, "Content-Type: application/json") : NULL;
  if(!hdr) {
    curl_easy_cleanup(curl);
    free(body);
    snprintf(why, whylen, "out of memory");
    return ATTEMPT_FAILED;
  }
  char ua[64];
  snprintf(ua, sizeof(ua), "mgcall-keeper/%s", mgcall_version());
  curl_easy_setopt(curl, CURLOPT_URL, h->url);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, ua);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, h->cfg.timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, past_stop);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, h);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  CURLcode rc = mgc__http_trust(curl, h->cacert);
  if(rc == CURLE_OK)
    rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(hdr);
  curl_easy_cleanup(curl);
  free(body);
  if(rc == CURLE_ABORTED_BY_CALLBACK) {
    snprintf(why, whylen, "cut: the stop timeout ran out");
    return ATTEMPT_CUT;
  }
  if(rc != CURLE_OK) {
    snprintf(why, whylen, "%s", curl_easy_strerror(rc));
    return ATTEMPT_FAILED;
  }
  if(status < 200 || status > 299) {
    snprintf(why, whylen, "HTTP %ld", status);
    return ATTEMPT_FAILED;
  }
  return ATTEMPT_OK;
}

/* Free the strings of a job copied by job_copy(). */
static void job_release(struct kstore_hook *j)
{
  free((char *)j->event_id);
  free((char *)j->call_id);
  free((char *)j->tenant_id);
  free((char *)j->reason);
  free((char *)j->last_error);
}

void khooks_jobs_free(struct kstore_hook *jobs, size_t n)
{
  if(!jobs)
    return;
  for(size_t i = 0; i < n; i++)
    job_release(&jobs[i]);
  free(jobs);
}

static char *dup_or_null(const char *s, int *oom)
{
  char *d = s ? strdup(s) : NULL;
  if(s && !d)
    *oom = 1;
  return d;
}

/* Deep copy of src into dst; -1 when out of memory (dst then freeable). */
static int job_copy(struct kstore_hook *dst, const struct kstore_hook *src)
{
  int oom = 0;
  *dst = *src;
  dst->event_id = dup_or_null(src->event_id, &oom);
  dst->call_id = dup_or_null(src->call_id, &oom);
  dst->tenant_id = dup_or_null(src->tenant_id, &oom);
  dst->reason = dup_or_null(src->reason, &oom);
  dst->last_error = dup_or_null(src->last_error, &oom);
  return oom ? -1 : 0;
}

/* Jobs claimed in one round (owned copies).  One at a time: a claim is an
 * attempt started (a job claimed and not run would count an attempt when
 * the process dies). */
struct claimed {
  struct kstore_hook v[1];
  size_t n;
  int oom;
};

static int take_claimed(void *ud, const struct kstore_hook *job)
{
  struct claimed *c = ud;
  if(c->n >= sizeof(c->v) / sizeof(c->v[0]))
    return 1;
  if(job_copy(&c->v[c->n], job))
    c->oom = 1; /* kept: its strings are freed with the rest */
  c->n++;
  return 0;
}

/* Write the outcome of job j (under the store lock). */
static void finish(struct khooks *h, const struct kstore_hook *j,
                   enum kstore_hook_outcome outcome, int64_t delay_ms,
                   const char *why)
{
  struct mgc_err err = {0};
  pthread_mutex_lock(h->store_lock);
  int rc = h->store->ops->hook_finish(h->store, j->job_id, j->claim, outcome,
                                      wall_ms(), delay_ms, why, &err);
  pthread_mutex_unlock(h->store_lock);
  if(rc == MGCALL_E_NOT_FOUND)
    klog(KLOG_WARN, j->call_id, NULL,
         "%s (event %s): its claim ran out while it ran: another runner "
         "has it",
         kind_name(j->kind), j->event_id);
  else if(rc)
    klog(KLOG_ERROR, j->call_id, NULL, "%s (event %s): %s", kind_name(j->kind),
         j->event_id, err.msg);
}

/* One attempt of a claimed job, and its outcome written back. */
static void run_job(struct khooks *h, const struct kstore_hook *j)
{
  char why[300] = "";
  enum attempt a = j->kind == KSTORE_HOOK_URL
                       ? post_url(h, j, why, sizeof(why))
                       : run_command(h, j, why, sizeof(why));
  if(a == ATTEMPT_CUT) {
    klog(KLOG_WARN, j->call_id, NULL,
         "%s (event %s): %s: left pending for the next start",
         kind_name(j->kind), j->event_id, why);
    finish(h, j, KSTORE_HOOK_RELEASED, 0, NULL);
    return;
  }
  km_hook_run(h->metrics,
              j->kind == KSTORE_HOOK_URL ? KM_HOOK_URL : KM_HOOK_COMMAND,
              a == ATTEMPT_OK);
  if(a == ATTEMPT_OK) {
    klog(KLOG_INFO, j->call_id, NULL, "%s ran (reason %s, event %s)",
         kind_name(j->kind), j->reason, j->event_id);
    finish(h, j, KSTORE_HOOK_DELIVERED, 0, NULL);
    return;
  }
  klog(KLOG_WARN, j->call_id, NULL, "%s: %s", kind_name(j->kind), why);
  if(j->attempts > h->cfg.retries) {
    klog(KLOG_ERROR, j->call_id, NULL, "%s failed %d times: giving up",
         kind_name(j->kind), j->attempts);
    finish(h, j, KSTORE_HOOK_GAVE_UP, 0, why);
    return;
  }
  int64_t delay = h->cfg.retry_delay_ms;
  for(int i = 1; i < j->attempts && delay < 60000; i++)
    delay *= 2;
  finish(h, j, KSTORE_HOOK_RETRY, delay, why);
  if(mono_ms() + delay > h->last_retry_at)
    h->last_retry_at = mono_ms() + delay;
}

static void publish_pending(struct khooks *h)
{
  int64_t n = 0;
  struct mgc_err err = {0};
  pthread_mutex_lock(h->store_lock);
  int rc = h->store->ops->hook_pending(h->store, &n, &err);
  pthread_mutex_unlock(h->store_lock);
  if(!rc)
    km_outbox_pending(h->metrics, n);
}

/* Claim a due job and run one attempt of it.  Returns how many were
 * claimed, -1 when the store failed. */
static int run_round(struct khooks *h)
{
  struct claimed c = {0};
  struct mgc_err err = {0};
  /* a claim outlives the longest attempt: nobody else takes it meanwhile */
  int64_t lease = 2 * h->cfg.timeout_ms + 5000;
  pthread_mutex_lock(h->store_lock);
  int rc = h->store->ops->claim_hooks(h->store, h->node, h->kinds, wall_ms(),
                                      lease, sizeof(c.v) / sizeof(c.v[0]),
                                      take_claimed, &c, NULL, &err);
  pthread_mutex_unlock(h->store_lock);
  if(rc) {
    if(!h->store_failing)
      klog(KLOG_ERROR, NULL, NULL, "hooks: %s: will try again", err.msg);
    h->store_failing = 1;
    return -1;
  }
  h->store_failing = 0;
  if(c.n)
    publish_pending(h); /* the figure while the hook runs */
  for(size_t i = 0; i < c.n; i++) {
    const struct kstore_hook *j = &c.v[i];
    int64_t stop = stop_deadline(h);
    if(c.oom || (stop && mono_ms() >= stop))
      finish(h, j, KSTORE_HOOK_RELEASED, 0, NULL); /* runs later */
    else
      run_job(h, j);
  }
  for(size_t i = 0; i < c.n; i++)
    job_release(&c.v[i]);
  if(c.oom)
    klog(KLOG_ERROR, NULL, NULL, "hooks: out of memory: will try again");
  return (int)c.n;
}

static void *worker(void *arg)
{
  struct khooks *h = arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals go to the main loop */
  for(;;) {
    int ran = run_round(h);
    publish_pending(h);
    pthread_mutex_lock(&h->lock);
    int64_t now = mono_ms(), wait = ran > 0 || h->kicked ? 0 : KHOOKS_POLL_MS;
    if(h->stopping) {
      /* drain: what is due, and the retries we scheduled, until the stop
       * deadline; what is left stays pending in the store */
      if(now >= h->stop_deadline || (ran <= 0 && h->last_retry_at <= now)) {
        pthread_mutex_unlock(&h->lock);
        break;
      }
      if(ran <= 0) {
        int64_t until = h->last_retry_at < h->stop_deadline ? h->last_retry_at
                                                            : h->stop_deadline;
        wait = until - now;
      }
    }
    kcw_wait_ms(&h->cond, &h->lock, wait);
    h->kicked = 0;
    pthread_mutex_unlock(&h->lock);
  }
  return NULL;
}

int khooks_new(const struct khooks_config *cfg, struct kmetrics *metrics,
               struct kstore *store, pthread_mutex_t *store_lock,
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
  if(h->cfg.stop_timeout_ms <= 0)
    h->cfg.stop_timeout_ms = 20000;
  h->cfg.command = h->cfg.url = h->cfg.cacert = h->cfg.node = NULL;
  h->metrics = metrics;
  h->store = store;
  h->store_lock = store_lock;
  pthread_mutex_init(&h->lock, NULL);
  kcw_init(&h->cond);
  if(cfg->command) {
    int argc;
    char why[128];
    h->argv = khooks_split(cfg->command, &argc, why, sizeof(why));
    if(!h->argv) {
      snprintf(err, errlen, "--on-ended: %s", why);
      khooks_free(h);
      return MGCALL_E_USAGE;
    }
    h->kinds |= KSTORE_HOOK_COMMAND;
  }
  if(cfg->url) {
    if(strncmp(cfg->url, "http://", 7) && strncmp(cfg->url, "https://", 8)) {
      set_err(err, errlen, "--on-ended-url: not an http(s) URL");
      khooks_free(h);
      return MGCALL_E_USAGE;
    }
    h->url = strdup(cfg->url);
    h->kinds |= KSTORE_HOOK_URL;
  }
  if(cfg->cacert)
    h->cacert = strdup(cfg->cacert);
  if(cfg->node)
    h->node = strdup(cfg->node);
  else {
    char host[256] = "", node[300];
    gethostname(host, sizeof(host) - 1);
    snprintf(node, sizeof(node), "%s:%ld", host, (long)getpid());
    h->node = strdup(node);
  }
  if((cfg->url && !h->url) || (cfg->cacert && !h->cacert) || !h->node) {
    set_err(err, errlen, "out of memory");
    khooks_free(h);
    return MGCALL_E_INTERNAL;
  }
  if(h->kinds) {
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

int khooks_stage(struct khooks *h, const char *call_id, const char *tenant_id,
                 const char *reason, int64_t ended_ms)
{
  if(!h || !h->started)
    return 0;
  char event_id[MGC_UUID_LEN + 1];
  if(h->nstaged + 2 > KHOOKS_MAX_STAGED) {
    klog(KLOG_ERROR, call_id, NULL,
         "on-ended: %d hook jobs waiting to be written: hook dropped",
         KHOOKS_MAX_STAGED);
    return -1;
  }
  if(h->nstaged + 2 > h->staged_cap) {
    size_t cap = h->staged_cap ? h->staged_cap * 2 : 16;
    struct kstore_hook *v = realloc(h->staged, cap * sizeof(*v));
    if(!v)
      goto oom;
    h->staged = v;
    h->staged_cap = cap;
  }
  if(mgc__uuid_v4(event_id))
    goto oom;
  for(int kind = KSTORE_HOOK_COMMAND; kind <= KSTORE_HOOK_URL; kind <<= 1) {
    if(!(h->kinds & kind))
      continue;
    struct kstore_hook j = {.event_id = event_id,
                            .call_id = call_id,
                            .tenant_id = tenant_id,
                            .reason = reason,
                            .kind = kind,
                            .created_ms = ended_ms};
    if(job_copy(&h->staged[h->nstaged], &j)) {
      job_release(&h->staged[h->nstaged]);
      goto oom;
    }
    h->nstaged++;
  }
  return 0;
oom:
  klog(KLOG_ERROR, call_id, NULL, "on-ended: out of memory: hook dropped");
  return -1;
}

struct kstore_hook *khooks_take(struct khooks *h, size_t *n)
{
  *n = 0;
  if(!h || !h->nstaged)
    return NULL;
  struct kstore_hook *v = h->staged;
  *n = h->nstaged;
  h->staged = NULL;
  h->nstaged = h->staged_cap = 0;
  return v;
}

void khooks_unstage(struct khooks *h, struct kstore_hook *jobs, size_t n)
{
  if(!jobs)
    return;
  if(!h->nstaged) { /* the usual case: nothing staged since the take */
    h->staged = jobs;
    h->nstaged = h->staged_cap = n;
    return;
  }
  struct kstore_hook *v = realloc(jobs, (n + h->nstaged) * sizeof(*v));
  if(!v) {
    klog(KLOG_ERROR, NULL, NULL,
         "on-ended: out of memory: %zu hook jobs dropped", n);
    khooks_jobs_free(jobs, n);
    return;
  }
  memcpy(v + n, h->staged, h->nstaged * sizeof(*v));
  free(h->staged);
  h->staged = v;
  h->nstaged += n;
  h->staged_cap = h->nstaged;
}

void khooks_kick(struct khooks *h)
{
  if(!h || !h->started)
    return;
  pthread_mutex_lock(&h->lock);
  h->kicked = 1;
  pthread_cond_signal(&h->cond);
  pthread_mutex_unlock(&h->lock);
}

void khooks_free(struct khooks *h)
{
  if(!h)
    return;
  if(h->started) {
    pthread_mutex_lock(&h->lock);
    h->stopping = 1;
    h->stop_deadline = mono_ms() + h->cfg.stop_timeout_ms;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
  }
  if(h->nstaged)
    klog(KLOG_ERROR, NULL, NULL,
         "on-ended: %zu hook jobs were never written: dropped", h->nstaged);
  khooks_jobs_free(h->staged, h->nstaged);
  pthread_mutex_destroy(&h->lock);
  pthread_cond_destroy(&h->cond);
  khooks_argv_free(h->argv);
  free(h->url);
  free(h->cacert);
  free(h->node);
  free(h);
}
