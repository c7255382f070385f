/* gw_admin — the admin handler (SPEC §2 `admin`): /metrics in Prometheus
 * text format and /events as Server-Sent Events of the host's events; the
 * admin listener runs gw_healthz_handler and gw_status_handler (/,
 * /status.json) before this one. It runs on its own port, never on the
 * public one, and is read-only. */
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "gw_tls.h"
#include "ipc_text.h"
#include "sup_host.h"
#include "sup_log.h"

#define EVENTS_MAX_QUEUED ((size_t)8 << 20) /* a reader that stopped reading */

/* ---- /events ---- */

/* One host event as an SSE message: "event: T\ndata: {...}\n\n". */
static void event_text(struct ipc_buf *b, const struct sup_event *ev) {
  char ts[32];
  sup_log_timestamp(ts, sizeof(ts));
  ipc_buf_adds(b, "event: ");
  ipc_buf_adds(b, ev->type);
  ipc_buf_adds(b, "\ndata: {\"time\":\"");
  ipc_buf_adds(b, ts);
  ipc_buf_adds(b, "\",\"type\":");
  ipc_json_str(b, ev->type, strlen(ev->type));
  ipc_buf_adds(b, ",\"service\":");
  if (ev->service)
    ipc_json_str(b, ev->service, strlen(ev->service));
  else
    ipc_buf_adds(b, "null");
  ipc_buf_adds(b, ",\"index\":");
  ipc_buf_addi(b, ev->index);
  ipc_buf_adds(b, ",\"pid\":");
  ipc_buf_addi(b, ev->pid);
  ipc_buf_adds(b, ",\"code\":");
  ipc_buf_addi(b, ev->code);
  ipc_buf_adds(b, ",\"signal\":");
  ipc_buf_addi(b, ev->signal);
  ipc_buf_adds(b, ",\"detail\":");
  ipc_json_str(b, ev->detail ? ev->detail : "", ev->detail ? strlen(ev->detail) : 0);
  ipc_buf_adds(b, "}\n\n");
}

static void on_event(void *ctx, const struct sup_event *ev) {
  struct gw_req *req = ctx;
  struct ipc_buf b;
  ipc_buf_init(&b);
  event_text(&b, ev);
  if (!b.oom)
    gw_req_send(req, b.data, b.len);
  ipc_buf_free(&b);
  if (gw_req_queued(req) > EVENTS_MAX_QUEUED)
    gw_req_abort(req, 0);
}

static void events_abandon(struct gw_req *req) {
  if (req->u.events) {
    req->u.events = 0;
    sup_host_remove_listener(req->srv->host, on_event, req);
  }
}

static const struct gw_gen events_gen = {.abandon = events_abandon};

static void start_events(struct gw_req *req) {
  static const struct ipc_header h[] = {{"content-type", 12, "text/event-stream", 17},
                                        {"cache-control", 13, "no-cache", 8}};
  req->keepalive = 0; /* the stream lasts as long as the connection */
  gw_req_start(req, 200, h, 2);
  if (req->is_head) { /* the head only: no stream */
    gw_req_finish(req);
    return;
  }
  req->gen = &events_gen;
  req->u.events = 1;
  sup_host_add_listener(req->srv->host, on_event, req);
  gw_req_send(req, ": connected\n\n", 13); /* so a client knows the stream is live */
}

/* ---- /metrics and the rest ---- */

static void reply_metrics(struct gw_req *req) {
  struct ipc_buf b;
  struct gw_server *pub = req->srv->peer;
  ipc_buf_init(&b);
  gw_metrics_render(&pub->metrics, req->srv->host, pub->nconns, &b);
  gw_metrics_render_rt(&pub->rt, gw_ws_count(pub, NULL), pub->sse_holds,
                       sup_host_rooms(req->srv->host)->published, &b);
  gw_svcs_render_metrics(pub, &b); /* the queue, retries and quarantine */
  gw_up_render_metrics(pub, &b);
  gw_tls_render_metrics(pub->tls, &b); /* handshakes by version and outcome */
  gw_h2_render_metrics(pub, &b);
  gw_ratelimit_render_metrics(pub, &b);
  if (b.oom)
    gw_reply_error(req, 500, "out of memory", NULL);
  else
    gw_reply(req, 200, "text/plain; version=0.0.4", b.data, b.len, NULL, 0);
  ipc_buf_free(&b);
}

static int on_req(const struct gw_handler *h, struct gw_req *req) {
  static const struct ipc_header allow = {"allow", 5, "GET, HEAD", 9};
  const char *path;
  size_t plen;
  gw_req_target(req, &path, &plen, NULL, NULL);
#define IS(p) (plen == sizeof(p) - 1 && !memcmp(path, p, plen))
  if (strcmp(req->method, "GET") != 0 && !req->is_head)
    gw_reply_error(req, 405, "the admin endpoints are read-only: use GET", &allow);
  else if (IS("/metrics"))
    reply_metrics(req);
  else if (IS("/events"))
    start_events(req);
  else
    gw_reply_error(req, 404,
                   "admin endpoints: /, /status.json, /healthz, /livez, /readyz, /metrics, /events",
                   NULL);
#undef IS
  return 0;
}

const struct gw_handler gw_admin_handler = {.name = "admin", .on_req = on_req};
