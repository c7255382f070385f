/* gw_admin — the admin listener (SPEC §2 `admin`): /healthz, /metrics in
 * Prometheus text format, /events as Server-Sent Events of the host's
 * events. It runs the gateway's HTTP code on its own port, never on the
 * public one. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "gw.h"
#include "ipc_text.h"
#include "sup_host.h"
#include "sup_log.h"

/* One host event as an SSE message in a chunk: "event: T\ndata: {...}\n\n". */
static void on_event(void *ctx, const struct sup_event *ev) {
  struct gw_conn *c = ctx;
  char ts[32], size[24];
  struct ipc_buf b;
  ipc_buf_init(&b);
  sup_log_timestamp(ts, sizeof(ts));
  ipc_buf_adds(&b, "event: ");
  ipc_buf_adds(&b, ev->type);
  ipc_buf_adds(&b, "\ndata: {\"time\":\"");
  ipc_buf_adds(&b, ts);
  ipc_buf_adds(&b, "\",\"type\":");
  ipc_json_str(&b, ev->type, strlen(ev->type));
  ipc_buf_adds(&b, ",\"service\":");
  if (ev->service)
    ipc_json_str(&b, ev->service, strlen(ev->service));
  else
    ipc_buf_adds(&b, "null");
  ipc_buf_adds(&b, ",\"index\":");
  ipc_buf_addi(&b, ev->index);
  ipc_buf_adds(&b, ",\"pid\":");
  ipc_buf_addi(&b, ev->pid);
  ipc_buf_adds(&b, ",\"code\":");
  ipc_buf_addi(&b, ev->code);
  ipc_buf_adds(&b, ",\"signal\":");
  ipc_buf_addi(&b, ev->signal);
  ipc_buf_adds(&b, ",\"detail\":");
  ipc_json_str(&b, ev->detail ? ev->detail : "", ev->detail ? strlen(ev->detail) : 0);
  ipc_buf_adds(&b, "}\n\n");
  if (!b.oom) {
    int n = snprintf(size, sizeof(size), "%zx\r\n", b.len);
    uv_buf_t v[3] = {uv_buf_init(size, (unsigned)n), uv_buf_init(b.data, (unsigned)b.len),
                     uv_buf_init("\r\n", 2)};
    gw_conn_writev(c, v, 3);
  }
  ipc_buf_free(&b);
  if (c->wq.len > ((size_t)8 << 20)) /* a reader that stopped reading */
    gw_conn_close(c, 0);
}

void gw_admin_events_end(struct gw_conn *c) {
  if (c->sse) {
    c->sse = 0;
    sup_host_remove_listener(c->srv->host, on_event, c);
  }
}

static void start_events(struct gw_conn *c) {
  char head[256];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                   "cache-control: no-cache\r\ntransfer-encoding: chunked\r\n"
                   "x-request-id: %s\r\nconnection: close\r\n\r\n",
                   c->reqid);
  uv_buf_t b = uv_buf_init(head, (unsigned)n);
  c->status = 200;
  c->head_sent = 1;
  c->keepalive = 0;
  gw_conn_writev(c, &b, 1);
  if (c->is_head) { /* the head only: no stream */
    gw_conn_done(c);
    return;
  }
  c->sse = 1;
  sup_host_add_listener(c->srv->host, on_event, c);
  /* A first comment, so a client knows the stream is live at once. */
  static const char hello[] = "d\r\n: connected\n\n\r\n"; /* 13 bytes of body */
  uv_buf_t h = uv_buf_init((char *)hello, sizeof(hello) - 1);
  gw_conn_writev(c, &h, 1);
}

static void reply_metrics(struct gw_conn *c) {
  struct ipc_buf b;
  struct gw_server *pub = c->srv->peer;
  ipc_buf_init(&b);
  gw_metrics_render(&pub->metrics, c->srv->host, pub->nconns, &b);
  if (b.oom)
    gw_reply_error(c, 500, "out of memory", NULL);
  else
    gw_reply_type(c, 200, "text/plain; version=0.0.4", b.data, b.len, NULL);
  ipc_buf_free(&b);
  gw_conn_done(c);
}

void gw_admin_dispatch(struct gw_conn *c) {
  const char *path;
  size_t plen;
  snprintf(c->reqid, sizeof(c->reqid), "admin-%llx", (unsigned long long)++c->srv->next_id);
  gw_conn_target(c, &path, &plen, NULL, NULL);
  int get = !strcmp(c->method, "GET") || c->is_head;
#define IS(p) (plen == sizeof(p) - 1 && !memcmp(path, p, plen))
  if (!get) {
    gw_reply_error(c, 405, "the admin endpoints are read-only: use GET", "allow: GET, HEAD\r\n");
    gw_conn_done(c);
  } else if (IS("/healthz")) {
    gw_proxy_health(c);
  } else if (IS("/metrics")) {
    reply_metrics(c);
  } else if (IS("/events")) {
    start_events(c);
  } else {
    gw_reply_error(c, 404, "admin endpoints: /healthz, /metrics, /events", NULL);
    gw_conn_done(c);
  }
#undef IS
}
