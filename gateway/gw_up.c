/* gw_up — the upstream handler (SPEC §9): a request routed to a service
 * that serves HTTP itself goes to one of its instances over a keep-alive
 * connection (gw_up_pool), both ways as a stream.
 *
 * The request is taken at its head (gw_handler.on_head): its head goes up
 * at once and its body follows as it arrives, chunk-encoded when the
 * client's was; reading from the client pauses while GW_UP_HIGH bytes wait
 * for the program. The response is read strictly (gw_up_parse) and framed
 * for the client by gw_h1 (content-length passed on, else chunked); reading
 * from the program pauses while GW_UP_HIGH bytes wait for the client. So a
 * body of any size passes both ways in bounded memory.
 *
 * What was sent of a request is kept (req->body) up to REPLAY_MAX bytes, so
 * that an idempotent one can be sent again: on a fresh connection when a
 * reused one failed before any byte of the response came back (the program
 * closed it as muster reused it: the keep-alive race; at most FRESH_TRIES
 * times, and no retry: free of the budget), and to another instance when
 * the instance failed, nothing sent to the client yet, within
 * gateway.retries and the retry budget — SPEC §4's rule. A connection
 * that failed before it was established carried nothing: any method goes
 * elsewhere. (Like nginx, muster does not send a POST again once it went
 * up: the program may have acted on it.)
 *
 * The queue, the retry budget and the quarantine are gw_svc's, as for an
 * IPC service (calls marked "gw_svc:"): a request no instance can take
 * waits (when its body is complete: the protocol's request timer, which
 * bounds the wait, does not run while a body streams), and is sent by
 * gw_svc through up_svc_ops. An instance's death is known when its
 * process is reaped (gw_up_instance_gone), which may come after its
 * connections' ends: a request whose connection ended unanswered while its
 * instance still stands waits up to VERDICT_MS for that verdict (u->verdict)
 * before it goes elsewhere, so that the death is counted first — a query
 * of death is then quarantined after two deaths, not retried into a third. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "gw_balance.h"
#include "gw_fwd.h"
#include "gw_up.h"
#include "gw_tcp.h"
#include "gw_up_pool.h"
#include "rt_handshake.h"
#include "sup_instance.h"
#include "sup_log.h"
#include "sup_view.h"
#include "util_vec.h"

#define REPLAY_MAX (64 * 1024) /* bytes of a request kept to send it again */
#define FRESH_TRIES 2          /* fresh connections after a reused one failed */
#define VERDICT_MS 1000        /* a failed request waits this long to hear of a death */

static const struct gw_gen up_gen;
static const struct gw_up_conn_cbs up_cbs;
static const struct gw_svc_ops up_svc_ops;

static struct gw_up_req *up_of(struct gw_req *req) {
  return &req->u.up;
}

static const char *service_name(struct gw_req *req) {
  return sup_view_service_cfg(up_of(req)->svc)->name;
}

static int idempotent(const char *m) {
  return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS") || !strcmp(m, "PUT") ||
         !strcmp(m, "DELETE") || !strcmp(m, "TRACE");
}

/* ---- Letting go ---- */

/* The instance no longer holds req; the freed slot goes to a request
 * waiting for one (gw_svc). (Not while srv->hv holds an answer's
 * headers: a send may fill it.) */
static void release_instance(struct gw_req *req) {
  struct gw_up_req *u = up_of(req);
  if (u->inst) {
    sup_instance_released(u->inst);
    u->inst = NULL;
    if (gw_svc_queued(req->sv.gs)) /* gw_svc: a slot is free */
      gw_svc_dispatch(req->sv.gs);
  }
}

/* The connection of req goes: back to its pool when reusable. */
static void release_conn(struct gw_req *req, int reusable) {
  struct gw_up_req *u = up_of(req);
  if (u->uc == NULL)
    return;
  u->uc->user = NULL;
  gw_up_pool_put(u->uc, reusable);
  u->uc = NULL;
}

/* Everything req holds goes, before its answer ends it. */
static void release_all(struct gw_req *req, int reusable) {
  struct gw_up_req *u = up_of(req);
  release_conn(req, reusable);
  release_instance(req);
  if (u->parser_init) {
    gw_up_parse_free(&u->parser);
    u->parser_init = 0;
    LIST_REMOVE(req, u.up.link);
  }
}

/* An error answer (nothing was sent to the client yet). */
static void fail(struct gw_req *req, int status, const char *msg, const struct ipc_header *extra) {
  release_all(req, 0);
  gw_reply_error(req, status, msg, extra);
}

/* The exchange broke after the head went to the client: the client sees
 * the answer cut (no final chunk, or too few bytes: the connection
 * closes; over HTTP/2 the stream is reset). */
static void cut(struct gw_req *req) {
  release_all(req, 0);
  req->keepalive = 0;
  gw_req_abort(req, 1);
}

/* ---- No instance to take it ---- */

/* 503: no ready instance, or every one full; suffix ("" or a clause of
 * the queue's) ends the reason. */
static void unavailable(struct gw_req *req, int full, const char *suffix) {
  struct sup_service_info si;
  char msg[224];
  sup_view_service_info(up_of(req)->svc, &si);
  if (full)
    snprintf(msg, sizeof(msg),
             "service \"%s\" is overloaded: every ready instance has %d "
             "requests in flight%s",
             si.name, sup_view_service_cfg(up_of(req)->svc)->max_inflight, suffix);
  else
    snprintf(msg, sizeof(msg), "service \"%s\" has no ready instance (%s)%s", si.name,
             si.state_name, suffix);
  fail(req, 503, msg, &gw_retry_after);
}

/* ---- Sending the request ---- */

/* The request head for the program into req->body: the request line as
 * the client sent its target (no prefix stripped; origin-form), gw_fwd's headers (no
 * expect: muster answered 100 itself) and the framing of the body. */
static int build_head(struct gw_req *req) {
  struct gw_server *srv = req->srv;
  struct gw_up_req *u = up_of(req);
  struct ipc_buf *b = &req->body;
  int nh = gw_req_fwd_headers(req, u->upgrade);
  if (nh < 0)
    return nh;
  ipc_buf_reset(b);
  ipc_buf_adds(b, req->method);
  ipc_buf_addc(b, ' ');
  /* origin-form, as a client to an origin server sends it (RFC 9112 §3.2.1):
   * an absolute-form target loses its scheme and authority (host has it) */
  if (req->auth_len > 0 && (req->path_off == req->url_len || req->hbuf.data[req->path_off] != '/'))
    ipc_buf_addc(b, '/');
  ipc_buf_add(b, req->hbuf.data + req->path_off, req->url_len - req->path_off);
  ipc_buf_adds(b, " HTTP/1.1\r\n");
  for (int i = 0; i < nh; i++) {
    const struct ipc_header *h = &srv->hv[i];
    if (h->name_len == 6 && memcmp(h->name, "expect", 6) == 0)
      continue;
    ipc_buf_add(b, h->name, h->name_len);
    ipc_buf_add(b, ": ", 2);
    ipc_buf_add(b, h->value, h->value_len);
    ipc_buf_add(b, "\r\n", 2);
  }
  if (u->chunked_up)
    ipc_buf_adds(b, "transfer-encoding: chunked\r\n");
  ipc_buf_add(b, "\r\n", 2);
  return b->oom ? UV_ENOMEM : 0;
}

/* Pauses the client's body while too much waits for the program. */
static void check_up_queue(struct gw_req *req) {
  struct gw_up_req *u = up_of(req);
  size_t queued = u->uc && u->uc->connected ? gw_up_conn_queued(u->uc) : req->body.len;
  if (!u->paused_up && queued > GW_UP_HIGH && !u->body_end) {
    u->paused_up = 1;
    gw_req_pause_body(req, 1);
    if (req->sv.qe.queued) /* gw_svc: no gap of the client's now; the wait's timer runs */
      gw_svc_rearm(req);
  }
}

/* Sends bufs of the request: written when connected (and kept while the
 * request may be replayed), else kept until the connection is up. */
static void send_up(struct gw_req *req, const uv_buf_t *bufs, unsigned n) {
  struct gw_up_req *u = up_of(req);
  int connected = u->uc && u->uc->connected;
  if (connected)
    gw_up_conn_writev(u->uc, bufs, n);
  if (!connected || u->replayable) {
    for (unsigned i = 0; i < n; i++)
      ipc_buf_add(&req->body, bufs[i].base, bufs[i].len);
    if (connected && req->body.len > REPLAY_MAX) {
      u->replayable = 0; /* too big to keep: this one cannot be sent again */
      ipc_buf_free(&req->body);
    }
  }
  if (u->uc)
    gw_up_conn_timer(u->uc, (uint64_t)req->srv->cfg->request_timeout_ms);
  check_up_queue(req);
}

/* The connection is up: what waited goes. */
static void send_pending(struct gw_req *req) {
  struct gw_up_req *u = up_of(req);
  uv_buf_t b = uv_buf_init(req->body.data, (unsigned)req->body.len);
  gw_up_parse_reset(&u->parser, req->is_head, u->upgrade);
  u->sent_here = 1;
  gw_up_conn_writev(u->uc, &b, 1);
  gw_up_conn_timer(u->uc, (uint64_t)req->srv->cfg->request_timeout_ms);
  if (req->body.len > REPLAY_MAX) {
    u->replayable = 0;
    ipc_buf_free(&req->body);
  }
  check_up_queue(req);
}

/* Sends req to an instance other than avoid (fresh: on a new connection
 * to avoid itself), searching from *cursor (the route's round-robin
 * cursor for a first try). Returns 0 when it was sent (or answered), 1
 * when no instance can take it (*full: some were at max_inflight). */
static int attempt(struct gw_req *req, struct sup_instance *avoid, int fresh, size_t *cursor,
                   int *full) {
  struct gw_up_req *u = up_of(req);
  for (int k = 0; k < 64; k++) {
    int reused = 0;
    struct sup_instance *inst =
        fresh ? avoid : gw_svc_pick(req->srv, u->svc, avoid, cursor, gw_req_client(req), full);
    if (inst == NULL && avoid && !fresh && sup_instance_routable(avoid))
      inst = avoid; /* no other: the one that failed, if it is still up */
    if (inst == NULL || (fresh && !sup_instance_routable(inst))) {
      *full = inst ? 0 : *full;
      return 1;
    }
    sup_instance_acquire(inst);
    u->inst = inst;
    u->sent_here = inst == u->tried ? u->sent_here : 0;
    u->tried = inst;
    u->tries += !fresh;
    req->instance = sup_view_index(inst);
    u->uc = gw_up_pool_get(req->srv, inst, &up_cbs, req, fresh, &reused);
    if (u->uc != NULL) {
      req->srv->up.connects += !reused;
      req->srv->up.reused += reused;
      if (reused)
        send_pending(req);
      return 0;
    }
    release_instance(req); /* no address (its process is going) or out of memory */
    avoid = inst;
    fresh = 0;
  }
  fail(req, 502, "no upstream connection could be made", NULL);
  return 0;
}

/* 1 when req's body is complete (or it has none): the request timer
 * runs for it (while a body streams it bounds the body's gaps). */
static int body_whole(const struct gw_req *req) {
  return req->body_len == 0 || req->u.up.body_end;
}

/* attempt(); when no instance can take req (or others wait before it),
 * it waits for one, or gets its 503. A body that is still arriving waits
 * with it, kept as when connecting (send_up: reading pauses past
 * GW_UP_HIGH); its wait is bounded by the request timer once it is
 * complete or paused, else at each of its pieces (on_client_body). */
static void try_send(struct gw_req *req, struct sup_instance *avoid, int fresh, size_t *cursor) {
  int full = 0;
  if ((fresh || gw_svc_queued(req->sv.gs) == 0) && attempt(req, avoid, fresh, cursor, &full) == 0)
    return;
  gw_svc_wait(req, full, up_of(req)->tries > 0); /* gw_svc: the queue, or the 503 */
}

/* gw_svc's operations for an upstream request. */
static int svc_send(struct gw_req *req, size_t *cursor, int *full) {
  return attempt(req, NULL, 0, cursor, full);
}

static struct sup_instance *svc_inst(const struct gw_req *req) {
  return req->u.up.inst;
}

static const struct gw_svc_ops up_svc_ops = {
    .send = svc_send, .unavailable = unavailable, .inst = svc_inst};

/* ---- When it goes wrong ---- */

/* The response was not valid HTTP (gw_up_parse): 502, or a cut stream. */
static void invalid(struct gw_req *req, const char *why) {
  struct gw_up_req *u = up_of(req);
  sup_log(SUP_WARN, "%s: invalid response to request %s (%s); answering 502",
          u->inst ? sup_view_label(u->inst) : service_name(req), req->reqid,
          why ? why : "invalid response");
  req->srv->up.invalid++;
  if (req->head_sent)
    cut(req);
  else
    fail(req, 502, "the upstream sent an invalid response", NULL);
}

/* Sends req, whose instance (avoid) failed it, to another one when it
 * may (ok: nothing came back, it is kept whole, and its method allows),
 * within gateway.retries and the retry budget (gw_svc); else 502 with why.
 * why_err names the failure in the log. */
static void retry_elsewhere(struct gw_req *req, struct sup_instance *avoid, int ok, const char *why,
                            const char *why_err) {
  char msg[224];
  size_t cursor = 0;
  if (!ok) {
    fail(req, 502, why, NULL);
    return;
  }
  if (up_of(req)->tries > req->srv->cfg->retries) {
    gw_svc_retry(req, GW_RETRY_EXHAUSTED); /* gw_svc: counted */
    fail(req, 502, why, NULL);
    return;
  }
  if (!gw_svc_retry(req, GW_RETRY_RETRIED)) { /* gw_svc: the retry budget said no */
    snprintf(msg, sizeof(msg), "%s; not retried: the service's retry budget is spent", why);
    fail(req, 502, msg, NULL);
    return;
  }
  sup_log(SUP_INFO, "%s: request %s failed (%s) before any answer; sending it again elsewhere",
          avoid ? sup_view_label(avoid) : service_name(req), req->reqid, why_err);
  req->srv->up.retries++;
  try_send(req, avoid, 0, &cursor);
}

/* The exchange failed before any response head reached the client: sent
 * again when that is safe (see the top of the file), else 502. never: the
 * connection was never established (nothing was sent on it). While its
 * instance stands, a request that would go elsewhere first waits for the
 * verdict on it (gw_up_instance_gone, or VERDICT_MS). */
static void failed(struct gw_req *req, int err, int never) {
  struct gw_up_req *u = up_of(req);
  int reused = u->uc && u->uc->requests > 0, none_back = u->parser.bytes == 0;
  int fresh = reused && none_back && u->replayable && u->fresh_tries < FRESH_TRIES && u->inst &&
              sup_instance_routable(u->inst) && idempotent(req->method);
  int elsewhere = none_back && u->replayable && (never || idempotent(req->method));
  struct sup_instance *avoid = u->tried;
  char msg[160];
  size_t cursor = 0;
  if (never)
    snprintf(msg, sizeof(msg), "cannot connect to service \"%s\": %s", service_name(req),
             uv_err_name(err));
  else
    snprintf(msg, sizeof(msg), "service \"%s\" closed the connection without answering",
             service_name(req));
  release_conn(req, 0);
  if (fresh) { /* the keep-alive race: no retry, free of the budget */
    sup_log(SUP_INFO,
            "%s: request %s failed (%s) before any answer; sending it again on a "
            "fresh connection",
            sup_view_label(u->inst), req->reqid, uv_err_name(err));
    release_instance(req);
    u->fresh_tries++;
    req->srv->up.retries++;
    try_send(req, avoid, 1, &cursor);
  } else if (elsewhere && u->inst && body_whole(req)) {
    u->verdict = 1; /* is its instance dying? it keeps holding it until told */
    gw_req_timer(req, VERDICT_MS);
  } else {
    release_instance(req);
    retry_elsewhere(req, avoid, elsewhere, msg, uv_err_name(err));
  }
}

/* No death of its instance within VERDICT_MS of a failure: req goes on as
 * a plain failure of the connection. */
static void verdict_timeout(struct gw_req *req) {
  struct gw_up_req *u = up_of(req);
  char msg[160];
  u->verdict = 0;
  release_instance(req);
  snprintf(msg, sizeof(msg), "service \"%s\" closed the connection without answering",
           service_name(req));
  retry_elsewhere(req, u->tried, 1, msg, "closed");
}

/* The instance inst died holding req, nothing sent to the client yet: a
 * poison is quarantined (gw_svc; v: the n requests the instance was sent);
 * else req goes elsewhere when it may, or 502. */
static void died(struct gw_req *req, struct sup_instance *inst, struct gw_req **v, size_t n) {
  struct gw_up_req *u = up_of(req);
  int ok = u->parser.bytes == 0 && u->replayable && (!u->sent_here || idempotent(req->method));
  if (u->verdict) {
    u->verdict = 0;
    gw_req_timer(req, 0);
  }
  release_conn(req, 0);
  release_instance(req);
  if (u->sent_here && gw_svc_is_poison(req, inst, v, n)) { /* gw_svc: a query of death */
    release_all(req, 0);
    gw_svc_quarantine(req);
    return;
  }
  retry_elsewhere(req, inst, ok, "the instance handling the request exited", "exited");
}

/* ---- The response ---- */

/* ---- The response ----
 * A response's head is held until the end of the read that brought it:
 * a small response complete within one read (most are) then goes out as
 * one vectored write, head and body, as an IPC service's does. Otherwise
 * the head and what was held go at the end of the read (or once HOLD_MAX
 * bytes are held), and the rest streams. */

#define HOLD_MAX (16 * 1024) /* body bytes held with a head, at most */

/* The held head (and body) go to the client: the response streams. */
static int flush_held(struct gw_req *req) {
  struct gw_up_req *u = up_of(req);
  struct gw_server *srv = req->srv;
  int nh = gw_up_parse_headers(&u->parser, &srv->hv, &srv->caphv);
  if (nh < 0)
    return -1;
  u->held = 0;
  gw_req_start_len(req, gw_up_parse_status(&u->parser), srv->hv, (size_t)nh,
                   gw_up_parse_clen(&u->parser));
  if (srv->up_body.len > 0 && req->gen == &up_gen)
    gw_req_send(req, srv->up_body.data, srv->up_body.len);
  return req->gen == &up_gen ? 0 : -1; /* -1: the client went in the meantime */
}

/* A response complete while held: one answer (its headers live in the
 * parser, which goes after the answer ends the request). */
static void respond_held(struct gw_req *req, int reusable) {
  struct gw_up_req *u = up_of(req);
  struct gw_server *srv = req->srv;
  struct gw_up_parser saved = u->parser;
  release_conn(req, reusable);
  release_instance(req); /* (before srv->hv is filled: the freed slot may send) */
  LIST_REMOVE(req, u.up.link);
  u->parser_init = 0;
  int nh = gw_up_parse_headers(&saved, &srv->hv, &srv->caphv);
  if (nh < 0)
    gw_reply_error(req, 500, "out of memory", NULL);
  else
    gw_req_respond(req, gw_up_parse_status(&saved), srv->hv, (size_t)nh, srv->up_body.data,
                   srv->up_body.len);
  gw_up_parse_free(&saved);
}

/* The response is complete: the connection goes back to its pool when
 * the whole request went up and nothing followed the response. One that
 * carried an upgrade the program refused does not: Node hands such a
 * socket to its 'upgrade' handler and parses no more HTTP on it, whatever
 * the handler answered (the next request would wait for its timeout). */
static void complete(struct gw_req *req, int leftover) {
  struct gw_up_req *u = up_of(req);
  int reusable = !leftover && !u->upgrade && u->body_end && gw_up_parse_keepalive(&u->parser);
  if (u->held && !req->is_head) {
    respond_held(req, reusable);
    return;
  }
  if (u->held && flush_held(req) < 0)
    return;
  release_all(req, reusable);
  gw_req_finish(req);
}

static int on_resp_head(void *ctx, struct gw_up_parser *p) {
  struct gw_req *req = ctx;
  gw_svc_answered(req, req->sv.gs); /* gw_svc: evidence against a quarantine */
  if (gw_up_parse_status(p) == 101)
    return 0;                          /* the tunnel is made when the parse stops for it */
  gw_up_conn_timer(up_of(req)->uc, 0); /* request_timeout_ms bounded the head only */
  up_of(req)->held = 1;
  ipc_buf_reset(&req->srv->up_body);
  return 0;
}

static int on_resp_body(void *ctx, const char *data, size_t len) {
  struct gw_req *req = ctx;
  struct gw_up_req *u = up_of(req);
  struct ipc_buf *held = &req->srv->up_body;
  if (u->held && held->len + len <= HOLD_MAX) {
    ipc_buf_add(held, data, len);
    return held->oom ? -1 : 0;
  }
  if (u->held && flush_held(req) < 0)
    return -1;
  gw_req_send(req, data, len);
  if (req->gen != &up_gen)
    return -1;
  if (!u->paused_down && gw_req_queued(req) > GW_UP_HIGH && !gw_req_want_drain(req)) {
    u->paused_down = 1; /* the client reads slower than the program writes */
    gw_up_conn_pause(u->uc, 1);
    gw_req_timer(req, (uint64_t)req->srv->cfg->request_timeout_ms);
  }
  return 0;
}

static const struct gw_up_parse_cbs parse_cbs = {on_resp_head, on_resp_body};

/* The program answered 101: the client's connection becomes a tunnel to
 * this connection (gw_tunnel); rest is what came after the head. */
static void upgraded(struct gw_req *req, const char *rest, size_t n) {
  struct gw_up_req *u = up_of(req);
  struct gw_up_conn *uc = u->uc;
  struct gw_up_parser saved = u->parser; /* its buffers hold the headers */
  u->uc = NULL;
  uc->user = NULL;
  gw_up_conn_unpool(uc);
  gw_up_conn_timer(uc, 0);
  release_instance(req); /* (before srv->hv is filled: the freed slot may send) */
  LIST_REMOVE(req, u.up.link);
  u->parser_init = 0;
  int nh = gw_up_parse_headers(&saved, &req->srv->hv, &req->srv->caphv);
  if (nh < 0) {
    gw_up_conn_close(uc);
    gw_reply_error(req, 500, "out of memory", NULL);
  } else {
    gw_tunnel_start(req, uc, req->srv->hv, (size_t)nh, rest, n); /* ends req */
  }
  gw_up_parse_free(&saved);
}

/* ---- The connection's callbacks ---- */

static void on_up_connect(struct gw_up_conn *uc, int status) {
  struct gw_req *req = uc->user;
  if (status < 0)
    failed(req, status, 1);
  else
    send_pending(req);
}

static void on_up_read(struct gw_up_conn *uc, const char *data, size_t len) {
  struct gw_req *req = uc->user;
  struct gw_up_req *u = up_of(req);
  size_t used;
  int rc = gw_up_parse_feed(&u->parser, data, len, &used);
  if (uc->closing || req->gen != &up_gen)
    return; /* the client went while the answer was passed on */
  if (rc == GW_UP_DONE)
    complete(req, used < len);
  else if (rc == GW_UP_UPGRADE)
    upgraded(req, data + used, len - used);
  else if (rc == GW_UP_INVALID)
    invalid(req, u->parser.err);
  else if (rc == GW_UP_STOPPED)
    fail(req, 500, "out of memory", NULL);
  else if (u->held)
    flush_held(req); /* the rest comes later: the head goes now */
}

static void on_up_end(struct gw_up_conn *uc, int err) {
  struct gw_req *req = uc->user;
  struct gw_up_req *u = up_of(req);
  if (err == UV_EOF && u->parser.bytes > 0) {
    int rc = gw_up_parse_eof(&u->parser);
    if (rc == GW_UP_DONE) { /* a body read until the close */
      complete(req, 1);
      return;
    }
    if (req->gen != &up_gen)
      return;
    if (rc == GW_UP_INVALID) {
      invalid(req, u->parser.err);
      return;
    }
  }
  if (req->head_sent || (u->held && flush_held(req) == 0))
    cut(req);
  else if (req->gen != &up_gen)
    return;
  else if (u->parser.bytes > 0)
    invalid(req, "the upstream closed the connection within its response");
  else
    failed(req, err, 0);
}

/* The program takes the request's bytes again: the client's body goes on. */
static void on_up_drain(struct gw_up_conn *uc) {
  struct gw_req *req = uc->user;
  struct gw_up_req *u = up_of(req);
  if (u->paused_up) {
    u->paused_up = 0;
    gw_req_pause_body(req, 0);
  }
}

/* No response head, or no progress sending the request, within
 * request_timeout_ms: 504, and the connection is closed. */
static void on_up_timeout(struct gw_up_conn *uc) {
  struct gw_req *req = uc->user;
  char msg[128];
  if (req->head_sent)
    return;
  snprintf(msg, sizeof(msg), "no response from service \"%s\" within %d ms", service_name(req),
           req->srv->cfg->request_timeout_ms);
  fail(req, 504, msg, NULL);
}

static const struct gw_up_conn_cbs up_cbs = {.on_connect = on_up_connect,
                                             .on_read = on_up_read,
                                             .on_end = on_up_end,
                                             .on_drain = on_up_drain,
                                             .on_timeout = on_up_timeout};

/* ---- The generator: the client's side ---- */

static void on_abandon(struct gw_req *req) {
  if (req->sv.qe.queued) /* gw_svc: it leaves the queue; nothing was sent */
    gw_svc_leave(req);
  release_all(req, 0);
}

/* The client's body, piece by piece (data NULL: its end). */
static void on_client_body(struct gw_req *req, const char *data, size_t len) {
  struct gw_up_req *u = up_of(req);
  char size[24];
  if (data == NULL) {
    u->body_end = 1;
    if (req->sv.qe.queued) /* gw_svc: the protocol dropped the timer of its wait */
      gw_svc_rearm(req);
    if (u->chunked_up) {
      uv_buf_t b = uv_buf_init("0\r\n\r\n", 5);
      send_up(req, &b, 1);
    }
    return;
  }
  if (req->sv.qe.queued && gw_svc_overdue(req)) {
    gw_svc_expired(req); /* gw_svc: 503 (the rest of the body is not wanted) */
    return;
  }
  u->body_in += len;
  if (!u->chunked_up) {
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    send_up(req, &b, 1);
    return;
  }
  int n = snprintf(size, sizeof(size), "%zx\r\n", len);
  uv_buf_t b[3] = {uv_buf_init(size, (unsigned)n), uv_buf_init((char *)data, (unsigned)len),
                   uv_buf_init("\r\n", 2)};
  send_up(req, b, 3);
}

/* The client took what waited for it: the program's answer goes on. */
static void on_client_drained(struct gw_req *req) {
  struct gw_up_req *u = up_of(req);
  if (u->paused_down && u->uc) {
    u->paused_down = 0;
    gw_req_timer(req, 0);
    gw_up_conn_pause(u->uc, 0);
  }
}

/* The request timer: its wait in the queue is over (gw_svc), no death
 * came within VERDICT_MS, or the client read nothing of its answer for
 * request_timeout_ms. */
static void on_timer(struct gw_req *req) {
  if (req->sv.qe.queued)
    gw_svc_expired(req); /* gw_svc: 503 */
  else if (up_of(req)->verdict)
    verdict_timeout(req);
  else if (up_of(req)->paused_down)
    cut(req);
}

static const struct gw_gen up_gen = {.abandon = on_abandon,
                                     .timeout = on_timer,
                                     .body = on_client_body,
                                     .drained = on_client_drained};

/* ---- The handler ---- */

/* 1 when req asks for a WebSocket (tunnelled as it is: the program checks it). */
static int wants_websocket(struct gw_req *req) {
  uint32_t ul = 0, cl = 0;
  const char *up = gw_req_header_listing(req, "upgrade", "websocket", 0, &ul),
             *conn = gw_req_header_listing(req, "connection", "upgrade", 0, &cl);
  struct rt_hs_in in = {.method = req->method,
                        .http_minor = req->http_minor,
                        .upgrade = {up, up ? ul : 0},
                        .connection = {conn, conn ? cl : 0}};
  return req->body_len == 0 && rt_hs_wanted(&in);
}

static int on_head(const struct gw_handler *h, struct gw_req *req) {
  struct gw_route *rt = gw_req_route(req);
  if (rt == NULL)
    return GW_DECLINED;
  struct gw_svc *gs = rt->target;
  const struct cfg_service *cfg = sup_view_service_cfg(gs->svc);
  if (!cfg->upstream.enabled)
    return GW_LATER; /* an IPC service: the proxy takes it whole */
  struct gw_up_req *u = up_of(req);
  memset(u, 0, sizeof(*u));
  u->svc = gs->svc;
  u->upgrade = (unsigned)wants_websocket(req);
  u->chunked_up = req->body_len < 0;
  u->replayable = 1;
  snprintf(req->service, sizeof(req->service), "%s", cfg->name);
  req->sv = (struct gw_svc_req){.gs = gs, .ops = &up_svc_ops};
  req->gen = &up_gen;
  if (gw_svc_admit(req)) /* gw_svc: quarantined, answered */
    return 0;
  gw_up_parse_init(&u->parser, &parse_cbs, req, (uint32_t)req->srv->cfg->max_header_bytes);
  u->parser_init = 1;
  LIST_INSERT_HEAD(&req->srv->up_reqs, req, u.up.link);
  if (build_head(req) != 0) {
    fail(req, 500, "out of memory", NULL);
    return 0;
  }
  try_send(req, NULL, 0, &rt->rr);
  return 0;
}

/* Requests for upstream services are all taken at their head. */
static int on_req(const struct gw_handler *h, struct gw_req *req) {
  return GW_DECLINED;
}

const struct gw_handler gw_up_handler = {.name = "upstream", .on_req = on_req, .on_head = on_head};

/* The requests inst holds, not yet answered, into v (at most max): those
 * it was sent first (their count in *nsent), then those it was not. */
static size_t held_by(struct gw_server *srv, struct sup_instance *inst, struct gw_req **v,
                      size_t max, size_t *nsent) {
  struct gw_req *req;
  size_t k = 0;
  *nsent = 0;
  for (int sent = 1; sent >= 0; sent--)
    LIST_FOREACH(req, &srv->up_reqs, u.up.link)
  if (k < max && req->u.up.inst == inst && !req->head_sent && !req->u.up.held &&
      req->u.up.sent_here == (unsigned)sent)
    v[k++] = req;
  for (size_t i = 0; i < k && v[i]->u.up.sent_here; i++)
    (*nsent)++;
  return k;
}

void gw_up_instance_gone(struct gw_server *srv, struct sup_instance *inst) {
  struct gw_req *req, **v;
  size_t n = 0, nsent;
  gw_up_pools_gone(srv, inst);
  LIST_FOREACH(req, &srv->up_reqs, u.up.link)
  n += req->u.up.inst == inst;
  if (n == 0 || (v = malloc(n * sizeof(*v))) == NULL) {
    LIST_FOREACH(req, &srv->up_reqs, u.up.link)
    if (req->u.up.inst == inst)
      release_instance(req); /* its connection's end says what follows */
    return;
  }
  size_t k = held_by(srv, inst, v, n, &nsent);
  gw_svc_deaths(v, nsent, ++srv->deaths); /* gw_svc: each request it was sent counts it */
  for (size_t i = 0; i < k; i++)          /* still its? answering one may end another */
    if (v[i]->u.up.inst == inst && !v[i]->head_sent)
      died(v[i], inst, v, nsent);
  LIST_FOREACH(req, &srv->up_reqs, u.up.link)
  if (req->u.up.inst == inst)
    release_instance(req); /* streaming: its connection's end cuts it */
  free(v);
}

void gw_up_render_metrics(const struct gw_server *srv, struct ipc_buf *b) {
  char t[1024];
  const struct gw_up_stats *st = &srv->up;
  snprintf(t, sizeof(t),
           "# HELP muster_upstream_connections_total Connections opened to upstream programs.\n"
           "# TYPE muster_upstream_connections_total counter\nmuster_upstream_connections_total "
           "%llu\n# HELP muster_upstream_reused_total Requests sent on a pooled connection.\n"
           "# TYPE muster_upstream_reused_total counter\nmuster_upstream_reused_total %llu\n"
           "# HELP muster_upstream_idle_connections Pooled connections waiting for a request.\n"
           "# TYPE muster_upstream_idle_connections gauge\nmuster_upstream_idle_connections %zu\n"
           "# HELP muster_upstream_retries_total Requests sent again after a failure.\n"
           "# TYPE muster_upstream_retries_total counter\nmuster_upstream_retries_total %llu\n"
           "# HELP muster_upstream_invalid_total Upstream responses refused (502).\n"
           "# TYPE muster_upstream_invalid_total counter\nmuster_upstream_invalid_total %llu\n"
           "# HELP muster_upstream_tunnels WebSocket tunnels to upstreams open.\n"
           "# TYPE muster_upstream_tunnels gauge\nmuster_upstream_tunnels %zu\n",
           (unsigned long long)st->connects, (unsigned long long)st->reused, gw_up_pools_idle(srv),
           (unsigned long long)st->retries, (unsigned long long)st->invalid, srv->tunnels);
  ipc_buf_adds(b, t);
  gw_tcp_render_metrics(srv->tcp, b);
}
