/* gw_metrics — request counters and latency histograms of the gateway,
 * rendered with the host's state as Prometheus text (SPEC §2 admin). */
#ifndef MUSTER_GW_METRICS_H
#define MUSTER_GW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "ipc_buf.h"

struct sup_host;

#define GW_METRICS_BUCKETS 13 /* + the implicit +Inf */

/* Requests of one service (or "" for unrouted) with one status code. */
struct gw_metric_count {
  char service[65];
  int code;
  uint64_t count;
};

/* The latency histogram of one service. */
struct gw_metric_hist {
  char service[65];
  uint64_t buckets[GW_METRICS_BUCKETS + 1]; /* cumulative at render time; last = +Inf */
  double sum;                               /* seconds */
  uint64_t count;
};

struct gw_metrics {
  struct gw_metric_count *counts; /* owned */
  size_t ncounts, capcounts;
  struct gw_metric_hist *hists; /* owned */
  size_t nhists, caphists;
  uint64_t by_version[3]; /* requests answered over HTTP/1.0, 1.1, 2 */
};

void gw_metrics_init(struct gw_metrics *m);
void gw_metrics_free(struct gw_metrics *m);
/* Counts one finished request. service may be NULL (not routed). */
void gw_metrics_record(struct gw_metrics *m, const char *service, int code, double seconds);
struct gw_rt_stats;

/* Appends the real-time families: connections by kind, messages in and
 * out, slow-consumer closes, publications. */
void gw_metrics_render_rt(const struct gw_rt_stats *st, size_t websockets, size_t sse_holds,
                          uint64_t publications, struct ipc_buf *b);

/* Adds one observation (seconds) to h. */
void gw_metrics_hist_add(struct gw_metric_hist *h, double seconds);
/* Appends h as the _bucket, _sum and _count lines of histogram `name`
 * with the label service="service". */
void gw_metrics_hist_render(struct ipc_buf *b, const char *name, const char *service,
                            const struct gw_metric_hist *h);
/* Appends one formatted line (or lines) to b: at most 511 bytes. */
void gw_metrics_printf(struct ipc_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends a counter family of one value: its HELP, TYPE and sample lines. */
void gw_metrics_counter(struct ipc_buf *b, const char *name, const char *help, uint64_t v);
/* Appends the Prometheus exposition of m and of host's state to b. */
void gw_metrics_render(const struct gw_metrics *m, struct sup_host *host, size_t connections,
                       struct ipc_buf *b);

#endif
