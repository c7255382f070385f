/* gw_ratelimit — gateway.rate_limit: each client (gw_req_client: its
 * address, behind trusted proxies the one they name) may send `burst`
 * requests at once and `rate` a second after that; one more is answered
 * 429 with retry-after, the connection kept (nginx's limit_req with
 * burst and nodelay, and limit_req_status 429). The buckets are gw_bucket's.
 *
 * The handler comes right after the health handler (probes are never
 * limited) and before every other: each request counts once, at its head
 * (rl_checked), whichever handler then takes it; a refused one is read
 * whole (its body within max_body_bytes) and answered. Clients in
 * `exempt` are never limited. */
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "sup_log.h"

int gw_ratelimit_configure(struct gw_server *srv) {
  const struct cfg_rate_limit *r = &srv->cfg->rate_limit;
  struct gw_buckets *b = &srv->buckets;
  size_t want = r->enabled ? ((size_t)r->max_clients + GW_BUCKET_WAYS - 1) / GW_BUCKET_WAYS : 0;
  if (!r->enabled || (b->slots && b->nsets != (want ? want : 1)))
    gw_buckets_free(b);
  if (!r->enabled)
    return 0;
  if (b->slots) { /* the same table: its clients keep their buckets */
    gw_buckets_set(b, r->rate, r->burst);
    return 0;
  }
  if (gw_buckets_init(b, (size_t)r->max_clients, r->rate, r->burst, srv->reqid_base) != 0) {
    sup_log(SUP_ERROR, "gateway: out of memory for rate_limit's %d clients; not limiting",
            r->max_clients);
    return UV_ENOMEM;
  }
  return 0;
}

/* 1 when req is over its client's limit (counted once per request). */
static int refused(struct gw_req *req) {
  struct gw_server *srv = req->srv;
  const struct cfg_rate_limit *r = &srv->cfg->rate_limit;
  struct util_ip ip;
  uint64_t retry_ms = 0;
  if (req->rl_checked || !r->enabled || srv->buckets.slots == NULL)
    return req->rl_refused; /* 0 when off */
  req->rl_checked = 1;
  const char *client = gw_req_client(req);
  if (util_ip_parse(client, strlen(client), &ip) != 0 || util_cidr_any(r->exempt, r->nexempt, &ip))
    return 0;
  if (gw_buckets_take(&srv->buckets, &ip, uv_now(srv->loop), &retry_ms))
    return 0;
  req->rl_refused = 1;
  req->rl_retry_s = (uint32_t)((retry_ms + 999) / 1000);
  srv->rate_limited++;
  return 1;
}

static int on_head(const struct gw_handler *h, struct gw_req *req) {
  return refused(req) ? GW_LATER : GW_DECLINED;
}

static int on_req(const struct gw_handler *h, struct gw_req *req) {
  if (!refused(req))
    return GW_DECLINED;
  const struct cfg_rate_limit *r = &req->srv->cfg->rate_limit;
  char msg[160], secs[16];
  int n = snprintf(secs, sizeof(secs), "%u", (unsigned)req->rl_retry_s);
  struct ipc_header retry = {"retry-after", 11, secs, (size_t)n};
  snprintf(msg, sizeof(msg), "too many requests from %s: over %g a second (burst %d)",
           gw_req_client(req), r->rate, r->burst);
  gw_reply_error(req, 429, msg, &retry);
  return 0;
}

const struct gw_handler gw_ratelimit_handler = {
    .name = "rate_limit", .on_req = on_req, .on_head = on_head};

void gw_ratelimit_render_metrics(const struct gw_server *srv, struct ipc_buf *b) {
  gw_metrics_counter(b, "muster_gateway_rate_limited_total",
                     "Requests answered 429: their client was over gateway.rate_limit.",
                     srv->rate_limited);
  gw_metrics_counter(b, "muster_gateway_rate_limit_evictions_total",
                     "Clients whose bucket was given to another (rate_limit.max_clients full).",
                     srv->buckets.evicted);
}
