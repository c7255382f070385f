/* fuzz_client — the client the gateway's fuzz drivers (fuzz_http and
 * fuzz_h2 through fuzz_gw.h, fuzz_tls) talk to their in-process server
 * with: a uv_tcp_t on the same loop, so nothing spins and nothing sleeps,
 * and a guard timer that says the server hung. The driver sets `loop`
 * and initialises `guard` on it. Included by one driver each (static). */
#ifndef MUSTER_FUZZ_CLIENT_H
#define MUSTER_FUZZ_CLIENT_H

#include <string.h>
#include <uv.h>

#include "fuzz.h"
#include "ipc_buf.h"

#define GUARD_MS 5000 /* the server must close within this after our EOF */

static uv_loop_t *loop;
static uv_timer_t guard;
static int hung;

/* ---- The client ---- */

struct client {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_shutdown_t sreq;
  struct ipc_buf got; /* every byte the server sent */
  int connected;      /* 1 connected, -1 failed */
  int eof;            /* the server closed (or reset) */
  int closed;         /* our handle is closed */
  /* optional: every byte the server sent also goes here (fuzz_tls feeds
   * its client SSL) */
  void (*on_bytes)(struct client *cl, const char *p, size_t n);
  void *user; /* the driver's (fuzz_tls: the client SSL) */
};

static void on_guard(uv_timer_t *t) {
  (void)t;
  hung = 1;
}

static void on_connect(uv_connect_t *req, int status) {
  struct client *cl = req->handle->data;
  cl->connected = status == 0 ? 1 : -1;
}

static void on_client_closed(uv_handle_t *h) {
  ((struct client *)h->data)->closed = 1;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  static char rbuf[65536];
  (void)h;
  (void)hint;
  buf->base = rbuf;
  buf->len = sizeof(rbuf);
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct client *cl = s->data;
  if (nread > 0) {
    ipc_buf_add(&cl->got, buf->base, (size_t)nread);
    if (cl->on_bytes)
      cl->on_bytes(cl, buf->base, (size_t)nread);
  } else if (nread < 0 && !cl->eof) {
    cl->eof = 1; /* UV_EOF, or ECONNRESET when it closed with our bytes unread */
    uv_close((uv_handle_t *)s, on_client_closed);
  }
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)req;
  (void)status;
}

/* Writes p[0..n) unless the server has closed. */
static void send_bytes(struct client *cl, const char *p, size_t n) {
  while (n > 0 && !cl->eof && !hung) {
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int w = uv_try_write((uv_stream_t *)&cl->tcp, &b, 1);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w == UV_EAGAIN) {
      uv_run(loop, UV_RUN_ONCE); /* the server reads, or the guard fires */
    } else {
      return; /* EPIPE, ECONNRESET: the server is gone; its EOF follows */
    }
  }
}

/* Connects cl to sa and starts reading; the guard runs from here. */
static void client_open(struct client *cl, const struct sockaddr *sa) {
  memset(cl, 0, sizeof(*cl));
  ipc_buf_init(&cl->got);
  hung = 0;
  uv_timer_start(&guard, on_guard, GUARD_MS, 0);
  uv_tcp_init(loop, &cl->tcp);
  cl->tcp.data = cl;
  uv_tcp_connect(&cl->creq, &cl->tcp, sa, on_connect);
  while (cl->connected == 0 && !hung)
    uv_run(loop, UV_RUN_ONCE);
  FUZZ_CHECK(cl->connected == 1, "cannot connect to the server under test");
  uv_tcp_nodelay(&cl->tcp, 1);
  uv_read_start((uv_stream_t *)&cl->tcp, on_alloc, on_client_read);
}

/* Sends data in pieces of `piece` bytes, each read by the server alone. */
static void send_pieces(struct client *cl, const uint8_t *data, size_t size, size_t piece) {
  for (size_t off = 0; off < size && !cl->eof; off += piece) {
    send_bytes(cl, (const char *)data + off, size - off < piece ? size - off : piece);
    if (piece < size)
      uv_run(loop, UV_RUN_NOWAIT); /* the server reads this piece alone */
  }
}

/* Our EOF, then the server's close within GUARD_MS. */
static void client_finish(struct client *cl) {
  if (!cl->eof)
    uv_shutdown(&cl->sreq, (uv_stream_t *)&cl->tcp, on_shutdown);
  while (!cl->closed && !hung)
    uv_run(loop, UV_RUN_ONCE);
  FUZZ_CHECK(!hung, "the server did not close within %d ms of the client's EOF", GUARD_MS);
  uv_timer_stop(&guard);
  uv_run(loop, UV_RUN_NOWAIT); /* the server's close callbacks */
}

#endif
