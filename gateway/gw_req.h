/* gw_req — one HTTP request as the gateway's handlers see it, and the
 * handler interface.
 *
 * A connection's protocol (HTTP/1 today) reads a request into a struct
 * gw_req and offers it to its server's handlers in order, as h2o's
 * `on_req`: a handler takes it (returns 0) and answers it now or later, or
 * declines (GW_DECLINED) and the next one is asked. The handler that took
 * it may attach a generator (struct gw_gen) that the connection calls when
 * the request is abandoned (the client went away, muster shuts down) or
 * when the timer the handler set fires.
 *
 * Answers go through the protocol's framing, never written by hand:
 * gw_req_respond() for a whole response, or gw_req_start() / gw_req_send()
 * / gw_req_finish() for a stream. The protocol adds content-length or
 * chunked encoding, x-request-id and the connection header, leaves the
 * body out for HEAD, and ends the request. A request ends in exactly one
 * place: gw_req_respond() or gw_req_finish(). */
#ifndef MUSTER_GW_REQ_H
#define MUSTER_GW_REQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "gw_queue.h"
#include "gw_hdr.h"
#include "gw_up_parse.h"
#include "ipc_buf.h"
#include "ipc_msg.h"
#include "util_cidr.h"

struct gw_conn;
struct gw_proto;
struct gw_server;
struct gw_req;
struct gw_routes;
struct gw_sse;
struct gw_static_job;
struct gw_gzip;
struct gw_svc;
struct gw_svc_ops;
struct gw_up_conn;
struct sup_instance;
struct sup_service;

#define GW_DECLINED 1 /* a handler's on_req/on_head: not mine, ask the next one */
#define GW_LATER 2    /* a handler's on_head: mine, once it is complete (on_req) */

/* What the handler that took a request wants to hear about it. */
struct gw_gen {
  /* The request will not be answered (client gone, connection closing):
   * release what it holds. The request must not be answered from here. */
  void (*abandon)(struct gw_req *req);
  /* The timer set with gw_req_timer() fired. */
  void (*timeout)(struct gw_req *req);
  /* A request taken at its head (on_head): the next piece of its body,
   * decoded; data NULL and len 0 is its end. May answer the request. */
  void (*body)(struct gw_req *req, const char *data, size_t len);
  /* What was queued for the client went out (after gw_req_want_drain). */
  void (*drained)(struct gw_req *req);
};

/* How a protocol frames the answers to its requests. */
struct gw_resp_ops {
  void (*respond)(struct gw_req *req, int status, const struct ipc_header *h, size_t nh,
                  const char *body, size_t len);
  void (*start)(struct gw_req *req, int status, const struct ipc_header *h, size_t nh,
                int64_t clen);
  void (*send)(struct gw_req *req, const char *data, size_t len);
  void (*finish)(struct gw_req *req);
  void (*switch_proto)(struct gw_req *req, const struct ipc_header *h, size_t nh,
                       const struct gw_proto *p);
  void (*timer)(struct gw_req *req, uint64_t ms);    /* 0: stop it */
  size_t (*queued)(const struct gw_req *req);        /* answer bytes not yet sent */
  void (*pause_body)(struct gw_req *req, int pause); /* stop / resume reading the body */
  int (*want_drain)(struct gw_req *req);             /* gen->drained when sent; 1: sent */
  void (*abort)(struct gw_req *req, int graceful);   /* cut the answer (see gw_req_abort) */
};

/* What gw_svc keeps of a request routed to a service, whichever handler
 * (the IPC proxy or the upstream one) took it: the queue, the retry
 * budget and the quarantine are the same for both (gw_svc.h). */
struct gw_svc_req {
  struct gw_svc *gs;            /* the gateway's state of its service, or NULL */
  const struct gw_svc_ops *ops; /* how its handler sends it and answers it 503 */
  struct gw_qent qe;            /* its place in the service's queue while it waits */
  uint32_t deaths;              /* instances that died while it was in flight on them */
  uint32_t last_death;          /* the number of the last such death (srv->deaths), */
  uint32_t prev_death;          /*   and of the one before */
  uint64_t first_death_ms;      /* when the first one died (loop time) */
};

/* The exchange of a request with an IPC instance (gw_proxy.c). */
struct gw_proxy_req {
  uint64_t id;               /* in-flight id (key in srv->inflight), 0 = none */
  struct sup_instance *inst; /* the instance holding it */
  struct sup_service *svc;   /* the routed service */
  uint32_t prefix_off;       /* the matched route's prefix, copied into hbuf */
  uint32_t prefix_len;
  int tries;          /* instances tried */
  uint64_t ws_key;    /* a WebSocket handshake: its connection's key, else 0 */
  char ws_id[112];    /*   its connection id (GW_WS_ID_MAX) */
  char ws_accept[29]; /*   its sec-websocket-accept */
};

/* The exchange of a request with an upstream instance (gw_up.c). */
struct gw_up_req {
  struct gw_up_parser parser; /* its response */
  LIST_ENTRY(gw_req) link;    /* srv->up_reqs: every exchange under way */
  struct sup_instance *inst;  /* the instance holding it, or NULL */
  struct sup_instance *tried; /* the last one tried (compared, never read) */
  struct sup_service *svc;    /* the routed service */
  struct gw_up_conn *uc;      /* the connection it is on, or NULL */
  uint64_t body_in;           /* body bytes read from the client */
  int tries;                  /* instances tried */
  int fresh_tries;            /* tries on a fresh connection after a reused one failed */
  unsigned replayable : 1;    /* req->body holds all that was sent: it may be sent again */
  unsigned body_end : 1;      /* the client's body is complete */
  unsigned chunked_up : 1;    /* the body goes up chunk-encoded */
  unsigned upgrade : 1;       /* a WebSocket handshake: tunnelled on a 101 */
  unsigned paused_up : 1;     /* the client's body is paused for the upstream */
  unsigned paused_down : 1;   /* the upstream is paused for the client */
  unsigned parser_init : 1;   /* parser holds buffers */
  unsigned held : 1;          /* its response's head is read, not yet passed on */
  unsigned verdict : 1;       /* its connection failed: is its instance dying? (gw_up.c) */
  unsigned sent_here : 1;     /* its bytes went to the instance holding it */
};

struct gw_req {
  struct gw_conn *conn;          /* the connection it came on */
  struct gw_server *srv;         /* that connection's server */
  const struct gw_resp_ops *out; /* its protocol's framing */
  const struct gw_gen *gen;      /* set by the handler that took it, or NULL */
  /* ---- the request as read ---- */
  struct ipc_buf hbuf; /* URL, then header names and values */
  struct gw_hdr *hdrs; /* headers in arrival order, owned */
  size_t nhdrs, caphdrs;
  uint32_t url_len;   /* the URL is hbuf[0 .. url_len) */
  uint32_t path_off;  /* the path within it (absolute-form skipped), */
  uint32_t path_len;  /*   set with query_* once the head is complete */
  uint32_t query_off; /* the query, without "?" */
  uint32_t query_len;
  uint32_t auth_off;   /* an absolute-form target's authority ("host:port"), */
  uint32_t auth_len;   /*   0 long for origin-form: it replaces host */
  int hdr_host;        /* index in hdrs of host, expect and x-request-id, */
  int hdr_expect;      /*   or -1 (found once the head is complete: */
  int hdr_reqid;       /*   every request looks them up) */
  struct ipc_buf body; /* the request body (an upstream's: what was sent of it) */
  int64_t body_len;    /* its content-length, -1 when chunked, 0 when none */
  char method[24];     /* "GET", ... */
  int http_major;      /* 1, or 2 (HTTP/2) */
  int http_minor;      /* HTTP/1.x: 0 or 1 */
  char reqid[72];      /* x-request-id: the client's or muster's */
  uint64_t start_ns;   /* when it was complete (uv_hrtime) */
  /* ---- who sent it ---- */
  char client[UTIL_IP_TEXT]; /* behind trusted proxies, the client they name; "" none */
  unsigned via_proxy : 1;    /* the connection's peer is a trusted proxy */
  /* ---- the answer ---- */
  int status;              /* the status sent */
  uint64_t bytes_out;      /* answer bytes written (access log) */
  char service[72];        /* the service, for the access log and metrics; "" none */
  int instance;            /* instance index for the access log, -1 */
  unsigned is_head : 1;    /* HEAD: no body in the answer */
  unsigned keepalive : 1;  /* the connection survives the answer */
  unsigned head_sent : 1;  /* the answer's head was written */
  unsigned streaming : 1;  /* a stream was started and not finished */
  unsigned chunked : 1;    /* that stream is chunk-encoded */
  unsigned at_head : 1;    /* taken at its head (on_head): its body streams */
  struct gw_gzip *z;       /* its answer's deflate state (gw_gzip), or NULL */
  unsigned rl_checked : 1; /* gw_ratelimit has counted it, */
  unsigned rl_refused : 1; /*   and refused it: 429 */
  uint32_t rl_retry_s;     /*   with this retry-after */
  struct gw_svc_req sv;    /* routed to a service: its queue, budget, quarantine */
  union {                  /* the state of the handler that took it */
    struct gw_proxy_req proxy;
    struct gw_up_req up;        /* an upstream exchange (gw_up.c) */
    struct gw_sse *sse;         /* an SSE hold (gw_sse.c) */
    struct gw_static_job *file; /* a static file (gw_static.c) */
    unsigned events;            /* admin /events: listening to host events */
  } u;
};

/* A handler: takes a request (0) or declines it (GW_DECLINED).
 *
 * on_head, optional, is asked when the head is complete, before the body,
 * in the handlers' order: 0 takes the request now, and its body streams
 * through gen->body as it arrives (reading pauses with gw_req_pause_body);
 * GW_LATER keeps it for this handler's on_req once it is complete (so a
 * later handler cannot take it at its head); GW_DECLINED asks the next. A
 * request nobody took at its head is read whole and offered to on_req. */
struct gw_handler {
  const char *name;
  int (*on_req)(const struct gw_handler *h, struct gw_req *req);
  const char *arg; /* the handler's setting (a path), or NULL */
  int (*on_head)(const struct gw_handler *h, struct gw_req *req);
};

/* ---- Answering (the protocol frames; the request ends with the answer) ---- */

/* gateway.compression (gw_gzip.c), between these and the framing: 1 when
 * it took the answer (compressed it), 0 when it goes as it is. */
int gw_gzip_respond(struct gw_req *req, int status, const struct ipc_header *h, size_t nh,
                    const char *body, size_t len);
int gw_gzip_start(struct gw_req *req, int status, const struct ipc_header *h, size_t nh,
                  int64_t clen);
void gw_gzip_send(struct gw_req *req, const char *data, size_t len);
void gw_gzip_finish(struct gw_req *req);
/* Frees req's deflate state, if any (the request ended, or was cut). */
void gw_gzip_release(struct gw_req *req);

/* A whole response: status, headers (muster adds its own framing
 * headers and x-request-id), body. Ends the request. */
static inline void gw_req_respond(struct gw_req *req, int status, const struct ipc_header *h,
                                  size_t nh, const char *body, size_t len) {
  if (!gw_gzip_respond(req, status, h, nh, body, len))
    req->out->respond(req, status, h, nh, body, len);
}

/* The head of a streamed response (chunked on HTTP/1.1, ended by the
 * close on HTTP/1.0). Stops the request timer. */
static inline void gw_req_start(struct gw_req *req, int status, const struct ipc_header *h,
                                size_t nh) {
  if (!gw_gzip_start(req, status, h, nh, -1))
    req->out->start(req, status, h, nh, -1);
}

/* The head of a streamed response whose length is known (clen >= 0):
 * content-length, then exactly clen bytes of gw_req_send() (none for
 * HEAD, 204 and 304); clen -1 is gw_req_start(). */
static inline void gw_req_start_len(struct gw_req *req, int status, const struct ipc_header *h,
                                    size_t nh, int64_t clen) {
  if (!gw_gzip_start(req, status, h, nh, clen))
    req->out->start(req, status, h, nh, clen);
}

/* The next piece of a stream (nothing for HEAD or an empty piece). */
static inline void gw_req_send(struct gw_req *req, const char *data, size_t len) {
  if (req->z)
    gw_gzip_send(req, data, len);
  else
    req->out->send(req, data, len);
}

/* The end of a stream. Ends the request. */
static inline void gw_req_finish(struct gw_req *req) {
  if (req->z)
    gw_gzip_finish(req);
  else
    req->out->finish(req);
}

/* Answers 101 Switching Protocols with headers h (the protocol's own:
 * upgrade, connection, ...), ends the request, and hands the connection
 * to protocol p (its pdata set by the caller). */
static inline void gw_req_switch(struct gw_req *req, const struct ipc_header *h, size_t nh,
                                 const struct gw_proto *p) {
  req->out->switch_proto(req, h, nh, p);
}

/* Starts (or with 0 stops) the request's timer: gen->timeout when it fires. */
static inline void gw_req_timer(struct gw_req *req, uint64_t ms) {
  req->out->timer(req, ms);
}

/* Bytes of the answer queued for the client and not yet sent. */
static inline size_t gw_req_queued(const struct gw_req *req) {
  return req->out->queued(req);
}

/* A request taken at its head: stops (1) or resumes (0) reading its body
 * from the client (the handler's side is full). */
static inline void gw_req_pause_body(struct gw_req *req, int pause) {
  req->out->pause_body(req, pause);
}

/* Asks for gen->drained once the answer bytes queued for the client are
 * (nearly) all sent. Returns 1 when they are already: no call follows. */
static inline int gw_req_want_drain(struct gw_req *req) {
  return req->out->want_drain(req);
}

/* Cuts a request whose answer cannot go on (its instance died mid-stream,
 * its client reads too slowly): the client sees the answer end without
 * its proper end. On HTTP/1 the connection closes (graceful: what is
 * queued goes out first); on HTTP/2 only the request's stream is reset.
 * The handler's gen->abandon is called as when the client goes away; the
 * request must not be touched afterwards. */
static inline void gw_req_abort(struct gw_req *req, int graceful) {
  req->out->abort(req, graceful);
}

/* ---- Reading (gw_req.c) ---- */

/* The value of request header name (lower-case), or NULL: the first
 * when the header appears more than once. */
const char *gw_req_header(const struct gw_req *req, const char *name, uint32_t *len);

/* The value of the next header named name at index *i or after, *i then
 * past it; NULL when there is none. Start with *i = 0 to walk them all. */
const char *gw_req_header_next(const struct gw_req *req, const char *name, size_t *i,
                               uint32_t *len);

/* The value of the first header named name whose comma-separated list
 * holds token (ignoring case unless exact: see rt_hs_lists), or NULL.
 * connection: a, upgrade and connection: b may come as two headers. */
const char *gw_req_header_listing(const struct gw_req *req, const char *name, const char *token,
                                  int exact, uint32_t *len);

/* The value of header hdrs[i] (i from hdr_host, ...), or NULL when i < 0. */
const char *gw_req_header_at(const struct gw_req *req, int i, uint32_t *len);

/* The headers a service gets for req (gw_fwd: hop-by-hop out,
 * x-forwarded-* in; upgrade and connection kept for a WebSocket
 * handshake when upgrade) into srv->hv, joined values in srv->scratch.
 * Returns their number or UV_ENOMEM. */
int gw_req_fwd_headers(struct gw_req *req, int upgrade);

/* The host req names: an absolute-form target's authority, else its
 * Host header's value ("host[:port]", gw_strict checked), or NULL. */
const char *gw_req_host(const struct gw_req *req, uint32_t *len);

/* The route of req in r (by path, method and host without its port), or
 * NULL; gw_req_route: in the services' table. */
struct gw_route *gw_req_match(const struct gw_req *req, const struct gw_routes *r);
struct gw_route *gw_req_route(struct gw_req *req);

/* Lower-cases the header names in place, once the head is complete, and
 * notes where the headers every request looks at are (hdr_host,
 * hdr_expect, hdr_reqid: the first of each); from a trusted proxy, finds
 * the client its x-forwarded-for names (gw_realip). */
void gw_req_index_headers(struct gw_req *req);

/* The client's address: the connection's peer, or behind trusted proxies
 * the client they name (gateway.trusted_proxies). What the access log,
 * a service's request and ip_hash see. */
const char *gw_req_client(const struct gw_req *req);

/* The scheme the client used: the one a trusted proxy says it served
 * ("http" or "https" in x-forwarded-proto: TLS ended there), else that
 * of the connection's transport. What x-forwarded-proto, HSTS and the
 * HTTPS redirect go by. */
const char *gw_req_scheme(const struct gw_req *req);

/* 1 when the answer to req gets srv->hsts as its strict-transport-security:
 * one is configured, req came over HTTPS, and h[0..nh) has none of its
 * own (a service's wins). */
int gw_req_hsts(const struct gw_req *req, const struct ipc_header *h, size_t nh);

/* ---- Dispatch (the protocols share it) ---- */

/* Offers a request whose head is complete to the handlers that take
 * requests at their head (on_head), in order; gives it an id first.
 * Returns 1 when one took it (its body then streams through gen->body;
 * the handler may have answered already), 0 when it must be read whole
 * and offered with gw_req_offer(). The protocol's state must already
 * treat an answer as one made before the body ended. */
int gw_req_offer_head(struct gw_req *req);

/* Offers a complete request to the handlers' on_req in order; 404 when
 * every one declines. */
void gw_req_offer(struct gw_req *req);

/* Splits the URL into path and query (once the head is complete). */
void gw_req_split_target(struct gw_req *req);

/* Resolves the dot segments of the split target's path in place
 * (gw_strict_dots; the query moves up, url_len shrinks). NULL, or the
 * reason for a 400 when the path climbs above "/". */
const char *gw_req_resolve_dots(struct gw_req *req);

/* The request path (without query) and query (without "?"); query may
 * be NULL when not wanted. */
void gw_req_target(const struct gw_req *req, const char **path, size_t *plen, const char **query,
                   size_t *qlen);

/* Uses the client's x-request-id when it is 1..64 visible ASCII bytes,
 * else makes one (gw_req_new_id). */
void gw_req_assign_id(struct gw_req *req);

/* The date header's value for an answer without one: now, to the second,
 * formatted once a second. RFC 9110 §6.6.1: an origin server with a
 * clock sends it (muster is the origin for IPC services and its own
 * answers), and a proxy adds it to a response that lacks one. */
const char *gw_req_date(struct gw_server *srv);

/* The first header of h[0 .. n) called name (len bytes, lower-case), in
 * any case, or NULL; gw_headers_have: 1 when there is one. */
const struct ipc_header *gw_headers_find(const struct ipc_header *h, size_t n, const char *name,
                                         size_t len);
int gw_headers_have(const struct ipc_header *h, size_t n, const char *name, size_t len);

/* Makes the request a new id: 16 hex digits, unique per muster run. */
void gw_req_new_id(struct gw_req *req);

/* Empties the request for the next one, keeping small buffers (one
 * place: every request starts from here). */
void gw_req_reset(struct gw_req *req);

/* Releases what the request owns (the connection is freed). */
void gw_req_free(struct gw_req *req);

/* The request was answered: the access log line and the metrics. */
void gw_req_log(struct gw_req *req);

#endif
