/* gw_conn — one client connection: accepting, reading into the transport,
 * writing with a bounded queue, closing. See gw_conn.h. */
#include "gw_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "gw_pp.h"
#include "gw_up_pool.h"
#include "rt_buf.h"
#include "sup_log.h"
#include "util_vec.h"

#define WQ_MAX ((size_t)64 << 20) /* answer bytes queued for one slow client */
#define LINGER_MS 5000            /* a closing connection's last writes */
#define KEEP_CAP (64 * 1024)      /* buffer capacity kept between writes */

static void on_flush_cb(uv_prepare_t *h);

/* ---- The plain transport: bytes pass through ---- */

static void plain_on_read(struct gw_conn *c, const char *data, size_t len) {
  c->proto->on_data(c, data, len);
}

static const struct gw_transport plain = {
    .name = "tcp", .scheme = "http", .on_read = plain_on_read, .writev = gw_conn_sock_writev};

/* ---- Timer and reading ---- */

void gw_conn_timer(struct gw_conn *c, uint64_t ms, uv_timer_cb cb) {
  if (cb == NULL)
    uv_timer_stop(&c->timer);
  else
    uv_timer_start(&c->timer, cb, ms, 0);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  struct gw_conn *c = h->data;
  buf->base = c->srv->rbuf; /* shared: every read is consumed at once */
  buf->len = sizeof(c->srv->rbuf);
}

/* ---- The PROXY header (gateway.proxy_protocol) ---- */

/* Reads the PROXY header from the connection's first bytes: its client
 * becomes c->remote. Returns how many of data's len bytes it took (the
 * rest is the connection's own), or -1: the header is not whole yet, or
 * the connection was closed (not a header; the log says why). */
static ssize_t pp_take(struct gw_conn *c, const char *data, size_t len) {
  struct gw_pp pp;
  int r = gw_pp_feed(&c->pp, data, len, &pp);
  if (r == GW_PP_ERROR) {
    sup_log(SUP_WARN, "gateway: connection from %s: %s (gateway.proxy_protocol is on); closing",
            c->remote, pp.why);
    gw_conn_close(c, 0);
  }
  if (r <= 0)
    return -1;
  if (!pp.local)
    util_ip_text(&pp.src, c->remote);
  c->pp_wait = 0;
  return r;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct gw_conn *c = s->data;
  if (nread == 0)
    return;
  if (nread < 0) {
    if (nread == UV_EOF && c->close_after_write && c->linger) {
      c->linger = 0; /* it has no more to say: what is queued goes, then the close */
      uv_read_stop(s);
      return;
    }
    gw_conn_close(c, 0); /* the client went away: its request is abandoned */
    return;
  }
  struct gw_server *srv = c->srv;
  const char *data = buf->base;
  size_t len = (size_t)nread;
  if (c->pp_wait && !c->closing) {
    ssize_t took = pp_take(c, data, len);
    if (took < 0)
      return;
    data += took;
    len -= (size_t)took;
  }
  if (!c->closing && len > 0)
    c->tp->on_read(c, data, len);
  /* What this read sent to programs over HTTP goes now, head and body in
   * one write, before the next client's read: each request has its
   * upstream connection to itself, so waiting for the turn's other reads
   * (the prepare handle) only made the program start later (p99 behind
   * wrk -c64, bench/RESULTS.md). The prepare still writes what timers and
   * other callbacks cork. */
  if (!TAILQ_EMPTY(&srv->up_dirty))
    gw_up_flush_all(srv);
}

void gw_conn_pause(struct gw_conn *c) {
  uv_read_stop((uv_stream_t *)&c->tcp);
}

void gw_conn_resume(struct gw_conn *c) {
  if (!c->closing)
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

void gw_conn_set_proto(struct gw_conn *c, const struct gw_proto *p) {
  c->proto = p;
  p->start(c);
}

/* ---- Writing ---- */

/* Empties b; a large allocation (a big answer, once) is given back rather
 * than held for the life of a keep-alive connection. */
static void trim(struct ipc_buf *b) {
  if (b->cap > KEEP_CAP)
    ipc_buf_free(b);
  else
    ipc_buf_reset(b);
}

static void on_write(uv_write_t *req, int status);

static void do_write(struct gw_conn *c) {
  struct ipc_buf t = c->wbuf;
  c->wbuf = c->wq;
  c->wq = t;
  ipc_buf_reset(&c->wq);
  uv_buf_t b = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
  c->wreq.data = c;
  if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
    gw_conn_close(c, 0);
    return;
  }
  c->writing = 1;
}

/* Keeps srv->buffered, the answer bytes queued for clients on every
 * connection, equal to the sum of what each holds (none once closed). */
static void account(struct gw_conn *c) {
  size_t now = uv_is_closing((uv_handle_t *)&c->tcp) ? 0 : c->wq.len + c->wbuf.len + c->held;
  c->srv->buffered = c->srv->buffered - c->counted + now;
  c->counted = now;
}

/* Over max_buffered_bytes in all: the connections holding the most are
 * dropped until it fits (clients that do not read what they asked for;
 * Envoy's overload manager resets its largest streams the same way). */
static void shed_buffered(struct gw_server *srv) {
  size_t max = (size_t)srv->cfg->max_buffered_bytes;
  while (srv->buffered > max) {
    struct gw_conn *big = NULL, *c;
    LIST_FOREACH(c, &srv->conns, link)
    if (big == NULL || c->counted > big->counted)
      big = c;
    if (big == NULL || big->counted == 0)
      return;
    sup_log(SUP_WARN,
            "gateway: %zu response bytes queued for clients (max_buffered_bytes "
            "%zu); closing the connection of %s, which is not reading %zu of them",
            srv->buffered, max, big->remote, big->counted);
    gw_conn_close(big, 0);
  }
}

/* proto->drained, when it asked, once the queue is down: after a write
 * completed, or after a flush of corked or transport-held bytes that the
 * socket took at once (TLS: no write completes then, and a tunnel paused
 * on the client's queue waited for ever). */
static void drained_check(struct gw_conn *c) {
  if (c->want_drain && !c->closing && gw_conn_queued(c) <= GW_CONN_DRAINED) {
    c->want_drain = 0;
    if (c->proto->drained)
      c->proto->drained(c);
  }
}

static void on_write(uv_write_t *req, int status) {
  struct gw_conn *c = req->data;
  c->writing = 0;
  trim(&c->wbuf);
  account(c);
  if (status < 0) {
    gw_conn_close(c, 0);
    return;
  }
  if (c->wq.len > 0) {
    do_write(c);
  } else if (c->close_after_write) {
    c->close_after_write = 0;
    gw_conn_close(c, 1); /* the queue is out: closes, or lingers */
  }
  drained_check(c);
}

int gw_conn_want_drain(struct gw_conn *c) {
  if (gw_conn_queued(c) <= GW_CONN_DRAINED)
    return 1;
  c->want_drain = 1;
  return 0;
}

/* Tries the socket first: most writes go out whole at once, with no copy
 * and no uv_write_t; the rest is queued. */
static void try_then_queue(struct gw_conn *c, const uv_buf_t *bufs, unsigned n) {
  int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
  size_t done = w > 0 ? (size_t)w : 0;
  if (w < 0 && w != UV_EAGAIN) {
    gw_conn_close(c, 0);
    return;
  }
  for (unsigned i = 0; i < n; i++) {
    if (done >= bufs[i].len) {
      done -= bufs[i].len;
      continue;
    }
    ipc_buf_add(&c->wq, bufs[i].base + done, bufs[i].len - done);
    done = 0;
  }
  if (c->wq.len > 0)
    do_write(c);
}

static void queue_writev(struct gw_conn *c, const uv_buf_t *bufs, unsigned n) {
  if (c->closing && (!c->close_after_write || uv_is_closing((uv_handle_t *)&c->tcp)))
    return;
  if (!c->writing && c->wq.len == 0) {
    try_then_queue(c, bufs, n);
    return;
  }
  for (unsigned i = 0; i < n; i++)
    ipc_buf_add(&c->wq, bufs[i].base, bufs[i].len);
  if (c->wq.len > WQ_MAX || c->wq.oom) {
    /* The client reads slower than the service writes (a stream it does
     * not consume): drop it rather than buffer without bound. */
    sup_log(SUP_WARN,
            "gateway: client %s is not reading its response (%zu bytes queued); "
            "closing the connection",
            c->remote, c->wq.len);
    gw_conn_close(c, 0);
  }
}

void gw_conn_sock_writev(struct gw_conn *c, const uv_buf_t *bufs, unsigned n) {
  struct gw_server *srv = c->srv;
  queue_writev(c, bufs, n);
  account(c);
  if (srv->buffered > (size_t)srv->cfg->max_buffered_bytes)
    shed_buffered(srv);
}

void gw_conn_hold(struct gw_conn *c, size_t held) {
  struct gw_server *srv = c->srv;
  c->held = held;
  account(c);
  if (srv->buffered > (size_t)srv->cfg->max_buffered_bytes)
    shed_buffered(srv);
}

size_t gw_conn_queued(const struct gw_conn *c) {
  return c->wq.len + c->wbuf.len + c->cork_bytes + c->tp_held;
}

/* ---- Corked output ---- */

/* c is on srv->dirty: written (and its protocol's flush run) before the
 * loop polls. */
static void dirty_add(struct gw_conn *c) {
  if (c->on_dirty)
    return;
  c->on_dirty = 1;
  TAILQ_INSERT_TAIL(&c->srv->dirty, c, dirty);
  uv_prepare_start(&c->srv->flush, on_flush_cb);
}

static void dirty_remove(struct gw_conn *c) {
  if (c->on_dirty) {
    c->on_dirty = 0;
    TAILQ_REMOVE(&c->srv->dirty, c, dirty);
  }
}

/* Before the loop polls: every corked connection writes. */
static void on_flush_cb(uv_prepare_t *h) {
  struct gw_server *srv = h->data;
  gw_conn_flush_all(srv);
  uv_prepare_stop(h);
}

int gw_conn_cork(struct gw_conn *c, struct rt_buf *b) {
  if (c->closing)
    return 0;
  if (util_vec_reserve(&c->cork, &c->capcork, c->ncork + 1) != 0)
    return UV_ENOMEM;
  c->cork[c->ncork++] = rt_buf_ref(b);
  c->cork_bytes += b->len;
  dirty_add(c);
  return 0;
}

void gw_conn_flush_soon(struct gw_conn *c) {
  if (c->closing)
    return;
  c->flush_due = 1;
  dirty_add(c);
}

/* Drops what is corked (and c from the dirty list unless its protocol's
 * flush is due). */
static void cork_drop(struct gw_conn *c) {
  for (size_t i = 0; i < c->ncork; i++)
    rt_buf_unref(c->cork[i]);
  if (!c->flush_due && !c->http1_drop)
    dirty_remove(c);
  c->ncork = 0;
  c->cork_bytes = 0;
}

void gw_conn_uncork(struct gw_conn *c) {
  uv_buf_t v[64];
  size_t i = 0;
  if (c->ncork == 0)
    return;
  while (i < c->ncork && !c->closing) {
    unsigned n = 0;
    for (; i < c->ncork && n < 64; i++)
      v[n++] = uv_buf_init(c->cork[i]->data, (unsigned)c->cork[i]->len);
    gw_conn_writev(c, v, n);
  }
  cork_drop(c);
}

/* Takes c off the transport's dirty list. */
static void tp_clean(struct gw_conn *c) {
  if (c->tp_dirty) {
    c->tp_dirty = 0;
    TAILQ_REMOVE(&c->srv->tp_dirty, c, tp_link);
  }
}

void gw_conn_tp_dirty(struct gw_conn *c) {
  if (c->tp_dirty || uv_is_closing((uv_handle_t *)&c->tcp))
    return;
  c->tp_dirty = 1;
  TAILQ_INSERT_TAIL(&c->srv->tp_dirty, c, tp_link);
  uv_prepare_start(&c->srv->flush, on_flush_cb);
}

void gw_conn_flush_all(struct gw_server *srv) {
  struct gw_conn *c;
  while ((c = TAILQ_FIRST(&srv->dirty)) != NULL) {
    dirty_remove(c);
    if (c->http1_drop)
      gw_conn_http1_free(c);
    if (c->flush_due) {
      c->flush_due = 0;
      if (!c->closing && c->proto->flush)
        c->proto->flush(c); /* the protocol's frames of this turn (HTTP/2) */
    }
    gw_conn_uncork(c); /* its bytes may make it tp-dirty */
    drained_check(c);
  }
  while ((c = TAILQ_FIRST(&srv->tp_dirty)) != NULL) {
    tp_clean(c);
    c->tp->flush(c); /* the transport's batch of this turn (TLS: one SSL_write) */
    drained_check(c);
  }
}

/* ---- HTTP/1's state ---- */

void gw_conn_http1_drop(struct gw_conn *c) {
  if (c->h1 == NULL || c->http1_drop || c->closing)
    return; /* a closing connection frees it with itself */
  c->http1_drop = 1;
  dirty_add(c);
}

void gw_conn_http1_free(struct gw_conn *c) {
  c->http1_drop = 0;
  if (c->h1 == NULL)
    return;
  gw_req_free(c->req);
  ipc_buf_free(&c->h1->in);
  free((struct gw_conn_http1 *)c->h1); /* h1 is the block's first member */
  c->h1 = NULL;
  c->req = NULL;
}

/* ---- Life cycle ---- */

static void on_closed(uv_handle_t *h) {
  struct gw_conn *c = h->data;
  if (--c->open_handles > 0)
    return;
  c->proto->release(c);
  if (c->tp->release)
    c->tp->release(c);
  gw_conn_http1_free(c);
  ipc_buf_free(&c->pp);
  ipc_buf_free(&c->wq);
  ipc_buf_free(&c->wbuf);
  free(c->cork);
  free(c);
}

static void on_linger_timeout(uv_timer_t *t) {
  struct gw_conn *c = t->data;
  c->close_after_write = 0;
  gw_conn_close(c, 0);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  struct gw_conn *c = req->data;
  if (status < 0 && !uv_is_closing((uv_handle_t *)&c->tcp))
    gw_conn_close(c, 0);
}

/* Everything is written: our FIN goes, and the client's bytes are read
 * (on_read drops them, c is closing) until its own FIN or the timeout.
 * Returns 0, or -1 when the socket will not shut down. */
static int start_linger(struct gw_conn *c) {
  c->sreq.data = c;
  if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
    return -1;
  c->lingering = 1;
  gw_conn_timer(c, LINGER_MS, on_linger_timeout);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  return 0;
}

void gw_conn_close(struct gw_conn *c, int graceful) {
  if (uv_is_closing((uv_handle_t *)&c->tcp) || (graceful && c->lingering))
    return;
  if (graceful)
    gw_conn_uncork(c); /* what was corked goes first */
  if (graceful && c->tp->closing)
    c->tp->closing(c); /* the transport's last bytes (TLS close_notify) */
  if (uv_is_closing((uv_handle_t *)&c->tcp))
    return; /* a write of the above failed: the connection is closed already */
  if (!c->closing) {
    c->closing = 1;
    c->proto->on_close(c); /* once: what is in progress is abandoned */
  }
  if (graceful && (c->writing || c->wq.len > 0)) {
    if (!c->close_after_write) {
      c->close_after_write = 1;                       /* on_write closes once the queue is out */
      gw_conn_timer(c, LINGER_MS, on_linger_timeout); /* or when it will not read */
      if (!c->linger)
        uv_read_stop((uv_stream_t *)&c->tcp);
      else /* what the client sends is dropped: it may be waiting to send */
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
    return;
  }
  if (graceful && c->linger && !c->lingering && start_linger(c) == 0)
    return;
  c->flush_due = 0;
  c->http1_drop = 0; /* freed in on_closed: c leaves the dirty list now */
  cork_drop(c);
  tp_clean(c);
  LIST_REMOVE(c, link);
  c->srv->nconns--;
  c->open_handles = 2;
  uv_close((uv_handle_t *)&c->tcp, on_closed);
  uv_close((uv_handle_t *)&c->timer, on_closed);
  account(c); /* what it held is dropped */
}

void gw_addr_text(const struct sockaddr_storage *ss, char *out, size_t n) {
  if (ss->ss_family == AF_INET6)
    uv_ip6_name((const struct sockaddr_in6 *)ss, out, n);
  else
    uv_ip4_name((const struct sockaddr_in *)ss, out, n);
}

void gw_peer_ip(const uv_tcp_t *t, char *out, size_t n) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  snprintf(out, n, "?");
  if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &len) == 0)
    gw_addr_text(&ss, out, n);
}

/* The client's IP as text into c->remote ("?" when unknown). */
static void read_remote(struct gw_conn *c) {
  gw_peer_ip(&c->tcp, c->remote, sizeof(c->remote));
}

void gw_conn_start_proto(struct gw_conn *c) {
  if (!c->closing)
    c->proto->start(c);
}

void gw_conn_accept(struct gw_server *srv, uv_stream_t *listener, const struct gw_transport *tp) {
  struct gw_conn *c = calloc(1, sizeof(*c));
  struct gw_conn_http1 *http1 = c ? calloc(1, sizeof(*http1)) : NULL;
  if (http1 == NULL) {
    free(c);
    return; /* the connection waits in the backlog; the next accept tries again */
  }
  c->h1 = &http1->h1;
  c->req = &http1->req;
  c->srv = srv;
  c->tp = tp ? tp : &plain;
  c->proto = &gw_h1_proto;
  uv_tcp_init(srv->loop, &c->tcp);
  uv_timer_init(srv->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  LIST_INSERT_HEAD(&srv->conns, c, link);
  srv->nconns++;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
    gw_conn_close(c, 0);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  read_remote(c);
  c->pp_wait = srv->edge && srv->cfg->proxy_protocol;
  if (c->tp->start == NULL)
    c->proto->start(c);
  else if (c->tp->start(c) < 0) {
    gw_conn_close(c, 0);
    return;
  }
  gw_conn_resume(c);
}
