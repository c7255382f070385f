/* gw_up_pool — connections from muster to the programs it proxies to
 * (SPEC §9): one stream (TCP to 127.0.0.1:PORT, or a Unix socket) with
 * its timer, a bounded write queue and read pausing, and the pool of
 * keep-alive connections of each upstream instance.
 *
 * A connection is used by one user at a time (an HTTP exchange, gw_up.c;
 * a WebSocket tunnel, gw_tunnel.c; a TCP splice, gw_tcp.c), which binds
 * its callbacks. Writes are corked: queued and written once per loop turn
 * (a uv_prepare_t, before the loop polls), so a request's head and the
 * body that came in the same read go up as one write (one segment for the
 * program to read); on_drain says when the queue is down to GW_UP_LOW
 * again: the user stops feeding it past GW_UP_HIGH.
 *
 * The pool of an instance keeps at most upstream.keepalive idle
 * connections, most recently used first, each closed after
 * upstream.idle_timeout_ms. An idle connection keeps reading: an EOF (the
 * program closed it) or a stray byte closes it at once, so the next
 * request does not meet it. The pool goes when the instance's process
 * exits (gw_up_pools_gone); connections in use then are detached and
 * closed when their user lets go. */
#ifndef MUSTER_GW_UP_POOL_H
#define MUSTER_GW_UP_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <uv.h>

#include "ipc_buf.h"

struct gw_server;
struct gw_up_conn;
struct gw_up_pool;
struct sup_instance;

#define GW_UP_HIGH (256 * 1024) /* queued bytes past which the feeder pauses */
#define GW_UP_LOW (64 * 1024)   /* ... and resumes once at most this many are queued */

/* What a connection tells its user. */
struct gw_up_conn_cbs {
  /* Connected (0), or not (< 0: refused, timed out; the user closes). */
  void (*on_connect)(struct gw_up_conn *uc, int status);
  /* Bytes from the program (valid during the call only). */
  void (*on_read)(struct gw_up_conn *uc, const char *data, size_t len);
  /* The program closed its side (UV_EOF) or the connection failed (< 0,
   * a write error too). Reading has stopped; the user closes, or with
   * UV_EOF may still write and shut down (half-close). */
  void (*on_end)(struct gw_up_conn *uc, int err);
  /* The write queue is down to GW_UP_LOW (after it went past GW_UP_HIGH). */
  void (*on_drain)(struct gw_up_conn *uc);
  /* The timer set with gw_up_conn_timer() fired. */
  void (*on_timeout)(struct gw_up_conn *uc);
};

struct gw_up_conn {
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_stream_t s;
    uv_handle_t h;
  } sock;
  uv_connect_t creq;
  uv_write_t wreq;
  uv_shutdown_t sreq;
  uv_timer_t timer; /* connect, exchange or idle timeout */
  struct gw_server *srv;
  struct gw_up_pool *pool;          /* its instance's pool, NULL when none or detached */
  LIST_ENTRY(gw_up_conn) link;      /* the pool's idle list, or its busy one */
  TAILQ_ENTRY(gw_up_conn) dirty;    /* srv->up_dirty while corked bytes wait */
  const struct gw_up_conn_cbs *cbs; /* the user's, NULL while idle */
  void *user;
  struct ipc_buf wq;            /* bytes waiting behind the write in flight */
  struct ipc_buf wbuf;          /* bytes of the write in flight */
  uint64_t requests;            /* requests it carried before this one (0: fresh) */
  uint64_t bytes_in, bytes_out; /* read and written (TCP metrics) */
  int open;                     /* handles not yet closed */
  unsigned connected : 1;
  unsigned writing : 1;
  unsigned idle : 1; /* in the pool, unused */
  unsigned closing : 1;
  unsigned paused : 1;    /* the user stopped reading */
  unsigned ended : 1;     /* EOF or error seen (told the user) */
  unsigned failed : 1;    /* an error: nothing more is written */
  unsigned shut : 1;      /* shut down (write side) once the queue is out */
  unsigned high : 1;      /* the queue went past GW_UP_HIGH: on_drain due */
  unsigned corked : 1;    /* on srv->up_dirty */
  unsigned finishing : 1; /* gw_up_conn_finish: closes once all is written */
};

/* ---- Connections ---- */

/* A new connection to 127.0.0.1:port (port > 0; [::1]:port with ipv6) or
 * the Unix socket path, bound to cbs and user; on_connect follows (within
 * connect_ms). NULL on out of memory. */
struct gw_up_conn *gw_up_conn_open(struct gw_server *srv, int port, int ipv6, const char *path,
                                   uint64_t connect_ms, const struct gw_up_conn_cbs *cbs,
                                   void *user);

/* Accepts a connection of listener as a gw_up_conn (TCP routes: the
 * client's side is a stream like the program's). NULL on failure. */
struct gw_up_conn *gw_up_conn_accept(struct gw_server *srv, uv_stream_t *listener,
                                     const struct gw_up_conn_cbs *cbs, void *user);

/* Writes bufs: at once when the socket takes them, else queued. */
/* Closes uc once what is queued for it is written, or after ms at the
 * most (a peer that does not read); the user hears nothing more of it.
 * gw_up_conn_close() drops what is queued. */
void gw_up_conn_finish(struct gw_up_conn *uc, uint64_t ms);
void gw_up_conn_writev(struct gw_up_conn *uc, const uv_buf_t *bufs, unsigned n);

/* Bytes queued, not yet taken by the socket. */
size_t gw_up_conn_queued(const struct gw_up_conn *uc);

/* Stops (1) or resumes (0) reading. */
void gw_up_conn_pause(struct gw_up_conn *uc, int pause);

/* (Re)starts the user's timer; 0 stops it. */
void gw_up_conn_timer(struct gw_up_conn *uc, uint64_t ms);

/* Shuts the write side down once the queue is out (half-close). */
void gw_up_conn_shutdown(struct gw_up_conn *uc);

/* Closes the connection (the user lets go of it; no callback follows). */
void gw_up_conn_close(struct gw_up_conn *uc);

/* Takes the connection out of its pool for good (a tunnel). */
void gw_up_conn_unpool(struct gw_up_conn *uc);

/* ---- Pools ---- */

/* A connection to inst for a new request, bound to cbs and user: an idle
 * one of its pool (*reused 1; connected) unless fresh, or a new one
 * (*reused 0; on_connect follows). NULL when inst has no address or on
 * out of memory. */
struct gw_up_conn *gw_up_pool_get(struct gw_server *srv, struct sup_instance *inst,
                                  const struct gw_up_conn_cbs *cbs, void *user, int fresh,
                                  int *reused);

/* The user is done with uc: back to its pool when reusable (the whole
 * response read, nothing left over) and there is room, else closed. */
void gw_up_pool_put(struct gw_up_conn *uc, int reusable);

/* inst's process is gone: its pool's idle connections close, the ones in
 * use are detached. */
void gw_up_pools_gone(struct gw_server *srv, struct sup_instance *inst);

/* Writes what every connection of srv has corked (its prepare handle). */
void gw_up_flush_all(struct gw_server *srv);

/* Every pool goes (the gateway closes). */
void gw_up_pools_close(struct gw_server *srv);

/* Idle connections of every pool (metrics). */
size_t gw_up_pools_idle(const struct gw_server *srv);

#endif
