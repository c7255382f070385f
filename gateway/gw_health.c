/* gw_health — health for people and load balancers (SPEC §4 health_path,
 * §10), on the gateway and the admin listener alike:
 *   /livez    200 while the loop runs (answering is the proof);
 *   /readyz   200 {"status":"ok"} when every service has a ready instance
 *             (a one-shot job: has completed; those with autostart false
 *             aside) and the host is not draining, else 503 with each
 *             service's state; the health path (/healthz) is the same. */
#include <string.h>

#include "gw.h"
#include "ipc_text.h"
#include "sup_view.h"

/* The body into b; returns 1 when every service has a ready instance, or
 * is a one-shot job that completed, those with "autostart": false aside
 * (started by hand, they are jobs, not what a balancer waits for). */
static int health_body(struct sup_host *host, struct ipc_buf *b) {
  struct sup_service *svc;
  struct sup_service_info si;
  int ok = 1;
  ipc_buf_reset(b);
  ipc_buf_adds(b, "{\"services\":{");
  for (size_t i = 0; (svc = sup_view_service(host, i)) != NULL; i++) {
    sup_view_service_info(svc, &si);
    ok &= si.ready > 0 || si.completed || sup_view_service_cfg(svc)->no_autostart;
    if (i)
      ipc_buf_addc(b, ',');
    ipc_json_str(b, si.name, strlen(si.name));
    ipc_buf_addc(b, ':');
    ipc_json_str(b, si.state_name, strlen(si.state_name));
  }
  /* A 503 is an error like any other: it carries "error" (SPEC §4). */
  if (ok && sup_view_draining(host))
    ipc_buf_adds(b, "},\"status\":\"draining\",\"error\":\"muster is draining\"}\n");
  else
    ipc_buf_adds(b, ok ? "},\"status\":\"ok\"}\n"
                       : "},\"status\":\"unavailable\",\"error\":\"not every service has "
                         "a ready instance\"}\n");
  return ok && !sup_view_draining(host);
}

static int is_path(const char *path, size_t plen, const char *want) {
  return plen == strlen(want) && memcmp(path, want, plen) == 0;
}

/* 1 when req is a GET or HEAD of /livez, /readyz or this handler's path. */
static int is_health(const struct gw_handler *h, struct gw_req *req) {
  const char *path, *want = h->arg ? h->arg : req->srv->cfg->health_path;
  size_t plen;
  gw_req_target(req, &path, &plen, NULL, NULL);
  return (strcmp(req->method, "GET") == 0 || req->is_head) &&
         (is_path(path, plen, want) || is_path(path, plen, "/livez") ||
          is_path(path, plen, "/readyz"));
}

/* At its head, a health path is kept for on_req: no route takes it. */
static int on_head(const struct gw_handler *h, struct gw_req *req) {
  return is_health(h, req) ? GW_LATER : GW_DECLINED;
}

static int on_req(const struct gw_handler *h, struct gw_req *req) {
  if (!is_health(h, req))
    return GW_DECLINED;
  const char *path;
  size_t plen;
  gw_req_target(req, &path, &plen, NULL, NULL);
  if (is_path(path, plen, "/livez")) {
    static const char live[] = "{\"status\":\"live\"}\n";
    gw_reply(req, 200, "application/json", live, sizeof(live) - 1, NULL, 0);
    return 0;
  }
  struct ipc_buf *b = &req->srv->scratch;
  int ok = health_body(req->srv->host, b);
  if (b->oom)
    gw_reply_error(req, 500, "out of memory", NULL);
  else
    gw_reply(req, ok ? 200 : 503, "application/json", b->data, b->len, ok ? NULL : &gw_retry_after,
             ok ? 0 : 1);
  return 0;
}

const struct gw_handler gw_health_handler = {
    .name = "health", .on_req = on_req, .on_head = on_head};
const struct gw_handler gw_healthz_handler = {
    .name = "healthz", .on_req = on_req, .arg = "/healthz"};
