/* SPDX-License-Identifier: MIT */
/* fuzz_keeper_api.c - the keeper control API's request parsing on arbitrary
 * bytes: the first byte picks the parser, the rest is its input.
 *   0: kregs_parse()      (POST /calls bodies)
 *   1: kpage_parse()      (GET /calls ?state= &limit= &after=, split on NUL
 *                          bytes; after may hold NULs)
 *   2: kguard_host_ok()   (Host)       3: kguard_origin_ok() (Origin)
 *   4: kguard_is_json()   (Content-Type)
 *   5: kguard_path_id()   (the raw URI of /calls/{id})
 * Never crashes; what each accepts meets the rules the handlers rely on. */
#include "ids.h"
#include "keeper/api_guard.h"
#include "keeper/page.h"
#include "keeper/regs.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kguard *guard(void)
{
  static struct kguard *g;
  if(!g) {
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(8787);
    const char *const allowed[] = {"keeper.internal", NULL};
    g = kguard_new((struct sockaddr *)&sa, sizeof(sa), allowed);
    if(!g)
      abort();
  }
  return g;
}

static void regs(const char *p, size_t n)
{
  struct kregs r;
  char why[300] = "";
  int st = kregs_parse(p, n, 50, &r, why, sizeof(why));
  if(st != 0 && st != 400 && st != 413 && st != 503)
    abort();
  if(st) {
    if(r.n || r.v || !why[0])
      abort();
    return;
  }
  if(r.n < 1 || r.n > 50 || (!r.bulk && r.n != 1))
    abort();
  for(size_t i = 0; i < r.n; i++)
    if(!mgc__call_id_ok(r.v[i].call_id) ||
       (r.v[i].tenant_id && !mgc__tenant_id_ok(r.v[i].tenant_id)))
      abort();
  kregs_release(&r);
}

static void page(const char *p, size_t n)
{
  /* state NUL limit NUL after (after: the rest, NULs included) */
  const char *state = p, *z1 = memchr(p, '\0', n);
  if(!z1)
    return;
  const char *limit = z1 + 1,
             *z2 = memchr(limit, '\0', n - (size_t)(limit - p));
  if(!z2)
    return;
  const char *after = z2 + 1;
  size_t after_len = n - (size_t)(after - p);
  struct kpage_query q;
  char why[200] = "";
  if(kpage_parse(*state ? state : NULL, *limit ? limit : NULL, after, after_len,
                 &q, why, sizeof(why))) {
    if(!why[0])
      abort();
    return;
  }
  if(q.limit < 1 || q.limit > KPAGE_MAX_LIMIT)
    abort();
  if(q.after[0] && !mgc__call_id_ok(q.after))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if(!size)
    return 0;
  size_t n = size - 1;
  char *s = malloc(n + 1);
  if(!s)
    return 0;
  memcpy(s, data + 1, n);
  s[n] = '\0';
  switch(data[0] % 6) {
  case 0:
    regs(s, n);
    break;
  case 1:
    page(s, n);
    break;
  case 2:
    if(kguard_host_ok(guard(), s) && strchr(s, '@'))
      abort();
    break;
  case 3:
    if(kguard_origin_ok(guard(), s) && strncasecmp(s, "http", 4))
      abort();
    break;
  case 4:
    (void)kguard_is_json(s);
    break;
  default: {
    char *id = kguard_path_id(s);
    if(id && !mgc__call_id_ok(id))
      abort();
    free(id);
  }
  }
  free(s);
  return 0;
}
