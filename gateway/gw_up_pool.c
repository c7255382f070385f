/* gw_up_pool — connections to upstream programs and their keep-alive
 * pools. See gw_up_pool.h. */
#include "gw_up_pool.h"

#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "gw_conn.h"
#include "sup_log.h"
#include "sup_view.h"
#include "util_unix.h"

#define KEEP_CAP (64 * 1024) /* buffer capacity kept between writes */

/* The idle and busy connections of one instance's process. */
struct gw_up_pool {
  struct sup_instance *inst;    /* whose (the key in srv->up_pools) */
  int port;                     /* its address: 127.0.0.1:port ([::1] with */
  int ipv6;                     /*   ipv6: sup_view_upstream_addr), */
  char *path;                   /*   or this Unix socket (owned) */
  LIST_HEAD(, gw_up_conn) idle; /* most recently used first */
  LIST_HEAD(, gw_up_conn) busy;
  size_t nidle;
};

static const struct cfg_upstream *up_cfg(const struct sup_instance *inst) {
  return &sup_view_service_cfg(sup_view_owner(inst))->upstream;
}

/* ---- Closing ---- */

static void on_closed(uv_handle_t *h) {
  struct gw_up_conn *uc = h->data;
  if (--uc->open > 0)
    return;
  ipc_buf_free(&uc->wq);
  ipc_buf_free(&uc->wbuf);
  free(uc);
}

/* Takes uc off its pool's lists. */
static void unlist(struct gw_up_conn *uc) {
  if (uc->pool == NULL)
    return;
  LIST_REMOVE(uc, link);
  if (uc->idle)
    uc->pool->nidle--;
  uc->pool = NULL;
  uc->idle = 0;
}

static void uncork(struct gw_up_conn *uc);

void gw_up_conn_close(struct gw_up_conn *uc) {
  if (uc->closing)
    return;
  uncork(uc);
  uc->closing = 1;
  uc->cbs = NULL;
  unlist(uc);
  uv_close(&uc->sock.h, on_closed);
  uv_close((uv_handle_t *)&uc->timer, on_closed);
}

void gw_up_conn_unpool(struct gw_up_conn *uc) {
  unlist(uc);
}

/* The connection ended (EOF or an error): the user hears it once; an
 * idle one just closes. */
static void ended(struct gw_up_conn *uc, int err) {
  if (uc->closing || uc->failed || (uc->ended && err == UV_EOF))
    return;
  if (uc->ended) { /* a write failed after the EOF was told: the user hears again */
    uc->failed = 1;
    if (uc->cbs)
      uc->cbs->on_end(uc, err);
    return;
  }
  uc->ended = 1;
  uc->failed = err != UV_EOF;
  uv_read_stop(&uc->sock.s);
  if (uc->cbs == NULL) {
    gw_up_conn_close(uc);
    return;
  }
  uc->cbs->on_end(uc, err);
}

/* ---- Reading ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  struct gw_up_conn *uc = h->data;
  buf->base = uc->srv->rbuf; /* shared: every read is consumed at once */
  buf->len = sizeof(uc->srv->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct gw_up_conn *uc = s->data;
  if (nread == 0 || uc->closing)
    return;
  if (nread < 0) {
    ended(uc, (int)nread);
    return;
  }
  if (uc->cbs == NULL) { /* an idle connection is spoken to: it cannot be trusted */
    gw_up_conn_close(uc);
    return;
  }
  uc->bytes_in += (uint64_t)nread;
  uc->cbs->on_read(uc, buf->base, (size_t)nread);
}

void gw_up_conn_pause(struct gw_up_conn *uc, int pause) {
  if (uc->closing || uc->ended || !uc->connected)
    return;
  uc->paused = (unsigned)pause;
  if (pause)
    uv_read_stop(&uc->sock.s);
  else
    uv_read_start(&uc->sock.s, on_alloc, on_read);
}

/* ---- Writing ---- */

static void on_write(uv_write_t *req, int status);
static void drained(struct gw_up_conn *uc);

static void do_write(struct gw_up_conn *uc) {
  struct ipc_buf t = uc->wbuf;
  uc->wbuf = uc->wq;
  uc->wq = t;
  ipc_buf_reset(&uc->wq);
  uv_buf_t b = uv_buf_init(uc->wbuf.data, (unsigned)uc->wbuf.len);
  uc->wreq.data = uc;
  if (uv_write(&uc->wreq, &uc->sock.s, &b, 1, on_write) < 0) {
    ended(uc, UV_EPIPE);
    return;
  }
  uc->writing = 1;
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)req;
  (void)status;
}

/* The queue is out: a pending shutdown goes now. */
static void maybe_shutdown(struct gw_up_conn *uc) {
  if (uc->shut && !uc->writing && uc->wq.len == 0 && !uc->closing) {
    uc->shut = 0;
    if (uv_shutdown(&uc->sreq, &uc->sock.s, on_shutdown) < 0)
      ended(uc, UV_EPIPE);
  }
}

static void on_write(uv_write_t *req, int status) {
  struct gw_up_conn *uc = req->data;
  uc->writing = 0;
  if (uc->wbuf.cap > KEEP_CAP)
    ipc_buf_free(&uc->wbuf);
  else
    ipc_buf_reset(&uc->wbuf);
  if (uc->closing)
    return;
  if (status < 0) {
    ended(uc, status);
    return;
  }
  if (uc->wq.len > 0)
    do_write(uc);
  maybe_shutdown(uc);
  if (uc->finishing && !uc->writing && uc->wq.len == 0) {
    gw_up_conn_close(uc); /* gw_up_conn_finish: all written */
    return;
  }
  drained(uc);
}

/* The queue went past GW_UP_HIGH and is down to GW_UP_LOW: the user
 * feeds it again. */
static void drained(struct gw_up_conn *uc) {
  if (uc->high && !uc->closing && gw_up_conn_queued(uc) <= GW_UP_LOW && uc->cbs) {
    uc->high = 0;
    uc->cbs->on_drain(uc);
  }
}

/* Takes uc off the corked list. */
static void uncork(struct gw_up_conn *uc) {
  if (uc->corked) {
    uc->corked = 0;
    TAILQ_REMOVE(&uc->srv->up_dirty, uc, dirty);
  }
}

/* Writes what waits in the queue: at once what the socket takes, the rest
 * with uv_write. */
static void flush(struct gw_up_conn *uc) {
  uncork(uc);
  if (!uc->connected || uc->writing || uc->wq.len == 0 || uc->closing || uc->failed)
    return;
  uv_buf_t b = uv_buf_init(uc->wq.data, (unsigned)uc->wq.len);
  int w = uv_try_write(&uc->sock.s, &b, 1);
  if (w < 0 && w != UV_EAGAIN) {
    ended(uc, w);
    return;
  }
  if (w > 0)
    ipc_buf_consume(&uc->wq, (size_t)w);
  if (uc->wq.len > 0)
    do_write(uc);
  else
    maybe_shutdown(uc);
  drained(uc);
}

static void on_flush(uv_prepare_t *h) {
  gw_up_flush_all(h->data);
}

void gw_up_flush_all(struct gw_server *srv) {
  struct gw_up_conn *uc;
  while ((uc = TAILQ_FIRST(&srv->up_dirty)) != NULL)
    flush(uc); /* takes uc off the list */
  uv_prepare_stop(&srv->up_flush);
}

void gw_up_conn_writev(struct gw_up_conn *uc, const uv_buf_t *bufs, unsigned n) {
  if (uc->closing || uc->failed)
    return;
  for (unsigned i = 0; i < n; i++) {
    uc->bytes_out += bufs[i].len;
    ipc_buf_add(&uc->wq, bufs[i].base, bufs[i].len);
  }
  if (uc->wq.oom) {
    ended(uc, UV_ENOMEM);
    return;
  }
  if (gw_up_conn_queued(uc) > GW_UP_HIGH)
    uc->high = 1;
  if (uv_is_closing((uv_handle_t *)&uc->srv->up_flush)) {
    flush(uc); /* the gateway is closing: no more corking */
  } else if (!uc->corked && uc->connected && !uc->writing) {
    uc->corked = 1; /* written before the loop polls, with what follows this turn */
    TAILQ_INSERT_TAIL(&uc->srv->up_dirty, uc, dirty);
    uv_prepare_start(&uc->srv->up_flush, on_flush);
  }
}

size_t gw_up_conn_queued(const struct gw_up_conn *uc) {
  return uc->wq.len + uc->wbuf.len;
}

void gw_up_conn_finish(struct gw_up_conn *uc, uint64_t ms) {
  if (uc->closing)
    return;
  uc->cbs = NULL; /* the user hears nothing more: an EOF, a read, the timer close it */
  uc->finishing = 1;
  unlist(uc);
  flush(uc);
  if (!uc->closing && !uc->writing && uc->wq.len == 0)
    gw_up_conn_close(uc);
  else if (!uc->closing)
    gw_up_conn_timer(uc, ms);
}

void gw_up_conn_shutdown(struct gw_up_conn *uc) {
  uc->shut = 1;
  if (uc->connected)
    maybe_shutdown(uc);
}

/* ---- The timer ---- */

static void on_timer(uv_timer_t *t) {
  struct gw_up_conn *uc = t->data;
  if (uc->closing)
    return;
  if (uc->idle || uc->cbs == NULL) { /* idle for idle_timeout_ms */
    gw_up_conn_close(uc);
    return;
  }
  if (!uc->connected) {
    uc->cbs->on_connect(uc, UV_ETIMEDOUT);
    return;
  }
  uc->cbs->on_timeout(uc);
}

void gw_up_conn_timer(struct gw_up_conn *uc, uint64_t ms) {
  if (uc->closing)
    return;
  if (ms == 0)
    uv_timer_stop(&uc->timer);
  else
    uv_timer_start(&uc->timer, on_timer, ms, 0);
}

/* ---- Opening ---- */

/* A connection struct with its two handles (sock a TCP one unless path). */
static struct gw_up_conn *conn_new(struct gw_server *srv, const char *path,
                                   const struct gw_up_conn_cbs *cbs, void *user) {
  struct gw_up_conn *uc = calloc(1, sizeof(*uc));
  if (uc == NULL)
    return NULL;
  uc->srv = srv;
  uc->cbs = cbs;
  uc->user = user;
  if (path)
    uv_pipe_init(srv->loop, &uc->sock.pipe, 0);
  else
    uv_tcp_init(srv->loop, &uc->sock.tcp);
  uv_timer_init(srv->loop, &uc->timer);
  uc->sock.h.data = uc->timer.data = uc;
  uc->open = 2;
  return uc;
}

static void on_connect(uv_connect_t *req, int status) {
  struct gw_up_conn *uc = req->data;
  if (uc->closing)
    return;
  uv_timer_stop(&uc->timer);
  if (status == 0) {
    uc->connected = 1;
    if (uc->sock.h.type == UV_TCP)
      uv_tcp_nodelay(&uc->sock.tcp, 1);
    uv_read_start(&uc->sock.s, on_alloc, on_read);
    flush(uc);
    maybe_shutdown(uc);
  }
  if (uc->cbs)
    uc->cbs->on_connect(uc, status);
  else if (uc->finishing && !uc->closing && (status != 0 || (!uc->writing && !uc->wq.len)))
    gw_up_conn_close(uc); /* finishing: nothing (more) to write */
}

struct gw_up_conn *gw_up_conn_open(struct gw_server *srv, int port, int ipv6, const char *path,
                                   uint64_t connect_ms, const struct gw_up_conn_cbs *cbs,
                                   void *user) {
  struct sockaddr_storage sa;
  struct gw_up_conn *uc = conn_new(srv, port ? NULL : path, cbs, user);
  if (uc == NULL)
    return NULL;
  uc->creq.data = uc;
  uv_timer_start(&uc->timer, on_timer, connect_ms, 0);
  if (port == 0) {
    uv_pipe_connect(&uc->creq, &uc->sock.pipe, path, on_connect);
    return uc;
  }
  util_loopback_addr(&sa, port, ipv6);
  int rc = uv_tcp_connect(&uc->creq, &uc->sock.tcp, (struct sockaddr *)&sa, on_connect);
  if (rc < 0) {
    sup_log(SUP_WARN, "gateway: connect to %s:%d failed: %s", util_loopback_name(ipv6), port,
            uv_err_name(rc));
    gw_up_conn_close(uc);
    return NULL;
  }
  return uc;
}

struct gw_up_conn *gw_up_conn_accept(struct gw_server *srv, uv_stream_t *listener,
                                     const struct gw_up_conn_cbs *cbs, void *user) {
  struct gw_up_conn *uc = conn_new(srv, NULL, cbs, user);
  if (uc == NULL)
    return NULL;
  if (uv_accept(listener, &uc->sock.s) < 0) {
    gw_up_conn_close(uc);
    return NULL;
  }
  uc->connected = 1;
  uv_tcp_nodelay(&uc->sock.tcp, 1);
  uv_read_start(&uc->sock.s, on_alloc, on_read);
  return uc;
}

/* ---- Pools ---- */

/* The pool of inst, made on first use; NULL when inst has no address. */
static struct gw_up_pool *pool_of(struct gw_server *srv, struct sup_instance *inst) {
  uint64_t key = (uint64_t)(uintptr_t)inst;
  struct gw_up_pool *pool = gw_map_get(&srv->up_pools, key);
  const char *path;
  int port, ipv6;
  if (pool || sup_view_upstream_addr(inst, &port, &ipv6, &path) != 0)
    return pool;
  if ((pool = calloc(1, sizeof(*pool))) == NULL)
    return NULL;
  pool->inst = inst;
  pool->port = port;
  pool->ipv6 = ipv6;
  if ((path && (pool->path = strdup(path)) == NULL) || gw_map_put(&srv->up_pools, key, pool)) {
    free(pool->path);
    free(pool);
    return NULL;
  }
  LIST_INIT(&pool->idle);
  LIST_INIT(&pool->busy);
  return pool;
}

struct gw_up_conn *gw_up_pool_get(struct gw_server *srv, struct sup_instance *inst,
                                  const struct gw_up_conn_cbs *cbs, void *user, int fresh,
                                  int *reused) {
  struct gw_up_pool *pool = pool_of(srv, inst);
  struct gw_up_conn *uc;
  if (pool == NULL)
    return NULL;
  if (!fresh && (uc = LIST_FIRST(&pool->idle)) != NULL) {
    LIST_REMOVE(uc, link);
    pool->nidle--;
    uc->idle = 0;
    uv_timer_stop(&uc->timer);
    *reused = 1;
  } else {
    uc = gw_up_conn_open(srv, pool->port, pool->ipv6, pool->path,
                         (uint64_t)up_cfg(inst)->connect_timeout_ms, cbs, user);
    if (uc == NULL)
      return NULL;
    uc->pool = pool;
    *reused = 0;
  }
  uc->cbs = cbs;
  uc->user = user;
  LIST_INSERT_HEAD(&pool->busy, uc, link);
  return uc;
}

void gw_up_pool_put(struct gw_up_conn *uc, int reusable) {
  struct gw_up_pool *pool = uc->pool;
  if (uc->closing)
    return;
  if (!reusable || pool == NULL || uc->ended || uc->shut || gw_up_conn_queued(uc) > 0 ||
      pool->nidle >= (size_t)up_cfg(pool->inst)->keepalive) {
    gw_up_conn_close(uc);
    return;
  }
  LIST_REMOVE(uc, link);
  uc->cbs = NULL;
  uc->user = NULL;
  uc->requests++;
  uc->idle = 1;
  uc->high = 0;
  LIST_INSERT_HEAD(&pool->idle, uc, link);
  pool->nidle++;
  uv_timer_start(&uc->timer, on_timer, (uint64_t)up_cfg(pool->inst)->idle_timeout_ms, 0);
  if (uc->paused)
    gw_up_conn_pause(uc, 0); /* an idle connection reads: its EOF is seen at once */
}

/* Frees pool: idle connections closed, busy ones detached. */
static void pool_free(struct gw_up_pool *pool) {
  struct gw_up_conn *uc;
  while ((uc = LIST_FIRST(&pool->idle)) != NULL)
    gw_up_conn_close(uc);
  while ((uc = LIST_FIRST(&pool->busy)) != NULL)
    unlist(uc);
  free(pool->path);
  free(pool);
}

void gw_up_pools_gone(struct gw_server *srv, struct sup_instance *inst) {
  struct gw_up_pool *pool = gw_map_del(&srv->up_pools, (uint64_t)(uintptr_t)inst);
  if (pool)
    pool_free(pool);
}

void gw_up_pools_close(struct gw_server *srv) {
  size_t pos = 0;
  uint64_t key;
  void *val;
  while (gw_map_next(&srv->up_pools, &pos, &key, &val)) {
    gw_map_del(&srv->up_pools, key);
    pool_free(val);
    pos = 0; /* the map changed: from the start */
  }
}

size_t gw_up_pools_idle(const struct gw_server *srv) {
  size_t pos = 0, n = 0;
  uint64_t key;
  void *val;
  while (gw_map_next(&srv->up_pools, &pos, &key, &val))
    n += ((struct gw_up_pool *)val)->nidle;
  return n;
}
