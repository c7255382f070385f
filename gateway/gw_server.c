/* gw_server — listener and supervisor hooks of the gateway. See gw_server.h. */
#include "gw_server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"
#include "gw_listen.h"
#include "gw_tcp.h"
#include "gw_tls.h"
#include "gw_up_pool.h"
#include "sup_host.h"
#include "sup_log.h"
#include "sup_view.h"

/* The handlers of each listener, asked in order. */
static const struct gw_handler *const gateway_handlers[] = {&gw_health_handler,
                                                            &gw_ratelimit_handler,
                                                            &gw_https_handler,
                                                            &gw_static_handler,
                                                            &gw_up_handler,
                                                            &gw_proxy_handler,
                                                            NULL};
static const struct gw_handler *const admin_handlers[] = {&gw_healthz_handler, &gw_status_handler,
                                                          &gw_admin_handler, NULL};

/* The route table of the live services: each route leads to its
 * service's gw_svc (a service without one, out of memory, gets no route).
 * Returns 0 or UV_ENOMEM. */
static int build_routes(struct gw_routes *r, struct gw_server *srv) {
  struct sup_service *svc;
  struct gw_svc *gs;
  size_t n = 0;
  while (sup_view_service(srv->host, n))
    n++;
  struct gw_route_src *src = calloc(n ? n : 1, sizeof(*src));
  if (src == NULL)
    return UV_ENOMEM;
  size_t k = 0;
  for (size_t i = 0; (svc = sup_view_service(srv->host, i)) != NULL; i++)
    if ((gs = gw_svcs_find(srv, svc)) != NULL)
      src[k++] = (struct gw_route_src){sup_view_service_cfg(svc)->routes,
                                       sup_view_service_cfg(svc)->nroutes, gs};
  int rc = gw_routes_build(r, src, k);
  free(src);
  return rc;
}

/* The route table of static[]: each route leads to its cfg_static
 * (borrowed from the config the table is built from). */
static int build_statics(struct gw_routes *r, const struct cfg *cfg) {
  struct gw_route_src *src = calloc(cfg->nstatics ? cfg->nstatics : 1, sizeof(*src));
  if (src == NULL)
    return UV_ENOMEM;
  for (size_t i = 0; i < cfg->nstatics; i++)
    src[i] = (struct gw_route_src){&cfg->statics[i].route, 1, &cfg->statics[i]};
  int rc = gw_routes_build(r, src, cfg->nstatics);
  free(src);
  return rc;
}

static void on_connection(uv_stream_t *l, int status) {
  struct gw_server *srv = l->data;
  if (status < 0) {
    sup_log(SUP_WARN, "gateway: accept failed: %s", uv_strerror(status));
    return;
  }
  gw_conn_accept(srv, l, NULL);
}

/* ---- Hooks from the supervisor ---- */

static void hook_instance_msg(void *ctx, struct sup_instance *inst, const struct ipc_msg *m) {
  gw_proxy_instance_msg(ctx, inst, m);
}

static void hook_instance_gone(void *ctx, struct sup_instance *inst) {
  struct gw_server *srv = ctx;
  gw_proxy_instance_gone(srv, inst);
  gw_up_instance_gone(srv, inst);
  gw_tcp_instance_gone(srv->tcp, inst);
}

/* Instances that start or stop taking work: WebSocket connections follow
 * them (rebound when theirs leaves, held ones bound when one is ready),
 * and requests waiting for an instance go to a ready one. */
static void hook_instance_routable(void *ctx, struct sup_instance *inst, int routable) {
  if (routable) {
    gw_ws_instance_ready(ctx, inst);
    gw_svc_instance_ready(ctx, inst);
  } else {
    gw_ws_instance_left(ctx, inst);
  }
}

static void hook_service_reset(void *ctx, struct sup_service *svc) {
  gw_svc_reset(ctx, svc);
}

static void hook_service_status(void *ctx, const struct sup_service *svc, struct ipc_buf *b) {
  gw_svc_status(ctx, svc, b);
}

static void on_listener_closed(uv_handle_t *h) {
  (void)h;
}

/* Listens on srv->addr. Returns 0 or < 0 (nothing is left open). */
static int listen_start(struct gw_server *srv) {
  int rc;
  srv->listener = gw_listen_open(srv->loop, sup_host_listen_fds(srv->host), &srv->addr,
                                 on_connection, srv, &rc);
  srv->listening = srv->listener != NULL;
  return rc;
}

/* Stops accepting on the plain listener (connections already open go on). */
static void plain_stop(struct gw_server *srv) {
  if (srv->listening) {
    srv->listening = 0;
    gw_listen_close(srv->listener);
    srv->listener = NULL;
  }
}

/* Stops accepting, TLS too (connections already open go on). */
static void listen_stop(struct gw_server *srv) {
  gw_tls_unlisten(srv->tls);
  plain_stop(srv);
}

/* 1 when a and b are the same address and port. */
static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family)
    return 0;
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
  }
  const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
  return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

/* A reload gave srv a new address l: it listens there from now on, or,
 * when it cannot, stays where it was (logged). Connections already open
 * go on either way. While draining it only notes the address (the undrain
 * listens there); once stopping, nothing. */
static void relisten(struct gw_server *srv, const struct cfg_listen *l) {
  struct sockaddr_storage old = srv->addr, next;
  int rc = gw_listen_addr(l->host, l->port, l->ipv6, &next);
  if (rc != 0 || same_addr(&old, &next) || srv->stopping)
    return;
  srv->addr = next;
  if (!srv->listening && srv->draining) {
    sup_log(SUP_INFO, "%s: listens on %s:%d once the drain ends", srv->what, l->host, l->port);
    return;
  }
  plain_stop(srv);
  if ((rc = listen_start(srv)) == 0) {
    sup_log(SUP_INFO, "%s: listening on %s%s%s:%d (moved by the reload)", srv->what,
            l->ipv6 ? "[" : "", l->host, l->ipv6 ? "]" : "", l->port);
    return;
  }
  sup_log(SUP_ERROR, "%s: listen on %s:%d failed: %s; staying where it was", srv->what, l->host,
          l->port, uv_err_name(rc));
  srv->addr = old;
  if (listen_start(srv) != 0)
    sup_log(SUP_ERROR, "%s: cannot listen where it was either; not accepting", srv->what);
}

/* A drain's phases (SPEC §10): answers carry connection: close; then the
 * gateway stops accepting and WebSocket clients get 1001; undrain
 * listens again. */
static void hook_drain(void *ctx, int phase) {
  struct gw_server *srv = ctx;
  if (phase == SUP_DRAIN_BEGIN) {
    srv->draining = 1;
  } else if (phase == SUP_DRAIN_CLOSE) {
    listen_stop(srv);
    gw_ws_close_all(srv, 1001, "muster is draining");
  } else if (phase == SUP_DRAIN_END) {
    srv->draining = 0;
    if (!srv->listening && listen_start(srv) != 0) {
      sup_log(SUP_ERROR, "gateway: cannot listen again after the drain");
      listen_stop(srv);
    } else if (gw_tls_listen(srv->tls) != 0) {
      sup_log(SUP_ERROR, "gateway: cannot listen for TLS again after the drain");
      gw_tls_unlisten(srv->tls);
    }
  }
}

/* Shutdown began: stop accepting; idle connections go now, busy ones
 * after their response (keep-alive is off from here on). */
static void hook_stopping(void *ctx) {
  struct gw_server *srv = ctx;
  srv->stopping = 1;
  listen_stop(srv);
  gw_tcp_stop(srv->tcp, 0); /* its connections end with their instances */
  struct gw_conn *c, *next;
  for (c = LIST_FIRST(&srv->conns); c; c = next) {
    next = LIST_NEXT(c, link);
    c->proto->stopping(c);
  }
  gw_svcs_flush_all(srv); /* no instance is coming: what waits gets its 503 (and a close) */
}

/* Every service is stopped: close what is left. Responses still being
 * written go out first (bounded by the linger timeout): the loop, and so
 * muster, ends when they are out. */
static void hook_finished(void *ctx) {
  struct gw_server *srv = ctx;
  hook_stopping(srv);
  struct gw_conn *c, *next;
  for (c = LIST_FIRST(&srv->conns); c; c = next) {
    next = LIST_NEXT(c, link);
    gw_conn_close(c, 1);
  }
  gw_expire_close(srv);
  gw_up_pools_close(srv);
  gw_tcp_stop(srv->tcp, 1);
  gw_conn_flush_all(srv);
  uv_close((uv_handle_t *)&srv->flush, on_listener_closed);
  gw_up_flush_all(srv);
  uv_close((uv_handle_t *)&srv->up_flush, on_listener_closed);
  gw_access_close(&srv->access);
}

/* A reload, before any of it applies: the TLS certificates are read
 * again; when they do not load, the reload fails. */
static int hook_reload_check(void *ctx, const struct cfg *nc, struct cfg_errors *errs) {
  struct gw_server *srv = ctx;
  return gw_tls_reload_prepare(srv, nc, errs);
}

/* A reload: new routes and settings (the listen address needs a restart). */
static void hook_reloaded(void *ctx) {
  struct gw_server *srv = ctx;
  const struct cfg *cfg = sup_view_cfg(srv->host);
  struct gw_routes routes = {0}, statics = {0};
  relisten(srv, &cfg->gateway.listen);
  srv->cfg = &cfg->gateway;
  gw_https_configure(srv);
  gw_ratelimit_configure(srv);
  gw_tls_reload_commit(srv->tls, cfg);
  gw_access_repath(&srv->access, srv->loop, cfg->gateway.access_log);
  if (gw_svcs_add(srv) != 0)
    sup_log(SUP_ERROR, "gateway: out of memory for a new service's queue; it gets no route");
  if (srv->tcp && gw_tcp_reload(srv->tcp, cfg) != 0)
    sup_log(SUP_ERROR, "gateway: out of memory applying tcp routes; keeping the old ones");
  if (build_routes(&routes, srv) != 0 || build_statics(&statics, cfg) != 0) {
    gw_routes_free(&routes);
    sup_log(SUP_ERROR, "gateway: out of memory rebuilding routes; keeping the old ones");
    return;
  }
  gw_routes_free(&srv->routes);
  srv->routes = routes;
  gw_routes_free(&srv->statics);
  srv->statics = statics;
  gw_svcs_drop_removed(srv); /* no route leads there now; what waits there: 503 */
  gw_svcs_dispatch_all(srv); /* max_inflight may have grown */
}

/* A reload added the admin section (or gave it back): listen on l. When
 * the address cannot be taken, admin stays off until a later reload. */
static void admin_on(struct gw_server *srv, const struct cfg_listen *l) {
  if (srv->stopping)
    return; /* shutting down: nothing listens again */
  int rc = gw_listen_addr(l->host, l->port, l->ipv6, &srv->addr);
  if (rc == 0)
    rc = listen_start(srv);
  if (rc != 0) {
    sup_log(SUP_ERROR, "admin: listen on %s:%d failed: %s; the next reload tries again", l->host,
            l->port, uv_err_name(rc));
    return;
  }
  srv->off = 0;
  sup_log(SUP_INFO, "admin: listening on %s%s%s:%d (added by the reload)", l->ipv6 ? "[" : "",
          l->host, l->ipv6 ? "]" : "", l->port);
}

/* A reload removed the admin section: no more connections are accepted;
 * those open (an /events stream) go on. */
static void admin_off(struct gw_server *srv) {
  char ip[64];
  if (srv->off)
    return;
  srv->off = 1;
  plain_stop(srv);
  gw_addr_text(&srv->addr, ip, sizeof(ip));
  int v6 = srv->addr.ss_family == AF_INET6;
  unsigned port = ntohs(v6 ? ((const struct sockaddr_in6 *)&srv->addr)->sin6_port
                           : ((const struct sockaddr_in *)&srv->addr)->sin_port);
  sup_log(SUP_INFO,
          "admin: listener on %s%s%s:%u closed by the reload (connections open on it "
          "go on)",
          v6 ? "[" : "", ip, v6 ? "]" : "", port);
}

/* A reload: the admin listener follows the settings pointer, its address,
 * and the section's coming and going, as nginx's reload would. */
static void hook_reloaded_admin(void *ctx) {
  struct gw_server *srv = ctx;
  const struct cfg *cfg = sup_view_cfg(srv->host);
  srv->cfg = &cfg->gateway;
  if (!cfg->admin.enabled)
    admin_off(srv);
  else if (srv->off)
    admin_on(srv, &cfg->admin.listen);
  else
    relisten(srv, &cfg->admin.listen);
}

static void hook_reopen(void *ctx) {
  gw_access_reopen(&((struct gw_server *)ctx)->access);
}

/* ---- Life cycle ---- */

/* Allocates a server listening on l (NULL: not listening, admin off).
 * NULL with a message logged. */
static struct gw_server *server_new(struct sup_host *host, const struct cfg_listen *l,
                                    const char *what) {
  int rc;
  struct gw_server *srv = calloc(1, sizeof(*srv));
  if (srv == NULL)
    return NULL;
  srv->host = host;
  srv->loop = sup_host_loop(host);
  srv->cfg = &sup_view_cfg(host)->gateway;
  srv->what = what;
  srv->reqid_base = ((uint64_t)time(NULL) << 32) ^ ((uint64_t)getpid() << 48);
  LIST_INIT(&srv->conns);
  TAILQ_INIT(&srv->dirty);
  TAILQ_INIT(&srv->tp_dirty);
  TAILQ_INIT(&srv->ws_list);
  gw_ws_notices_init(&srv->ws_notices);
  gw_map_init(&srv->ws_conns);
  gw_map_init(&srv->inflight);
  gw_map_init(&srv->up_pools);
  LIST_INIT(&srv->up_reqs);
  TAILQ_INIT(&srv->up_dirty);
  gw_metrics_init(&srv->metrics);
  ipc_buf_init(&srv->scratch);
  ipc_buf_init(&srv->head);
  ipc_buf_init(&srv->up_body);
  gw_h1_settings(&srv->settings);
  srv->off = l == NULL;
  rc = l ? gw_listen_addr(l->host, l->port, l->ipv6, &srv->addr) : 0;
  if (rc == 0 && l)
    rc = listen_start(srv);
  if (rc < 0) {
    sup_log(SUP_ERROR, "%s: listen on %s:%d failed: %s", what, l->host, l->port, uv_err_name(rc));
    gw_server_free(srv);
    return NULL;
  }
  uv_prepare_init(srv->loop, &srv->flush); /* corked output (gw_conn_cork) */
  srv->flush.data = srv;
  uv_prepare_init(srv->loop, &srv->up_flush); /* corked writes to upstreams (gw_up_pool) */
  srv->up_flush.data = srv;
  if (l)
    sup_log(SUP_INFO, "%s: listening on %s%s%s:%d", what, l->ipv6 ? "[" : "", l->host,
            l->ipv6 ? "]" : "", l->port);
  return srv;
}

struct gw_server *gw_server_start(struct sup_host *host) {
  const struct cfg *cfg = sup_view_cfg(host);
  struct gw_server *srv = server_new(host, &cfg->gateway.listen, "gateway");
  if (srv == NULL)
    return NULL;
  srv->handlers = gateway_handlers;
  srv->metered = srv->edge = 1;
  gw_https_configure(srv);
  gw_ratelimit_configure(srv);
  if (gw_svcs_add(srv) < 0 || build_routes(&srv->routes, srv) < 0 ||
      build_statics(&srv->statics, cfg) < 0)
    sup_log(SUP_ERROR, "gateway: out of memory building routes"); /* every request: 404 */
  srv->tcp = gw_tcp_start(srv, cfg);
  if (gw_access_open(&srv->access, srv->loop, cfg->gateway.access_log) < 0)
    sup_log(SUP_WARN, "gateway: running without an access log");
  struct sup_host_hooks hooks = {.ctx = srv,
                                 .instance_msg = hook_instance_msg,
                                 .instance_gone = hook_instance_gone,
                                 .instance_routable = hook_instance_routable,
                                 .drain = hook_drain,
                                 .stopping = hook_stopping,
                                 .finished = hook_finished,
                                 .reopen = hook_reopen,
                                 .reload_check = hook_reload_check,
                                 .reloaded = hook_reloaded,
                                 .service_reset = hook_service_reset,
                                 .service_status = hook_service_status};
  sup_host_add_hooks(host, &hooks);
  if (gw_tls_start(srv, &srv->tls) != 0)
    srv->failed = 1; /* logged; the caller winds the host down */
  return srv;
}

struct gw_server *gw_admin_start(struct sup_host *host, struct gw_server *gateway) {
  const struct cfg *cfg = sup_view_cfg(host);
  struct gw_server *srv = server_new(host, cfg->admin.enabled ? &cfg->admin.listen : NULL, "admin");
  if (srv == NULL)
    return NULL;
  srv->handlers = admin_handlers;
  srv->peer = gateway;
  gw_access_open(&srv->access, srv->loop, NULL); /* not logged */
  struct sup_host_hooks hooks = {.ctx = srv,
                                 .stopping = hook_stopping,
                                 .finished = hook_finished,
                                 .reloaded = hook_reloaded_admin};
  sup_host_add_hooks(host, &hooks);
  return srv;
}

int gw_server_failed(const struct gw_server *srv) {
  return srv == NULL || srv->failed;
}

void gw_server_free(struct gw_server *srv) {
  if (srv == NULL)
    return;
  gw_tcp_free(srv->tcp);
  gw_tls_free(srv->tls);
  gw_routes_free(&srv->routes);
  gw_routes_free(&srv->statics);
  gw_buckets_free(&srv->buckets);
  gw_gzip_free_idle(srv);
  gw_svcs_free(srv);
  gw_map_free(&srv->inflight);
  gw_map_free(&srv->ws_conns);
  gw_ws_notices_free(&srv->ws_notices);
  gw_map_free(&srv->up_pools);
  gw_metrics_free(&srv->metrics);
  ipc_buf_free(&srv->scratch);
  ipc_buf_free(&srv->head);
  ipc_buf_free(&srv->up_body);
  free(srv->hv);
  free(srv->cands);
  free(srv->expire.ids);
  free(srv);
}
