/* SPDX-License-Identifier: MIT */
/* status_page.c - the status page's HTML from a snapshot. */
#include "status_page.h"

#include "mgcx.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest page: 50 rows of ids, errors and escapes fit many times over. */
#define KSP_MAX_BYTES (4u * 1024 * 1024)

struct out {
  struct mgcx_buf b;
  int failed;
};

static void put(struct out *o, const char *s)
{
  if(!o->failed && mgcx_buf_add(&o->b, s, strlen(s)))
    o->failed = 1;
}

static void putf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if(n < 0 || (size_t)n >= sizeof(tmp))
    o->failed = 1;
  else
    put(o, tmp);
}

/* Text from outside, HTML-escaped (text and attribute values alike): at
 * most max bytes of it (cut at a UTF-8 character), then an ellipsis. */
static void put_text_max(struct out *o, const char *s, size_t max)
{
  size_t i = 0;
  for(const char *p = s ? s : ""; *p && !o->failed; p++, i++) {
    if(i >= max && ((unsigned char)*p & 0xC0) != 0x80) {
      put(o, "&hellip;");
      return;
    }
    switch(*p) {
    case '&':
      put(o, "&amp;");
      break;
    case '<':
      put(o, "&lt;");
      break;
    case '>':
      put(o, "&gt;");
      break;
    case '"':
      put(o, "&quot;");
      break;
    case '\'':
      put(o, "&#39;");
      break;
    default:
      if(mgcx_buf_add(&o->b, p, 1))
        o->failed = 1;
    }
  }
}

static void put_text(struct out *o, const char *s)
{
  put_text_max(o, s, (size_t)-1);
}

/* An error cell: the first KSP_ERROR_SHOWN bytes, the whole in its title. */
#define KSP_ERROR_SHOWN 100
static void put_error_cell(struct out *o, const char *s)
{
  put(o, "<td class=\"err\"");
  if(s && strlen(s) > KSP_ERROR_SHOWN) {
    put(o, " title=\"");
    put_text(o, s);
    put(o, "\"");
  }
  put(o, ">");
  put_text_max(o, s, KSP_ERROR_SHOWN);
  put(o, "</td>");
}

/* An id in a URL path: every byte but the unreserved ones %-encoded (so
 * nothing in it needs HTML escaping either). */
static void put_path_id(struct out *o, const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  for(const unsigned char *p = (const unsigned char *)s; *p && !o->failed;
      p++) {
    char e[4] = {(char)*p, 0, 0, 0};
    if(!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
         (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
         *p == '~')) {
      e[0] = '%';
      e[1] = hex[*p >> 4];
      e[2] = hex[*p & 15];
    }
    put(o, e);
  }
}

/* "1h 02m", "4m 05s", "12s"; ms >= 0. */
static void put_duration(struct out *o, int64_t ms)
{
  int64_t s = ms / 1000;
  if(s >= 3600)
    putf(o, "%" PRId64 "h %02" PRId64 "m", s / 3600, s % 3600 / 60);
  else if(s >= 60)
    putf(o, "%" PRId64 "m %02" PRId64 "s", s / 60, s % 60);
  else
    putf(o, "%" PRId64 "s", s);
}

static void put_time(struct out *o, int64_t ms)
{
  char buf[40];
  mgcx_rfc3339_format(ms, 0, buf, sizeof(buf));
  put(o, buf);
}

/* "<time>3m 05s ago</time>", "never" when ms is 0. */
static void put_ago(struct out *o, int64_t now, int64_t ms)
{
  if(!ms) {
    put(o, "<span class=\"dim\">never</span>");
    return;
  }
  put(o, "<time datetime=\"");
  put_time(o, ms);
  put(o, "\" title=\"");
  put_time(o, ms);
  put(o, "\">");
  put_duration(o, now > ms ? now - ms : 0);
  put(o, " ago</time>");
}

static void put_call_cell(struct out *o, const struct ksp_call *c)
{
  put(o, "<td class=\"id\"><a href=\"/calls/");
  put_path_id(o, c->call_id);
  put(o, "\">");
  put_text(o, c->call_id);
  put(o, "</a></td><td class=\"tenant\">");
  if(c->tenant_id)
    put_text(o, c->tenant_id);
  else
    put(o, "<span class=\"dim\">default</span>");
  put(o, "</td>");
}

/* A word from a fixed set, as a CSS class: only [a-z-] kept. */
static void put_class(struct out *o, const char *s)
{
  for(const char *p = s ? s : ""; *p; p++)
    if((*p >= 'a' && *p <= 'z') || *p == '-') {
      char e[2] = {*p, 0};
      put(o, e);
    }
}

static const char STYLE[] =
    ":root{color-scheme:light;--fg:#1f2328;--dim:#656d76;--line:#d8dee4;"
    "--bg:#f6f8fa;--card:#fff;--warn:#9a6700;--warnbg:#fff8c5;"
    "--bad:#a40e26;--badbg:#ffebe9;--ok:#1a7f37;--okbg:#dafbe1}"
    "*{box-sizing:border-box}"
    "body{margin:0;padding:24px 32px 40px;background:var(--bg);color:var(--fg);"
    "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}"
    "header{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 16px;"
    "margin-bottom:20px}"
    "h1{font-size:20px;margin:0;font-weight:600}"
    "h2{font-size:15px;margin:28px 0 8px;font-weight:600}"
    ".meta,.dim{color:var(--dim)}"
    ".counts{display:grid;grid-template-columns:repeat(4,minmax(120px,1fr));"
    "gap:12px;max-width:760px}"
    ".count{background:var(--card);border:1px solid var(--line);"
    "border-radius:8px;padding:12px 16px}"
    ".count .n{display:block;font-size:28px;font-weight:600;"
    "font-variant-numeric:tabular-nums}"
    ".count .label{color:var(--dim)}"
    ".count.warn{background:var(--warnbg);border-color:#d4a72c}"
    ".count.warn .n{color:var(--warn)}"
    ".count.bad{background:var(--badbg);border-color:#ff8182}"
    ".count.bad .n{color:var(--bad)}"
    "table{border-collapse:collapse;width:100%;background:var(--card);"
    "border:1px solid var(--line);border-radius:8px;overflow:hidden}"
    "th,td{text-align:left;padding:7px 12px;border-bottom:1px solid "
    "var(--line);vertical-align:top}"
    "th{font-weight:600;font-size:12px;color:var(--dim);background:#fbfcfd}"
    "tr:last-child td{border-bottom:0}"
    "th{white-space:nowrap}"
    "td.id{overflow-wrap:anywhere;min-width:24em;max-width:32em}"
    "td.tenant{white-space:nowrap}"
    "td.id a{color:inherit;text-decoration:none}"
    "td.id a:hover{text-decoration:underline}"
    "td.num{font-variant-numeric:tabular-nums;white-space:nowrap}"
    "td.err{color:var(--dim);word-break:break-word;max-width:420px}"
    ".badge{display:inline-block;padding:0 8px;border-radius:10px;"
    "font-size:12px;line-height:20px;background:#eaeef2;white-space:nowrap}"
    ".badge.at-risk,.badge.pending{background:var(--warnbg);color:var(--warn)}"
    ".badge.lost,.badge.failed{background:var(--badbg);color:var(--bad)}"
    ".badge.delivered{background:var(--okbg);color:var(--ok)}"
    "tr.at-risk td.left{color:var(--warn);font-weight:600}"
    "p.empty{color:var(--dim);background:var(--card);border:1px dashed "
    "var(--line);border-radius:8px;padding:12px 16px;margin:0}"
    "footer{margin-top:32px;color:var(--dim)}"
    "footer a{color:#0969da;margin-right:16px}";

/* n with thousands separators: "1,234,567". */
static void put_count(struct out *o, uint64_t n)
{
  char digits[32], grouped[48];
  int len = snprintf(digits, sizeof(digits), "%" PRIu64, n);
  size_t j = 0;
  for(int i = 0; i < len; i++) {
    if(i && (len - i) % 3 == 0)
      grouped[j++] = ',';
    grouped[j++] = digits[i];
  }
  grouped[j] = '\0';
  put(o, grouped);
}

static void put_counts(struct out *o, const struct ksp_snapshot *s)
{
  struct {
    const char *key, *label, *cls;
    uint64_t n;
  } c[] = {
      {"active", "active", "", s->active},
      {"at-risk", "at risk", s->at_risk ? " warn" : "", s->at_risk},
      {"ended", "ended since start", "", s->ended},
      {"lost", "lost since start", s->lost ? " bad" : "", s->lost},
  };
  put(o, "<section class=\"counts\" aria-label=\"calls by state\">");
  for(size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
    putf(o,
         "<div class=\"count%s\"><span class=\"n\" data-count=\"%s\" "
         "data-n=\"%" PRIu64 "\">",
         c[i].cls, c[i].key, c[i].n);
    put_count(o, c[i].n);
    putf(o, "</span><span class=\"label\">%s</span></div>", c[i].label);
  }
  put(o, "</section>");
}

static void put_worst(struct out *o, const struct ksp_snapshot *s)
{
  put(o, "<h2>Closest to their deadline</h2>");
  if(!s->nworst) {
    put(o, "<p class=\"empty\" id=\"worst-empty\">No live calls.</p>");
    return;
  }
  put(o, "<table id=\"worst\"><thead><tr><th>call</th><th>tenant</th>"
         "<th>state</th><th>deadline in</th><th>last success</th>"
         "<th>failures</th><th>last error</th></tr></thead><tbody>");
  for(size_t i = 0; i < s->nworst; i++) {
    const struct ksp_call *c = &s->worst[i];
    int64_t left = c->deadline_ms - s->now_ms;
    put(o, "<tr class=\"");
    put_class(o, c->state);
    put(o, "\">");
    put_call_cell(o, c);
    put(o, "<td><span class=\"badge ");
    put_class(o, c->state);
    put(o, "\">");
    put_text(o, c->state);
    putf(o, "</span></td><td class=\"num left\" data-ms=\"%" PRId64 "\">",
         left);
    if(left < 0) {
      put(o, "overdue ");
      put_duration(o, -left);
    }
    else
      put_duration(o, left);
    put(o, "</td><td class=\"num\">");
    put_ago(o, s->now_ms, c->last_success_ms);
    putf(o, "</td><td class=\"num\">%d</td>", c->failures);
    put_error_cell(o, c->last_error);
    put(o, "</tr>");
  }
  put(o, "</tbody></table>");
}

static void put_latest(struct out *o, const struct ksp_snapshot *s)
{
  put(o, "<h2>Ended last</h2>");
  if(s->latest_error) {
    put(o, "<p class=\"empty\" id=\"latest-error\">Not available: ");
    put_text(o, s->latest_error);
    put(o, "</p>");
    return;
  }
  if(!s->nlatest) {
    put(o, "<p class=\"empty\" id=\"latest-empty\">No call has ended.</p>");
    return;
  }
  put(o, "<table id=\"latest\"><thead><tr><th>call</th><th>tenant</th>"
         "<th>ended</th><th>reason</th><th>hook</th><th>hook error</th>"
         "</tr></thead><tbody>");
  for(size_t i = 0; i < s->nlatest; i++) {
    const struct ksp_call *c = &s->latest[i];
    put(o, "<tr>");
    put_call_cell(o, c);
    put(o, "<td class=\"num\">");
    put_ago(o, s->now_ms, c->ended_ms);
    put(o, "</td><td><span class=\"badge ");
    put_class(o, c->reason);
    put(o, "\">");
    put_text(o, c->reason);
    put(o, "</span></td><td class=\"hook\">");
    if(c->hook) {
      put(o, "<span class=\"badge ");
      put_class(o, c->hook);
      put(o, "\">");
      put_text(o, c->hook);
      put(o, "</span>");
      if(c->hook_attempts > 1)
        putf(o, " <span class=\"dim\">%d attempts</span>", c->hook_attempts);
    }
    else
      put(o, "<span class=\"dim\">none</span>");
    put(o, "</td>");
    put_error_cell(o, c->hook_error);
    put(o, "</tr>");
  }
  put(o, "</tbody></table>");
}

static void put_fleet(struct out *o, const struct ksp_snapshot *s)
{
  if(!s->fleet)
    return;
  put(o, "<h2>Fleet</h2>");
  if(!s->nmembers) {
    put(o, "<p class=\"empty\" id=\"fleet-empty\">No member seen yet.</p>");
    return;
  }
  put(o, "<table id=\"fleet\"><thead><tr><th>node</th><th>control API</th>"
         "<th>heartbeat</th><th>shards</th><th>calls</th></tr></thead>"
         "<tbody>");
  for(size_t i = 0; i < s->nmembers; i++) {
    const struct ksp_member *m = &s->members[i];
    put(o, "<tr><td class=\"id\">");
    put_text(o, m->node_id);
    if(m->self)
      put(o, " <span class=\"badge\">this keeper</span>");
    put(o, "</td><td class=\"id\">");
    if(m->api_url)
      put_text(o, m->api_url);
    else
      put(o, "<span class=\"dim\">unknown</span>");
    put(o, "</td><td class=\"num\">");
    put_duration(o, m->heartbeat_age_ms > 0 ? m->heartbeat_age_ms : 0);
    putf(o,
         " ago</td><td class=\"num\">%" PRId64 "</td><td class=\"num\">%" PRId64
         "</td></tr>",
         m->shards, m->calls);
  }
  put(o, "</tbody></table>");
}

char *ksp_render(const struct ksp_snapshot *s)
{
  struct out o = {{0}, 0};
  mgcx_buf_init(&o.b, KSP_MAX_BYTES);
  putf(&o,
       "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta http-equiv=\"refresh\" content=\"%d\">"
       "<meta name=\"viewport\" content=\"width=device-width, "
       "initial-scale=1\"><title>",
       KSP_REFRESH_S);
  if(s->lost || s->at_risk)
    putf(&o, "%zu at risk, %" PRIu64 " lost - mgcall keeper", s->at_risk,
         s->lost);
  else
    put(&o, "mgcall keeper");
  put(&o, "</title><style>");
  put(&o, STYLE);
  put(&o, "</style></head><body><header><h1>mgcall keeper</h1>"
          "<span class=\"meta\">");
  if(s->node_id) {
    put(&o, "node ");
    put_text(&o, s->node_id);
    put(&o, " &middot; ");
  }
  put(&o, "updated <time id=\"updated\" datetime=\"");
  put_time(&o, s->now_ms);
  put(&o, "\">");
  char when[40];
  mgcx_rfc3339_format(s->now_ms, 0, when, sizeof(when));
  when[10] = ' '; /* 2026-01-31 12:00:00 UTC */
  when[19] = '\0';
  put(&o, when);
  putf(&o, " UTC</time> &middot; refreshes every %d s</span></header>",
       KSP_REFRESH_S);
  put_counts(&o, s);
  put_worst(&o, s);
  put_latest(&o, s);
  put_fleet(&o, s);
  put(&o, "<footer><a href=\"/metrics\">metrics</a>"
          "<a href=\"/openapi.yaml\">OpenAPI document</a>"
          "<a href=\"/calls?state=at-risk\">at-risk calls (JSON)</a>"
          "<a href=\"/calls?state=lost\">lost calls (JSON)</a>"
          "</footer></body></html>\n");
  if(o.failed) {
    mgcx_buf_release(&o.b);
    return NULL;
  }
  return o.b.data;
}

static void call_release(struct ksp_call *c)
{
  free(c->call_id);
  free(c->tenant_id);
  free(c->state);
  free(c->reason);
  free(c->last_error);
  free(c->hook);
  free(c->hook_error);
}

void ksp_release(struct ksp_snapshot *s)
{
  for(size_t i = 0; i < s->nworst; i++)
    call_release(&s->worst[i]);
  for(size_t i = 0; i < s->nlatest; i++)
    call_release(&s->latest[i]);
  for(size_t i = 0; i < s->nmembers; i++) {
    free(s->members[i].node_id);
    free(s->members[i].api_url);
  }
  free(s->latest_error);
  free(s->node_id);
  memset(s, 0, sizeof(*s));
}
