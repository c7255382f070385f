/* gw_status — the status page of the admin listener (SPEC §11).
 *
 * `GET /` is one HTML page with its CSS and script inline (no external
 * asset): services and instances with state, uptime, restarts, last exit,
 * memory, CPU, in-flight and request counts, and each service's latency
 * histogram. muster renders the current state into it here, from the host
 * (sup_view) and the gateway's metrics, so it reads without script; the
 * script keeps it live from /events, `/status.json` and /metrics.
 * `GET /status.json` is the control `status` reply (sup_status).
 *
 * The page's static parts are gateway/gw_status.html, embedded at build
 * time (cmake/embed.cmake makes gw_status_page.c): edited as HTML, not as
 * a C literal of escaped quotes and backslashes. Its `<!--muster:NAME-->`
 * markers are filled here. The script renders the same markup as the
 * functions below; a change to one is a change to both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "sup_log.h"
#include "sup_proc.h"
#include "sup_status.h"
#include "sup_view.h"

#define DASH "\xe2\x80\x93" /* "–": no value */
#define SPARK_SECONDS 90    /* the script's sparkline: SPARK polls of a second */

/* The ≤ bounds of the latency buckets (gw_metrics.c), as the page shows them. */
static const char *const bound_text[GW_METRICS_BUCKETS] = {
    "0.5 ms", "1 ms",   "2.5 ms", "5 ms", "10 ms", "25 ms", "50 ms",
    "100 ms", "250 ms", "500 ms", "1 s",  "2.5 s", "10 s"};
static const char *const axis_text[GW_METRICS_BUCKETS + 1] = {
    "0.5", "1",   "2.5", "5",  "10",   "25",  "50",
    "100", "250", "500", "1k", "2.5k", "10k", "\xe2\x88\x9e"};

void gw_html_str(struct ipc_buf *b, const char *s, size_t n) {
  size_t from = 0;
  for (size_t i = 0; i < n; i++) {
    const char *rep;
    switch (s[i]) {
    case '&':
      rep = "&amp;";
      break;
    case '<':
      rep = "&lt;";
      break;
    case '>':
      rep = "&gt;";
      break;
    case '"':
      rep = "&quot;";
      break;
    case '\'':
      rep = "&#39;";
      break;
    default:
      continue;
    }
    ipc_buf_add(b, s + from, i - from);
    ipc_buf_adds(b, rep);
    from = i + 1;
  }
  ipc_buf_add(b, s + from, n - from);
}

/* ---- Text of values (the script's uptime(), bytes(), lastExit()) ---- */

/* "42s", "3m 5s", "2h 7m", "4d 1h"; "–" without a process. */
static void fmt_uptime(char *out, size_t n, uint64_t ms) {
  unsigned long long s = ms / 1000;
  if (ms == 0)
    snprintf(out, n, DASH);
  else if (s < 60)
    snprintf(out, n, "%llus", s);
  else if (s < 3600)
    snprintf(out, n, "%llum %llus", s / 60, s % 60);
  else if (s < 86400)
    snprintf(out, n, "%lluh %llum", s / 3600, s % 3600 / 60);
  else
    snprintf(out, n, "%llud %lluh", s / 86400, s % 86400 / 3600);
}

/* "512 B", "1.5 KiB", "12.3 MiB", "1.0 GiB"; "–" for 0. */
static void fmt_bytes(char *out, size_t n, unsigned long long v) {
  if (v == 0)
    snprintf(out, n, DASH);
  else if (v < 1024)
    snprintf(out, n, "%llu B", v);
  else if (v < 1048576)
    snprintf(out, n, "%.1f KiB", (double)v / 1024);
  else if (v < 1073741824)
    snprintf(out, n, "%.1f MiB", (double)v / 1048576);
  else
    snprintf(out, n, "%.1f GiB", (double)v / 1073741824);
}

/* "SIGKILL", "signal 34", "code 1"; "–" before the first exit. */
static void fmt_exit(char *out, size_t n, int code, int sig) {
  static const char *const names[16] = {NULL,   "HUP",  "INT",  "QUIT", "ILL", NULL,
                                        "ABRT", "BUS",  "FPE",  "KILL", NULL,  "SEGV",
                                        NULL,   "PIPE", "ALRM", "TERM"};
  if (code == -1 && sig == 0)
    snprintf(out, n, DASH);
  else if (sig > 0 && sig < 16 && names[sig])
    snprintf(out, n, "SIG%s", names[sig]);
  else if (sig)
    snprintf(out, n, "signal %d", sig);
  else
    snprintf(out, n, "code %d", code);
}

/* "12.3 ms", "1.25 s" (the script's seconds()). */
static void fmt_seconds(char *out, size_t n, double s) {
  if (s < 1)
    snprintf(out, n, "%.1f ms", s * 1000);
  else
    snprintf(out, n, "%.2f s", s);
}

/* ---- The services (the script's serviceHtml() and what it calls) ---- */

/* One table cell: data-l is its label on a narrow screen; html is markup. */
static void cell(struct ipc_buf *b, const char *label, const char *html) {
  ipc_buf_adds(b, "<td data-l=\"");
  ipc_buf_adds(b, label);
  ipc_buf_adds(b, "\">");
  ipc_buf_adds(b, html);
  ipc_buf_adds(b, "</td>");
}

/* One instance as a table row; with addr, its address cell last. */
static void render_instance(struct ipc_buf *b, const char *svc, const struct sup_instance *inst,
                            int addr) {
  struct sup_instance_info ii;
  char t[160];
  sup_view_instance_info(inst, &ii);
  ipc_buf_adds(b, "<tr data-svc=\"");
  gw_html_str(b, svc, strlen(svc));
  snprintf(t, sizeof(t), "\" data-index=\"%d\" data-pid=\"%d\" data-state=\"", ii.index,
           (int)ii.pid);
  ipc_buf_adds(b, t);
  gw_html_str(b, ii.state_name, strlen(ii.state_name));
  ipc_buf_adds(b, "\">");
  snprintf(t, sizeof(t), "%d", ii.index);
  cell(b, "instance", t);
  ipc_buf_adds(b, "<td data-l=\"state\"><span class=\"badge\">");
  gw_html_str(b, ii.state_name, strlen(ii.state_name));
  ipc_buf_adds(b, "</span></td>");
  snprintf(t, sizeof(t), "%d", (int)ii.pid);
  cell(b, "pid", ii.pid ? t : DASH);
  fmt_uptime(t, sizeof(t), ii.uptime_ms);
  cell(b, "uptime", t);
  snprintf(t, sizeof(t), "%u", ii.restarts);
  cell(b, "restarts", t);
  fmt_exit(t, sizeof(t), ii.last_code, ii.last_signal);
  cell(b, "last exit", t);
  fmt_bytes(t, sizeof(t), ii.pid ? (unsigned long long)sup_proc_rss(ii.pid) : 0);
  cell(b, "RSS", t);
  /* Rounded to one decimal as status.json has it (sup_status). */
  snprintf(t, sizeof(t), "%.1f %%", (double)(long long)(ii.cpu_percent * 10 + 0.5) / 10);
  cell(b, "CPU", ii.pid ? t : DASH);
  snprintf(t, sizeof(t), "%u", ii.inflight);
  cell(b, "in-flight", t);
  cell(b, "req/s", DASH); /* a rate needs two readings: the script's */
  snprintf(t, sizeof(t), "%llu", (unsigned long long)ii.requests);
  cell(b, "requests", t);
  if (addr) {
    ipc_buf_adds(b, "<td data-l=\"address\">");
    if (sup_view_upstream_text(inst, t, sizeof(t)) == 0)
      gw_html_str(b, t, strlen(t));
    else
      ipc_buf_adds(b, DASH);
    ipc_buf_adds(b, "</td>");
  }
  ipc_buf_adds(b, "</tr>");
}

/* The bars of a latency histogram (h: per-bucket counts, last = +Inf). */
static void render_bars(struct ipc_buf *b, const struct gw_metric_hist *h) {
  uint64_t max = 0;
  char t[96];
  for (size_t k = 0; k <= GW_METRICS_BUCKETS; k++)
    max = h->buckets[k] > max ? h->buckets[k] : max;
  ipc_buf_adds(b, "<div class=\"bars\">");
  for (size_t k = 0; k <= GW_METRICS_BUCKETS; k++) {
    uint64_t c = h->buckets[k];
    int pct = c ? (int)((double)c * 100 / (double)max + 0.5) : 0;
    snprintf(t, sizeof(t), "<i style=\"height:%d%%\" title=\"%s%s: %llu\"></i>",
             c && pct < 3 ? 3 : pct, k < GW_METRICS_BUCKETS ? "\xe2\x89\xa4 " : "> 10 s",
             k < GW_METRICS_BUCKETS ? bound_text[k] : "", (unsigned long long)c);
    ipc_buf_adds(b, t);
  }
  ipc_buf_adds(b, "</div><div class=\"axis\">");
  for (size_t k = 0; k <= GW_METRICS_BUCKETS; k++) {
    ipc_buf_adds(b, "<span>");
    ipc_buf_adds(b, axis_text[k]);
    ipc_buf_adds(b, "</span>");
  }
  ipc_buf_adds(b, "</div>");
}

/* A service's latency histogram with its mean and p99 (h may be NULL). */
static void render_hist(struct ipc_buf *b, const struct gw_metric_hist *h) {
  char mean[32], t[160];
  uint64_t cum = 0;
  size_t p99 = GW_METRICS_BUCKETS;
  if (h == NULL || h->count == 0) {
    ipc_buf_adds(b, "<figure class=\"hist\"><figcaption>latency (ms), since start: no requests "
                    "yet</figcaption></figure>");
    return;
  }
  for (size_t k = 0; k <= GW_METRICS_BUCKETS; k++) {
    cum += h->buckets[k];
    if (cum * 100 >= h->count * 99) {
      p99 = k;
      break;
    }
  }
  fmt_seconds(mean, sizeof(mean), h->sum / (double)h->count);
  snprintf(t, sizeof(t),
           "<figure class=\"hist\"><figcaption>latency (ms), since start: mean %s, "
           "p99 %s%s</figcaption>",
           mean, p99 < GW_METRICS_BUCKETS ? "\xe2\x89\xa4 " : "> 10 s",
           p99 < GW_METRICS_BUCKETS ? bound_text[p99] : "");
  ipc_buf_adds(b, t);
  render_bars(b, h);
  ipc_buf_adds(b, "</figure>");
}

/* The service's routes as the page lists them: "host/prefix, ...". */
static void render_routes(struct ipc_buf *b, const struct cfg_service *c) {
  for (size_t i = 0; i < c->nroutes; i++) {
    if (i)
      ipc_buf_adds(b, ", ");
    if (c->routes[i].host)
      gw_html_str(b, c->routes[i].host, strlen(c->routes[i].host));
    gw_html_str(b, c->routes[i].prefix, strlen(c->routes[i].prefix));
  }
}

/* Requests the gateway answered for service name, and its histogram. */
static uint64_t service_metrics(const struct gw_metrics *m, const char *name,
                                const struct gw_metric_hist **hist) {
  uint64_t n = 0;
  *hist = NULL;
  for (size_t i = 0; i < m->ncounts; i++)
    if (strcmp(m->counts[i].service, name) == 0)
      n += m->counts[i].count;
  for (size_t i = 0; i < m->nhists; i++)
    if (strcmp(m->hists[i].service, name) == 0)
      *hist = &m->hists[i];
  return n;
}

/* The head of a service's section: name, state, routes, figures. */
static void render_service_head(struct ipc_buf *b, const struct sup_service *svc,
                                const struct sup_service_info *si, uint64_t requests) {
  char t[256];
  ipc_buf_adds(b, "<div class=\"sh\"><h2>");
  gw_html_str(b, si->name, strlen(si->name));
  ipc_buf_adds(b, "</h2><span class=\"badge\">");
  gw_html_str(b, si->state_name, strlen(si->state_name));
  ipc_buf_adds(b, "</span><span class=\"routes\">");
  render_routes(b, sup_view_service_cfg(svc));
  snprintf(t, sizeof(t),
           "</span></div><dl class=\"kv\"><div><dt>instances</dt><dd>%zu/%zu "
           "ready</dd></div><div><dt>restarts</dt><dd>%llu</dd></div>",
           si->ready, si->instances, (unsigned long long)si->restarts);
  ipc_buf_adds(b, t);
  snprintf(t, sizeof(t),
           "<div><dt>in-flight</dt><dd>%u</dd></div><div><dt>req/s</dt><dd>" DASH
           "</dd></div><div><dt>requests</dt><dd>%llu</dd></div></dl>",
           si->inflight, (unsigned long long)requests);
  ipc_buf_adds(b, t);
}

/* One service as a section: head, charts, instance table. */
static void render_service(struct ipc_buf *b, const struct sup_service *svc,
                           const struct gw_metrics *m) {
  static const char thead[] =
      "<table class=\"inst\"><thead><tr><th>#</th><th>state</th><th>pid</th><th>uptime</th>"
      "<th>restarts</th><th>last exit</th><th>RSS</th><th>CPU</th><th>in-flight</th>"
      "<th>req/s</th><th>requests</th>";
  struct sup_service_info si;
  const struct gw_metric_hist *hist;
  struct sup_instance *inst;
  char t[256];
  sup_view_service_info(svc, &si);
  uint64_t requests = service_metrics(m, si.name, &hist);
  ipc_buf_adds(b, "<section class=\"svc\" data-svc=\"");
  gw_html_str(b, si.name, strlen(si.name));
  ipc_buf_adds(b, "\" data-state=\"");
  gw_html_str(b, si.state_name, strlen(si.state_name));
  ipc_buf_adds(b, "\">");
  render_service_head(b, svc, &si, requests);
  ipc_buf_adds(b, "<div class=\"charts\">");
  render_hist(b, hist);
  snprintf(t, sizeof(t),
           "<figure class=\"spark\"><figcaption>req/s, last %d s</figcaption><svg "
           "viewBox=\"0 0 160 40\" preserveAspectRatio=\"none\"><polyline points=\"\"></polyline>"
           "</svg></figure></div>",
           SPARK_SECONDS);
  ipc_buf_adds(b, t);
  if (si.instances == 0) {
    ipc_buf_adds(b, "<p class=\"none\">no instances</p></section>");
    return;
  }
  /* an address column when some instance has one (an upstream's) */
  int addr = 0;
  for (size_t i = 0; (inst = sup_view_instance(svc, i)) != NULL; i++)
    addr |= sup_view_upstream_text(inst, t, sizeof(t)) == 0;
  ipc_buf_adds(b, thead);
  ipc_buf_adds(b, addr ? "<th>address</th></tr></thead><tbody>" : "</tr></thead><tbody>");
  for (size_t i = 0; (inst = sup_view_instance(svc, i)) != NULL; i++)
    render_instance(b, si.name, inst, addr);
  ipc_buf_adds(b, "</tbody></table></section>");
}

/* "3 services · 5/6 instances ready · 2 gateway connections". */
static void render_summary(struct ipc_buf *b, struct sup_host *host, size_t conns) {
  struct sup_service *svc;
  struct sup_service_info si;
  size_t n = 0, ready = 0, nsvc = 0;
  char t[160];
  for (; (svc = sup_view_service(host, nsvc)) != NULL; nsvc++) {
    sup_view_service_info(svc, &si);
    n += si.instances;
    ready += si.ready;
  }
  snprintf(t, sizeof(t),
           "%zu services &middot; %zu/%zu instances ready &middot; %zu gateway "
           "connections",
           nsvc, ready, n, conns);
  ipc_buf_adds(b, t);
}

/* ---- The page and /status.json ---- */

/* What the marker `<!--muster:NAME-->` of the template stands for. */
static void fill(struct ipc_buf *b, struct gw_req *req, const char *name, size_t len) {
  struct gw_server *pub = req->srv->peer;
  struct sup_service *svc;
  char ts[32];
#define NAMED(s) (len == sizeof(s) - 1 && memcmp(name, s, len) == 0)
  if (NAMED("summary")) {
    render_summary(b, req->srv->host, pub->nconns);
  } else if (NAMED("version")) {
    ipc_buf_adds(b, MUSTER_VERSION);
  } else if (NAMED("time")) {
    sup_log_timestamp(ts, sizeof(ts)); /* "2026-12-01T08:55:57.478Z": the time of day */
    ipc_buf_add(b, ts + 11, 8);
  } else if (NAMED("services")) {
    size_t i = 0;
    for (; (svc = sup_view_service(req->srv->host, i)) != NULL; i++)
      render_service(b, svc, &pub->metrics);
    if (i == 0)
      ipc_buf_adds(b, "<p class=\"none\">no services</p>");
  }
#undef NAMED
}

/* The page: the embedded template with its markers filled. */
static void render_page(struct ipc_buf *b, struct gw_req *req) {
  static const char open[] = "<!--muster:";
  const char *p = gw_status_page, *end = gw_status_page + gw_status_page_len;
  while (p < end) {
    const char *m = memmem(p, (size_t)(end - p), open, sizeof(open) - 1);
    const char *name = m ? m + sizeof(open) - 1 : NULL;
    const char *close = m ? memmem(name, (size_t)(end - name), "-->", 3) : NULL;
    if (close == NULL) {
      ipc_buf_add(b, p, (size_t)(end - p));
      return;
    }
    ipc_buf_add(b, p, (size_t)(m - p));
    fill(b, req, name, (size_t)(close - name));
    p = close + 3;
  }
}

static void reply_page(struct gw_req *req) {
  static const char csp[] = "default-src 'none'; style-src 'unsafe-inline'; script-src "
                            "'unsafe-inline'; connect-src 'self'; img-src data:; base-uri "
                            "'none'; form-action 'none'; frame-ancestors 'none'";
  static const struct ipc_header h[] = {{"content-type", 12, "text/html; charset=utf-8", 24},
                                        {"cache-control", 13, "no-store", 8},
                                        {"content-security-policy", 23, csp, sizeof(csp) - 1},
                                        {"x-content-type-options", 22, "nosniff", 7},
                                        {"referrer-policy", 15, "no-referrer", 11}};
  struct ipc_buf *b = &req->srv->scratch;
  ipc_buf_reset(b);
  render_page(b, req);
  if (b->oom)
    gw_reply_error(req, 500, "out of memory", NULL);
  else
    gw_req_respond(req, 200, h, sizeof(h) / sizeof(h[0]), b->data, b->len);
}

static void reply_json(struct gw_req *req) {
  static const struct ipc_header h[] = {{"content-type", 12, "application/json", 16},
                                        {"cache-control", 13, "no-store", 8}};
  cJSON *o = sup_status_reply(req->srv->host, NULL);
  char *text = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  struct ipc_buf *b = &req->srv->scratch;
  ipc_buf_reset(b);
  if (text) {
    ipc_buf_adds(b, text);
    ipc_buf_addc(b, '\n');
  }
  free(text);
  if (text == NULL || b->oom)
    gw_reply_error(req, 500, "out of memory", NULL);
  else
    gw_req_respond(req, 200, h, 2, b->data, b->len);
}

/* Takes GET and HEAD of / and /status.json; the rest goes on to
 * gw_admin_handler (405, 404). */
static int on_req(const struct gw_handler *h, struct gw_req *req) {
  const char *path;
  size_t plen;
  if (strcmp(req->method, "GET") != 0 && !req->is_head)
    return GW_DECLINED;
  gw_req_target(req, &path, &plen, NULL, NULL);
  if (plen == 1 && path[0] == '/')
    reply_page(req);
  else if (plen == 12 && memcmp(path, "/status.json", 12) == 0)
    reply_json(req);
  else
    return GW_DECLINED;
  return 0;
}

const struct gw_handler gw_status_handler = {.name = "status", .on_req = on_req};
