/* gw_metrics — Prometheus text exposition. See gw_metrics.h. */
#include "gw_metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_node.h"
#include "gw_rt.h"
#include "sup_host.h"
#include "sup_proc.h"
#include "sup_view.h"
#include "util_vec.h"

/* Upper bounds of the latency buckets, seconds (like the Prometheus
 * client libraries' defaults, finer at the fast end). */
static const double bounds[GW_METRICS_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,    0.25,  0.5,    1,     2.5,  10};

void gw_metrics_init(struct gw_metrics *m) {
  memset(m, 0, sizeof(*m));
}

void gw_metrics_free(struct gw_metrics *m) {
  free(m->counts);
  free(m->hists);
  gw_metrics_init(m);
}

/* The counter of (service, code), made when new; NULL on out of memory. */
static struct gw_metric_count *count_of(struct gw_metrics *m, const char *svc, int code) {
  for (size_t i = 0; i < m->ncounts; i++)
    if (m->counts[i].code == code && strcmp(m->counts[i].service, svc) == 0)
      return &m->counts[i];
  if (util_vec_reserve(&m->counts, &m->capcounts, m->ncounts + 1) != 0)
    return NULL;
  struct gw_metric_count *c = &m->counts[m->ncounts++];
  snprintf(c->service, sizeof(c->service), "%s", svc);
  c->code = code;
  c->count = 0;
  return c;
}

/* The histogram of service svc, made when new; NULL on out of memory. */
static struct gw_metric_hist *hist_of(struct gw_metrics *m, const char *svc) {
  for (size_t i = 0; i < m->nhists; i++)
    if (strcmp(m->hists[i].service, svc) == 0)
      return &m->hists[i];
  if (util_vec_reserve(&m->hists, &m->caphists, m->nhists + 1) != 0)
    return NULL;
  struct gw_metric_hist *h = &m->hists[m->nhists++];
  memset(h, 0, sizeof(*h));
  snprintf(h->service, sizeof(h->service), "%s", svc);
  return h;
}

void gw_metrics_record(struct gw_metrics *m, const char *service, int code, double seconds) {
  struct gw_metric_count *c = count_of(m, service ? service : "", code);
  if (c)
    c->count++;
  struct gw_metric_hist *h = service ? hist_of(m, service) : NULL; /* latency: services only */
  if (h != NULL)
    gw_metrics_hist_add(h, seconds);
}

void gw_metrics_hist_add(struct gw_metric_hist *h, double seconds) {
  size_t k = 0;
  while (k < GW_METRICS_BUCKETS && seconds > bounds[k])
    k++;
  h->buckets[k]++; /* per-bucket here; made cumulative when rendered */
  h->sum += seconds;
  h->count++;
}

void gw_metrics_printf(struct ipc_buf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n > 0)
    ipc_buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

#define line gw_metrics_printf /* the short name the renderers below use */

void gw_metrics_counter(struct ipc_buf *b, const char *name, const char *help, uint64_t v) {
  line(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
       (unsigned long long)v);
}

void gw_metrics_hist_render(struct ipc_buf *b, const char *name, const char *service,
                            const struct gw_metric_hist *h) {
  uint64_t cum = 0;
  for (size_t k = 0; k < GW_METRICS_BUCKETS; k++) {
    cum += h->buckets[k];
    line(b, "%s_bucket{service=\"%s\",le=\"%g\"} %llu\n", name, service, bounds[k],
         (unsigned long long)cum);
  }
  line(b, "%s_bucket{service=\"%s\",le=\"+Inf\"} %llu\n", name, service,
       (unsigned long long)h->count);
  line(b, "%s_sum{service=\"%s\"} %.6f\n", name, service, h->sum);
  line(b, "%s_count{service=\"%s\"} %llu\n", name, service, (unsigned long long)h->count);
}

/* The request counters and latency histograms. */
static void render_requests(const struct gw_metrics *m, struct ipc_buf *b) {
  line(b, "# HELP muster_requests_total HTTP requests answered by the gateway.\n"
          "# TYPE muster_requests_total counter\n");
  for (size_t i = 0; i < m->ncounts; i++)
    line(b, "muster_requests_total{service=\"%s\",code=\"%d\"} %llu\n", m->counts[i].service,
         m->counts[i].code, (unsigned long long)m->counts[i].count);
  line(b,
       "# HELP muster_requests_by_version_total HTTP requests answered by the gateway, by "
       "HTTP version.\n# TYPE muster_requests_by_version_total counter\n"
       "muster_requests_by_version_total{version=\"1.0\"} %llu\n"
       "muster_requests_by_version_total{version=\"1.1\"} %llu\n"
       "muster_requests_by_version_total{version=\"2\"} %llu\n",
       (unsigned long long)m->by_version[0], (unsigned long long)m->by_version[1],
       (unsigned long long)m->by_version[2]);
  line(b, "# HELP muster_request_duration_seconds Time from a complete request to the end "
          "of its response.\n# TYPE muster_request_duration_seconds histogram\n");
  for (size_t i = 0; i < m->nhists; i++)
    gw_metrics_hist_render(b, "muster_request_duration_seconds", m->hists[i].service, &m->hists[i]);
}

/* One family of the host's gauges and counters: a line (or lines) per
 * service. */
typedef void (*family_fn)(struct sup_service *svc, const struct sup_service_info *si,
                          struct ipc_buf *b);

static void render_restarts(struct sup_service *svc, const struct sup_service_info *si,
                            struct ipc_buf *b) {
  line(b, "muster_restarts_total{service=\"%s\"} %llu\n", si->name,
       (unsigned long long)si->restarts);
}

/* Instances of svc by state, in the states' order (SPEC §5 names). */
static void render_states(struct sup_service *svc, const struct sup_service_info *si,
                          struct ipc_buf *b) {
  static const char *const states[] = {"starting", "ready",   "draining",
                                       "stopping", "backoff", "exited"};
  struct sup_instance *inst;
  struct sup_instance_info ii;
  for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
    size_t n = 0;
    for (size_t i = 0; (inst = sup_view_instance(svc, i)) != NULL; i++) {
      sup_view_instance_info(inst, &ii);
      n += strcmp(ii.state_name, states[k]) == 0;
    }
    line(b, "muster_instances{service=\"%s\",state=\"%s\"} %zu\n", si->name, states[k], n);
  }
}

static void render_inflight(struct sup_service *svc, const struct sup_service_info *si,
                            struct ipc_buf *b) {
  line(b, "muster_inflight_requests{service=\"%s\"} %u\n", si->name, si->inflight);
}

/* Resident memory of each running instance of svc. */
static void render_rss(struct sup_service *svc, const struct sup_service_info *si,
                       struct ipc_buf *b) {
  struct sup_instance *inst;
  struct sup_instance_info ii;
  for (size_t i = 0; (inst = sup_view_instance(svc, i)) != NULL; i++) {
    sup_view_instance_info(inst, &ii);
    if (ii.pid)
      line(b, "muster_instance_rss_bytes{service=\"%s\",instance=\"%d\"} %llu\n", si->name,
           ii.index, (unsigned long long)sup_proc_rss(ii.pid));
  }
}

/* The families read from the host, each under its HELP and TYPE lines. */
static void render_host(struct sup_host *host, struct ipc_buf *b) {
  static const struct {
    const char *head;
    family_fn fn;
  } fam[] = {{"# HELP muster_restarts_total Instance restarts since muster started.\n"
              "# TYPE muster_restarts_total counter\n",
              render_restarts},
             {"# HELP muster_instances Instances by state.\n# TYPE muster_instances gauge\n",
              render_states},
             {"# HELP muster_inflight_requests Requests being answered by a service.\n"
              "# TYPE muster_inflight_requests gauge\n",
              render_inflight},
             {"# HELP muster_instance_rss_bytes Resident memory of each running instance.\n"
              "# TYPE muster_instance_rss_bytes gauge\n",
              render_rss}};
  struct sup_service *svc;
  struct sup_service_info si;
  for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
    line(b, "%s", fam[f].head);
    for (size_t s = 0; (svc = sup_view_service(host, s)) != NULL; s++) {
      sup_view_service_info(svc, &si);
      fam[f].fn(svc, &si, b);
    }
  }
}

void gw_metrics_render(const struct gw_metrics *m, struct sup_host *host, size_t connections,
                       struct ipc_buf *b) {
  render_requests(m, b);
  render_host(host, b);
  line(b,
       "# HELP muster_gateway_connections Open client connections of the gateway.\n"
       "# TYPE muster_gateway_connections gauge\nmuster_gateway_connections %zu\n",
       connections);
  if (sup_host_cluster(host))
    cl_node_metrics(sup_host_cluster(host), b); /* several hosts: Redis */
}

void gw_metrics_render_rt(const struct gw_rt_stats *st, size_t websockets, size_t sse_holds,
                          uint64_t publications, struct ipc_buf *b) {
  line(b,
       "# HELP muster_realtime_connections Client connections muster holds, by kind.\n"
       "# TYPE muster_realtime_connections gauge\n"
       "muster_realtime_connections{kind=\"websocket\"} %zu\n"
       "muster_realtime_connections{kind=\"sse\"} %zu\n",
       websockets, sse_holds);
  line(b,
       "# HELP muster_realtime_opened_total Connections opened, by kind.\n"
       "# TYPE muster_realtime_opened_total counter\n"
       "muster_realtime_opened_total{kind=\"websocket\"} %llu\n"
       "muster_realtime_opened_total{kind=\"sse\"} %llu\n",
       (unsigned long long)st->ws_opened, (unsigned long long)st->sse_opened);
  line(b,
       "# HELP muster_ws_messages_total WebSocket messages, in from clients and out to them.\n"
       "# TYPE muster_ws_messages_total counter\n"
       "muster_ws_messages_total{direction=\"in\"} %llu\n"
       "muster_ws_messages_total{direction=\"out\"} %llu\n",
       (unsigned long long)st->msgs_in, (unsigned long long)st->msgs_out);
  line(b,
       "# HELP muster_sse_events_total Events written to SSE holds.\n"
       "# TYPE muster_sse_events_total counter\nmuster_sse_events_total %llu\n",
       (unsigned long long)st->sse_events);
  line(b,
       "# HELP muster_slow_consumer_closes_total Clients closed for max_outbound_bytes.\n"
       "# TYPE muster_slow_consumer_closes_total counter\n"
       "muster_slow_consumer_closes_total %llu\n",
       (unsigned long long)st->slow_closes);
  line(b,
       "# HELP muster_publications_total Publications to rooms.\n"
       "# TYPE muster_publications_total counter\nmuster_publications_total %llu\n",
       (unsigned long long)publications);
}
