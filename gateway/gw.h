/* gw — the HTTP gateway (SPEC §4), declarations shared by its files.
 *
 *   gw_server   listeners (the gateway, the admin one) and the host hooks
 *   gw_conn     one connection: socket, transport seam, protocol seam
 *   gw_tls      the TLS listener and transport (OpenSSL, memory BIOs)
 *   gw_cert     its certificates: loading, checking, SNI (names: pure)
 *   gw_h1       the HTTP/1 protocol: parsing (llhttp, strict) and framing
 *   gw_h2       the HTTP/2 protocol (nghttp2): a gw_req per stream, limits
 *   gw_strict   the checks of a request llhttp lets through (pure)
 *   gw_req      a request as handlers see it; the handler interface
 *   gw_reply    answers muster makes itself (errors)
 *   gw_health   the health handler (health_path, /healthz)
 *   gw_status   the status page handler (/, /status.json; admin)
 *   gw_admin    the admin handler (/metrics, /events)
 *   gw_proxy    the proxy handler: a request to an IPC instance and back
 *   gw_fwd      the headers a service is given (hop-by-hop out, x-forwarded-*)
 *   gw_balance  which instance gets a request (pure)
 *   gw_svc      per service: the queue, the retry budget, the quarantine
 *               (gw_queue, gw_budget, gw_quarantine: their pure parts)
 *   gw_expire   request timeouts answered after the loop's poll
 *   gw_route, gw_map, gw_access, gw_metrics: the route table, the in-flight
 *   map, the access log, the counters. */
#ifndef MUSTER_GW_H
#define MUSTER_GW_H

#include <llhttp.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>
#include <uv.h>

#include "cfg.h"
#include "gw_access.h"
#include "gw_balance.h"
#include "gw_bucket.h"
#include "gw_conn.h"
#include "gw_h2.h"
#include "gw_map.h"
#include "gw_metrics.h"
#include "gw_req.h"
#include "gw_route.h"
#include "gw_rt.h"
#include "gw_svc.h"
#include "gw_up.h"
#include "gw_ws_notice.h"
#include "ipc_buf.h"
#include "ipc_msg.h"
#include "util_date.h"

struct sup_host;
struct sup_instance;
struct gw_tls_server;

/* Request timeouts that fired this loop turn, answered 504 after its
 * poll unless their response came in it (gw_expire.c). */
struct gw_expire {
  uint64_t *ids; /* request ids, owned */
  size_t n, cap;
  uv_idle_t idle;   /* active while ids is not empty: the poll must not block */
  uv_check_t check; /* after the poll: answer what is still in flight */
  unsigned init : 1, closed : 1;
};

/* The gateway's upstream counters (metrics). */
struct gw_up_stats {
  uint64_t connects; /* connections opened to upstream programs */
  uint64_t reused;   /* requests sent on a pooled connection */
  uint64_t retries;  /* requests sent again (fresh connection or another instance) */
  uint64_t invalid;  /* responses refused (502) */
};

struct gw_server {
  struct sup_host *host;
  uv_loop_t *loop;
  const struct cfg_gateway *cfg;            /* borrowed from the host's config */
  const char *what;                         /* "gateway" or "admin", for messages */
  uv_tcp_t *listener;                       /* while listening (gw_listen) */
  struct sockaddr_storage addr;             /* where it listens (kept for an undrain) */
  const struct gw_handler *const *handlers; /* asked in order; NULL-terminated */
  struct gw_routes routes;                  /* the proxy's route table */
  struct gw_routes statics;                 /* static[]: routes to cfg_static (gw_static) */
  struct gw_map inflight;                   /* proxy: id → request */
  struct gw_svc **svcs;                     /* proxy: per live service (gw_svc.h), owned */
  size_t nsvcs, capsvcs;
  size_t nqueued;                            /* requests waiting, every service */
  uint32_t deaths;                           /* instance deaths seen holding requests */
  uint64_t next_id;                          /* last request id handed out */
  LIST_HEAD(gw_conns, gw_conn) conns;        /* every open connection */
  TAILQ_HEAD(gw_dirty, gw_conn) dirty;       /* connections with corked output */
  TAILQ_HEAD(gw_tp_dirty, gw_conn) tp_dirty; /* connections whose transport holds bytes (TLS) */
  uv_prepare_t flush;                        /* writes it before the loop polls */
  size_t nconns;
  size_t buffered;            /* answer bytes queued, every connection */
  llhttp_settings_t settings; /* shared by the connections (gw_h1) */
  struct gw_access access;    /* the access log */
  struct ipc_buf scratch;     /* bodies muster makes, joined request headers */
  struct ipc_buf head;        /* answer heads (gw_h1) */
  struct ipc_header *hv;      /* headers of a request or answer being made, owned */
  size_t caphv;
  struct gw_cand *cands; /* proxy: the instances being balanced, owned */
  size_t capcands;
  char local_host[UTIL_IP_TEXT + 8]; /* gw_req_fwd_headers: the host of a request naming none */
  struct gw_buckets buckets;         /* gateway.rate_limit's per client (gw_ratelimit) */
  uint64_t rate_limited;             /* requests it refused */
  size_t gzip_streams;               /* answers being compressed (gw_gzip) */
  struct gw_gzip *gzip_idle[16];     /* deflate states kept for the next answers */
  size_t gzip_nidle;
  char hsts[64]; /* strict-transport-security for HTTPS answers, or "" */
  size_t hsts_len;
  char rbuf[65536];          /* the read buffer all connections share */
  struct gw_metrics metrics; /* request counts and latencies */
  struct gw_server *peer;    /* admin: the public gateway (its metrics) */
  struct gw_expire expire;
  /* ---- upstreams (gw_up.c, gw_up_pool.c; SPEC §9) ---- */
  struct gw_map up_pools;                /* instance pointer → its keep-alive pool */
  LIST_HEAD(gw_up_reqs, gw_req) up_reqs; /* exchanges with upstreams under way */
  size_t tunnels;                        /* WebSocket tunnels open (gw_tunnel.c) */
  struct gw_tcp *tcp;                    /* the TCP routes (gw_tcp.c), gateway only */
  struct gw_tls_server *tls;             /* the TLS listener (gw_tls.c), gateway only, or NULL */
  struct gw_up_stats up;                 /* counters for metrics */
  struct ipc_buf up_body;                /* a response's first body bytes, held with its head */
  TAILQ_HEAD(gw_up_dirty, gw_up_conn) up_dirty; /* upstream connections with corked bytes */
  uv_prepare_t up_flush;                        /* writes them before the loop polls */
  /* ---- real-time (gw_ws.c, gw_sse.c) ---- */
  struct gw_map ws_conns;                /* connection key → struct gw_ws */
  TAILQ_HEAD(gw_ws_list, gw_ws) ws_list; /* every WebSocket */
  uint64_t ws_next;                      /* last connection key handed out */
  size_t ws_rr;                          /* round-robin cursor for rebinding */
  struct gw_ws_notices ws_notices;       /* ws_close waiting for an instance */
  struct gw_rt_stats rt;                 /* counters for metrics */
  size_t sse_holds;                      /* SSE holds open */
  struct gw_h2_stats h2;                 /* HTTP/2 counters for metrics (gw_h2.c) */
  uint64_t reqid_base;                   /* random prefix of generated request ids */
  char date[UTIL_HTTP_DATE_LEN + 1];     /* the date header of date_at (gw_req_date) */
  time_t date_at;
  unsigned listening : 1;
  unsigned stopping : 1; /* shutdown began: no keep-alive */
  unsigned metered : 1;  /* requests count in metrics (not admin) */
  unsigned edge : 1;     /* the public gateway (not admin): gateway.proxy_protocol holds */
  unsigned draining : 1; /* a drain: answers carry connection: close */
  unsigned failed : 1;   /* a listener did not start (gw_server_failed) */
  unsigned off : 1;      /* admin: the config in force has no admin section */
};

/* ---- gw_h1.c ---- */
extern const struct gw_proto gw_h1_proto;
/* The llhttp settings every HTTP/1 connection of srv shares. */
void gw_h1_settings(llhttp_settings_t *s);

/* ---- gw_reply.c ---- */
/* Answers with a body muster made: content type ctype, extra headers. */
void gw_reply(struct gw_req *req, int status, const char *ctype, const char *body, size_t len,
              const struct ipc_header *extra, size_t nextra);
/* Answers {"error": msg, "status": N, "request_id": id}; extra: one more
 * header line value pair or NULL (retry-after, allow). */
void gw_reply_error(struct gw_req *req, int status, const char *msg,
                    const struct ipc_header *extra);
/* The reason phrase of status ("Not Found"); "" for a code not registered. */
const char *gw_reason(int status);
/* A `retry-after: 1` header, for 503 answers. */
extern const struct ipc_header gw_retry_after;

/* ---- the handlers ---- */
extern const struct gw_handler gw_health_handler;    /* GET gateway.health_path */
extern const struct gw_handler gw_healthz_handler;   /* GET /healthz (admin) */
extern const struct gw_handler gw_status_handler;    /* GET / and /status.json (admin) */
extern const struct gw_handler gw_admin_handler;     /* /metrics, /events, else 404/405 */
extern const struct gw_handler gw_proxy_handler;     /* routes to IPC services */
extern const struct gw_handler gw_static_handler;    /* static[]: files under a root */
extern const struct gw_handler gw_https_handler;     /* tls.redirect_http: 308 to https:// */
extern const struct gw_handler gw_ratelimit_handler; /* gateway.rate_limit: 429 */

/* ---- gw_gzip.c ---- */
/* Frees the deflate states kept between answers (the gateway goes). */
void gw_gzip_free_idle(struct gw_server *srv);

/* ---- gw_ratelimit.c ---- */
/* srv->buckets for gateway.rate_limit, at start and reload: kept (with
 * their state) while max_clients stays, else made anew. Returns 0 or
 * UV_ENOMEM (then no limit until the next reload). */
int gw_ratelimit_configure(struct gw_server *srv);
/* Its counters for /metrics. */
void gw_ratelimit_render_metrics(const struct gw_server *srv, struct ipc_buf *b);

/* ---- gw_https.c ---- */
/* srv->hsts from the config (gateway.tls.hsts_*): at start and reload. */
void gw_https_configure(struct gw_server *srv);

/* ---- gw_status.c ---- */
/* Appends s[0..n) to b with & < > " ' escaped for HTML text and
 * attribute values. */
void gw_html_str(struct ipc_buf *b, const char *s, size_t n);
/* The page's template, gateway/gw_status.html (gw_status_page.c, made
 * by cmake/embed.cmake): gw_status_page_len bytes and a NUL. */
extern const char gw_status_page[];
extern const size_t gw_status_page_len;

/* ---- gw_proxy.c: what instances send and what happens to them ---- */
void gw_proxy_instance_msg(struct gw_server *srv, struct sup_instance *inst,
                           const struct ipc_msg *m);
void gw_proxy_instance_gone(struct gw_server *srv, struct sup_instance *inst);
/* A deferred timeout (gw_expire): 504 if request id is still unanswered. */
void gw_proxy_expired(struct gw_server *srv, uint64_t id);

/* ---- gw_expire.c ---- */
/* Queues the 504 of request id for after this turn's poll. Returns 0, or
 * UV_ENOMEM / UV_ECANCELED (closing): then answer at once. */
int gw_expire_add(struct gw_server *srv, uint64_t id);
/* Closes its handles (the gateway is closing). */
void gw_expire_close(struct gw_server *srv);

#endif
