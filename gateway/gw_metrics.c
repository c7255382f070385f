/* gw_metrics — Prometheus text exposition. See gw_metrics.h. */
#include "gw_metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_host.h"
#include "sup_instance.h"
#include "sup_proc.h"
#include "sup_service.h"

/* Upper bounds of the latency buckets, seconds (like the Prometheus
 * client libraries' defaults, finer at the fast end). */
static const double bounds[GW_METRICS_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                  0.05,   0.1,   0.25,   0.5,   1,    2.5, 10};

void gw_metrics_init(struct gw_metrics *m) {
  memset(m, 0, sizeof(*m));
}

void gw_metrics_free(struct gw_metrics *m) {
  free(m->counts);
  free(m->hists);
  gw_metrics_init(m);
}

void gw_metrics_record(struct gw_metrics *m, const char *service, int code, double seconds) {
  const char *svc = service ? service : "";
  struct gw_metric_count *c = NULL;
  for (size_t i = 0; i < m->ncounts && c == NULL; i++)
    if (m->counts[i].code == code && strcmp(m->counts[i].service, svc) == 0)
      c = &m->counts[i];
  if (c == NULL) {
    if (m->ncounts == m->capcounts) {
      size_t cap = m->capcounts ? m->capcounts * 2 : 16;
      struct gw_metric_count *v = realloc(m->counts, cap * sizeof(*v));
      if (v == NULL)
        return;
      m->counts = v;
      m->capcounts = cap;
    }
    c = &m->counts[m->ncounts++];
    snprintf(c->service, sizeof(c->service), "%s", svc);
    c->code = code;
    c->count = 0;
  }
  c->count++;
  if (service == NULL)
    return; /* latency is about services */
  struct gw_metric_hist *h = NULL;
  for (size_t i = 0; i < m->nhists && h == NULL; i++)
    if (strcmp(m->hists[i].service, svc) == 0)
      h = &m->hists[i];
  if (h == NULL) {
    if (m->nhists == m->caphists) {
      size_t cap = m->caphists ? m->caphists * 2 : 8;
      struct gw_metric_hist *v = realloc(m->hists, cap * sizeof(*v));
      if (v == NULL)
        return;
      m->hists = v;
      m->caphists = cap;
    }
    h = &m->hists[m->nhists++];
    memset(h, 0, sizeof(*h));
    snprintf(h->service, sizeof(h->service), "%s", svc);
  }
  size_t k = 0;
  while (k < GW_METRICS_BUCKETS && seconds > bounds[k])
    k++;
  h->buckets[k]++; /* per-bucket here; made cumulative when rendered */
  h->sum += seconds;
  h->count++;
}

static void line(struct ipc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(struct ipc_buf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n > 0)
    ipc_buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void gw_metrics_render(const struct gw_metrics *m, struct sup_host *host, size_t connections,
                       struct ipc_buf *b) {
  line(b, "# HELP muster_requests_total HTTP requests answered by the gateway.\n"
          "# TYPE muster_requests_total counter\n");
  for (size_t i = 0; i < m->ncounts; i++)
    line(b, "muster_requests_total{service=\"%s\",code=\"%d\"} %llu\n", m->counts[i].service,
         m->counts[i].code, (unsigned long long)m->counts[i].count);
  line(b, "# HELP muster_request_duration_seconds Time from a complete request to the end "
          "of its response.\n# TYPE muster_request_duration_seconds histogram\n");
  for (size_t i = 0; i < m->nhists; i++) {
    const struct gw_metric_hist *h = &m->hists[i];
    uint64_t cum = 0;
    for (size_t k = 0; k < GW_METRICS_BUCKETS; k++) {
      cum += h->buckets[k];
      line(b, "muster_request_duration_seconds_bucket{service=\"%s\",le=\"%g\"} %llu\n",
           h->service, bounds[k], (unsigned long long)cum);
    }
    line(b, "muster_request_duration_seconds_bucket{service=\"%s\",le=\"+Inf\"} %llu\n",
         h->service, (unsigned long long)h->count);
    line(b, "muster_request_duration_seconds_sum{service=\"%s\"} %.6f\n", h->service, h->sum);
    line(b, "muster_request_duration_seconds_count{service=\"%s\"} %llu\n", h->service,
         (unsigned long long)h->count);
  }
  line(b, "# HELP muster_restarts_total Instance restarts since muster started.\n"
          "# TYPE muster_restarts_total counter\n");
  for (size_t s = 0; s < host->nsvcs; s++)
    line(b, "muster_restarts_total{service=\"%s\"} %llu\n", host->svcs[s]->cfg->name,
         (unsigned long long)host->svcs[s]->restarts_total);
  line(b, "# HELP muster_instances Instances by state.\n# TYPE muster_instances gauge\n");
  for (size_t s = 0; s < host->nsvcs; s++) {
    struct sup_service *svc = host->svcs[s];
    static const enum sup_istate states[] = {SUP_I_STARTING, SUP_I_READY, SUP_I_DRAINING,
                                             SUP_I_STOPPING, SUP_I_BACKOFF, SUP_I_EXITED};
    for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
      size_t n = 0;
      for (size_t i = 0; i < svc->ninst; i++)
        n += svc->inst[i]->state == states[k];
      line(b, "muster_instances{service=\"%s\",state=\"%s\"} %zu\n", svc->cfg->name,
           sup_istate_name(states[k]), n);
    }
  }
  line(b, "# HELP muster_inflight_requests Requests being answered by a service.\n"
          "# TYPE muster_inflight_requests gauge\n");
  for (size_t s = 0; s < host->nsvcs; s++) {
    unsigned n = 0;
    for (size_t i = 0; i < host->svcs[s]->ninst; i++)
      n += host->svcs[s]->inst[i]->inflight;
    line(b, "muster_inflight_requests{service=\"%s\"} %u\n", host->svcs[s]->cfg->name, n);
  }
  line(b, "# HELP muster_instance_rss_bytes Resident memory of each running instance.\n"
          "# TYPE muster_instance_rss_bytes gauge\n");
  for (size_t s = 0; s < host->nsvcs; s++) {
    struct sup_service *svc = host->svcs[s];
    for (size_t i = 0; i < svc->ninst; i++) {
      pid_t pid = sup_instance_pid(svc->inst[i]);
      if (pid)
        line(b, "muster_instance_rss_bytes{service=\"%s\",instance=\"%d\"} %llu\n",
             svc->cfg->name, svc->inst[i]->index, (unsigned long long)sup_proc_rss(pid));
    }
  }
  line(b, "# HELP muster_gateway_connections Open client connections of the gateway.\n"
          "# TYPE muster_gateway_connections gauge\nmuster_gateway_connections %zu\n",
       connections);
}
