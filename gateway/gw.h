/* gw — the HTTP gateway (SPEC §4), internal declarations shared by its
 * files: gw_server.c (listener, hooks into the supervisor), gw_conn.c
 * (one client connection: llhttp parsing, limits, timeouts, writing),
 * gw_proxy.c (routing, balancing, the request/response exchange with an
 * instance, retries), gw_reply.c (responses the gateway writes itself),
 * gw_access.c (the access log).
 *
 * A connection serves one request at a time: when a request is complete
 * the parser is paused, so pipelined requests are answered strictly in
 * order and the request's state lives inside the connection (no per-request
 * allocation). Bytes that arrive meanwhile wait in `in`. */
#ifndef MUSTER_GW_H
#define MUSTER_GW_H

#include <llhttp.h>
#include <stdint.h>
#include <uv.h>

#include "cfg.h"
#include "gw_access.h"
#include "gw_map.h"
#include "gw_metrics.h"
#include "gw_route.h"
#include "ipc_buf.h"
#include "ipc_msg.h"

struct sup_host;
struct sup_instance;
struct sup_service;
struct ipc_msg;

/* Where a connection is in its request/response cycle. */
enum gw_cstate {
  GW_C_IDLE = 0,  /* between requests (keep-alive timer runs) */
  GW_C_READING,   /* a request's head or body is arriving (header timer) */
  GW_C_BUSY,      /* a whole request is being answered; parser paused */
};

/* One request header as offsets into conn->hbuf. */
struct gw_hdr {
  uint32_t name;  /* offset of the name (lower-cased once complete) */
  uint32_t nlen;
  uint32_t value; /* offset of the value */
  uint32_t vlen;
};

struct gw_server;

struct gw_conn {
  uv_tcp_t tcp;                 /* the client socket; handle lives here */
  uv_timer_t timer;             /* header, keep-alive or request timeout */
  struct gw_server *srv;
  struct gw_conn *prev, *next;  /* the server's list of connections */
  llhttp_t parser;
  enum gw_cstate state;
  char remote[48];              /* client IP */
  /* ---- the request being read or answered ---- */
  struct ipc_buf hbuf;          /* URL then header names and values */
  struct gw_hdr *hdrs;          /* headers in arrival order, owned */
  uint32_t nhdrs, caphdrs;
  uint32_t url_len;             /* the URL is hbuf[0 .. url_len) */
  uint32_t header_bytes;        /* URL + headers so far (limit) */
  struct ipc_buf body;          /* the request body */
  struct ipc_buf in;            /* bytes read while the parser was paused */
  int err_status;               /* 413/431/400 chosen by a callback, or 0 */
  const char *feed_start;       /* the bytes llhttp is parsing now start here */
  const char *feed_end;         /* ... and end here */
  char feed_prev;               /* the byte before feed_start ('\0': none) */
  char feed_prev2;              /* the one before that */
  uint64_t chunk_left;          /* data bytes left in the current chunk */
  uint8_t crlf_need;            /* bytes of a chunk's closing CRLF not yet seen (0..2) */
  const char *err_msg;          /* its message */
  unsigned in_field : 1;        /* the last header callback was a name */
  unsigned keepalive : 1;       /* the connection survives this response */
  unsigned head_sent : 1;       /* the response head was written */
  unsigned streaming : 1;       /* a streamed response is being relayed */
  unsigned chunked : 1;         /* that stream is chunk-encoded */
  unsigned is_head : 1;         /* HEAD request: no response body */
  unsigned feeding : 1;         /* inside conn_feed: do not re-enter */
  unsigned closing : 1;         /* uv_close was called or is due */
  unsigned close_after_write : 1;
  unsigned reading_stopped : 1; /* `in` is full; reading paused */
  unsigned sse : 1;             /* an admin /events stream */
  char method[24];              /* request method */
  char reqid[72];               /* x-request-id (the client's or ours) */
  /* ---- the exchange with an instance ---- */
  uint64_t id;                  /* in-flight id (key in srv->inflight), 0 = none */
  struct sup_instance *inst;    /* the instance holding it */
  struct sup_service *svc;      /* the routed service */
  const struct gw_route *route; /* the matched route */
  int tries;                    /* instances tried */
  uint64_t start_ns;            /* when the request was complete (uv_hrtime) */
  int status;                   /* the response status sent */
  uint64_t bytes_out;           /* response bytes written (access log) */
  /* ---- writing ---- */
  uv_write_t wreq;
  struct ipc_buf wq;            /* bytes waiting behind the write in flight */
  struct ipc_buf wbuf;          /* bytes of the write in flight */
  size_t counted;               /* wq + wbuf as counted in srv->buffered */
  unsigned writing : 1;
  int open_handles;             /* tcp + timer, while closing */
};

struct gw_server {
  struct sup_host *host;
  uv_loop_t *loop;
  const struct cfg_gateway *cfg; /* borrowed from the host's config */
  uv_tcp_t listener;
  struct gw_routes routes;
  struct gw_map inflight;       /* id → conn */
  uint64_t next_id;             /* last request id handed out */
  struct gw_conn *conns;        /* every open connection */
  size_t nconns;
  size_t buffered;              /* response bytes queued, every connection */
  llhttp_settings_t settings;
  struct gw_access access;      /* the access log */
  struct ipc_buf scratch;       /* response heads, joined headers */
  struct ipc_header *hv;        /* headers of the request being sent, owned */
  size_t caphv;
  char rbuf[65536];             /* the read buffer all connections share */
  struct gw_metrics metrics;    /* request counts and latencies */
  struct gw_server *peer;       /* admin: the public gateway (its metrics) */
  unsigned listening : 1;
  unsigned stopping : 1;
  unsigned admin : 1;           /* the admin listener, not the gateway */
  uint64_t reqid_base;          /* random prefix of generated request ids */
  /* Request timeouts that fired this loop turn, answered 504 after its
   * poll unless their response came in it (gw_proxy_on_timeout). */
  uint64_t *expired;            /* request ids, owned */
  size_t nexpired, capexpired;
  uv_idle_t expire_idle;        /* active while expired is not empty */
  uv_check_t expire_check;
  unsigned expire_init : 1, expire_closed : 1;
};

/* ---- gw_conn.c ---- */
void gw_conn_accept(struct gw_server *srv);
/* Writes bufs (copied when they cannot go out at once). */
void gw_conn_writev(struct gw_conn *c, const uv_buf_t *bufs, unsigned n);
/* The current request is answered: log it, then read the next or close. */
void gw_conn_done(struct gw_conn *c);
/* Closes the connection (after pending writes when graceful). */
void gw_conn_close(struct gw_conn *c, int graceful);
/* Starts the request timeout (time to the response head). */
void gw_conn_request_timer(struct gw_conn *c, uint64_t ms);
/* The value of request header name (lower-case), or NULL. */
const char *gw_conn_header(struct gw_conn *c, const char *name, uint32_t *len);
/* The request path (without query) and query (without "?"). */
void gw_conn_target(struct gw_conn *c, const char **path, size_t *plen, const char **query,
                    size_t *qlen);

/* ---- gw_proxy.c ---- */
/* A whole request has been read: answer it. */
void gw_proxy_dispatch(struct gw_conn *c);
/* The request of c will not be answered (client gone, timeout): cancel. */
void gw_proxy_abandon(struct gw_conn *c);
void gw_proxy_on_timeout(struct gw_conn *c);
/* Closes the handles of deferred timeouts (the gateway is closing). */
void gw_proxy_close(struct gw_server *srv);
void gw_proxy_instance_msg(struct gw_server *srv, struct sup_instance *inst,
                           const struct ipc_msg *m);
void gw_proxy_instance_gone(struct gw_server *srv, struct sup_instance *inst);

/* ---- gw_admin.c ---- */
void gw_admin_dispatch(struct gw_conn *c);
/* The connection of an /events stream closes: stop feeding it. */
void gw_admin_events_end(struct gw_conn *c);
/* GET /healthz (gw_proxy.c). */
void gw_proxy_health(struct gw_conn *c);

/* ---- gw_reply.c ---- */
/* Writes a complete response the gateway makes itself: JSON body, the
 * request id, keep-alive or close. extra: more header lines or NULL. */
void gw_reply(struct gw_conn *c, int status, const char *json_body, size_t len,
              const char *extra);
/* gw_reply with another content type. */
void gw_reply_type(struct gw_conn *c, int status, const char *ctype, const char *body,
                   size_t len, const char *extra);
/* gw_reply with {"error": msg, "status": N, "request_id": id}. */
void gw_reply_error(struct gw_conn *c, int status, const char *msg, const char *extra);
/* The reason phrase of status ("Not Found"), "Unknown" if none. */
const char *gw_reason(int status);

#endif
