/* gw_tunnel — a WebSocket (or any 101 upgrade) to an upstream program,
 * passed through (SPEC §9): once the program answered 101, the client's
 * connection gets this protocol and its bytes go to the program's
 * connection as they are, and back. Each way stops reading while the other
 * side has GW_UP_HIGH bytes queued, and goes on once it is down to
 * GW_UP_LOW / GW_CONN_DRAINED. When either side ends, the other is closed
 * once what is queued for it is out (the client's queue within gw_conn's
 * linger; the program's within CLOSE_GRACE_MS). muster looks at no frame:
 * the program sees the client's handshake and frames unchanged, so
 * Socket.IO or `ws` apps run as they are. */
#include <stdlib.h>

#include "gw.h"
#include "gw_up.h"
#include "gw_up_pool.h"

#define CLOSE_GRACE_MS 5000 /* the program's side, after the client went */

struct gw_tunnel {
  struct gw_conn *c;     /* the client's connection, NULL once it closed */
  struct gw_up_conn *uc; /* the program's, NULL once it closed */
  struct gw_server *srv;
  int sides; /* sides not yet gone; the last one frees the tunnel */
};

static struct gw_tunnel *tunnel_of(struct gw_conn *c) {
  return c->pdata;
}

/* One side is gone for good; the last one frees t. */
static void side_gone(struct gw_tunnel *t) {
  if (--t->sides == 0)
    free(t);
}

/* Closes the program's side. */
static void close_up(struct gw_tunnel *t) {
  struct gw_up_conn *uc = t->uc;
  t->uc = NULL;
  gw_up_conn_close(uc);
  side_gone(t);
}

/* ---- The program's side ---- */

static void up_connect(struct gw_up_conn *uc, int status) {
  (void)uc;
  (void)status; /* connected long ago */
}

static void up_read(struct gw_up_conn *uc, const char *data, size_t len) {
  struct gw_tunnel *t = uc->user;
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  if (t->c == NULL)
    return;
  gw_conn_writev(t->c, &b, 1);
  if (t->c && !t->c->closing && gw_conn_queued(t->c) > GW_UP_HIGH && !gw_conn_want_drain(t->c))
    gw_up_conn_pause(uc, 1); /* the client reads slower than the program writes */
}

/* The program closed its side or failed: the client goes once its queue is out. */
static void up_end(struct gw_up_conn *uc, int err) {
  struct gw_tunnel *t = uc->user;
  struct gw_conn *c = t->c;
  close_up(t); /* t may be gone from here */
  if (c)
    gw_conn_close(c, 1);
}

static void up_drain(struct gw_up_conn *uc) {
  struct gw_tunnel *t = uc->user;
  if (t->c)
    gw_conn_resume(t->c);
}

/* The grace after the client went is over. */
static void up_timeout(struct gw_up_conn *uc) {
  close_up(uc->user);
}

static const struct gw_up_conn_cbs up_side = {.on_connect = up_connect,
                                              .on_read = up_read,
                                              .on_end = up_end,
                                              .on_drain = up_drain,
                                              .on_timeout = up_timeout};

/* ---- The client's side (the protocol of its connection) ---- */

static void t_start(struct gw_conn *c) {
  (void)c;
}

static void t_on_data(struct gw_conn *c, const char *data, size_t len) {
  struct gw_tunnel *t = tunnel_of(c);
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  if (t->uc == NULL)
    return;
  gw_up_conn_writev(t->uc, &b, 1);
  if (t->uc && gw_up_conn_queued(t->uc) > GW_UP_HIGH)
    gw_conn_pause(c); /* on_drain resumes */
}

static void t_stopping(struct gw_conn *c) {
  gw_conn_close(c, 1);
}

/* The client went: the program's side shuts down once its queue is out,
 * and closes at its EOF or after CLOSE_GRACE_MS. */
static void t_on_close(struct gw_conn *c) {
  struct gw_tunnel *t = tunnel_of(c);
  t->c = NULL;
  t->srv->tunnels--;
  if (t->uc) {
    gw_up_conn_shutdown(t->uc);
    gw_up_conn_timer(t->uc, CLOSE_GRACE_MS);
  }
}

static void t_release(struct gw_conn *c) {
  side_gone(tunnel_of(c));
}

/* The client took what waited for it: the program's bytes go on. */
static void t_drained(struct gw_conn *c) {
  struct gw_tunnel *t = tunnel_of(c);
  if (t->uc)
    gw_up_conn_pause(t->uc, 0);
}

static const struct gw_proto tunnel_proto = {.name = "tunnel",
                                             .start = t_start,
                                             .on_data = t_on_data,
                                             .stopping = t_stopping,
                                             .on_close = t_on_close,
                                             .release = t_release,
                                             .drained = t_drained};

void gw_tunnel_start(struct gw_req *req, struct gw_up_conn *uc, const struct ipc_header *h,
                     size_t nh, const char *rest, size_t n) {
  struct gw_conn *c = req->conn;
  struct gw_tunnel *t = calloc(1, sizeof(*t));
  if (t == NULL) {
    gw_up_conn_close(uc);
    gw_reply_error(req, 500, "out of memory", NULL);
    return;
  }
  t->c = c;
  t->uc = uc;
  t->srv = req->srv;
  t->sides = 2;
  uc->cbs = &up_side;
  uc->user = t;
  c->pdata = t;
  req->srv->tunnels++;
  gw_req_switch(req, h, nh, &tunnel_proto); /* the 101; c is a tunnel from here */
  if (n > 0 && !c->closing)
    up_read(uc, rest, n);                 /* what the program sent after its head */
  if (c->h1->in.len > 0 && !c->closing) { /* what the client sent after its request */
    struct ipc_buf in = c->h1->in;
    ipc_buf_init(&c->h1->in);
    t_on_data(c, in.data, in.len);
    ipc_buf_free(&in);
  }
}

size_t gw_tunnel_count(const struct gw_server *srv) {
  return srv->tunnels;
}
