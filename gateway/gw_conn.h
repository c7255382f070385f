/* gw_conn — one client connection of a gateway listener: the socket, its
 * timer, reading and writing, and two seams.
 *
 *   socket ──read──> transport ──bytes──> protocol ──requests──> handlers
 *   socket <─write── transport <─bytes─── protocol <──answers──── handlers
 *
 * The transport (struct gw_transport) sits between the socket and the
 * protocol: plain TCP passes bytes through; TLS (gw_tls.c) decrypts and
 * encrypts there without the socket or the parser knowing. The protocol (struct
 * gw_proto) turns bytes into requests: HTTP/1 (gw_h1.c) to begin with,
 * HTTP/2 (gw_h2.c) when the client opens with its preface or ALPN chose
 * it; a connection can switch protocol (a WebSocket upgrade) with
 * gw_conn_set_proto().
 *
 * Writes try the socket at once (uv_try_write: no copy, no request in the
 * common case); what does not go out waits in a queue, at most 64 MiB per
 * connection, and the bytes queued on every connection of the server are
 * counted against gateway.max_buffered_bytes: past it the connections
 * holding the most are closed. */
#ifndef MUSTER_GW_CONN_H
#define MUSTER_GW_CONN_H

#include <llhttp.h>
#include <stdint.h>
#include <sys/queue.h>
#include <uv.h>

#include "gw_req.h"
#include "ipc_buf.h"

struct gw_conn;
struct gw_h2;
struct gw_server;
struct rt_buf;

/* Between the socket and the protocol. */
struct gw_transport {
  const char *name;
  const char *scheme; /* what the client speaks: "http" or "https" (x-forwarded-proto) */
  /* Optional: the connection is accepted. The transport starts the
   * protocol (gw_conn_start_proto) now or later (after a handshake).
   * Returns 0, or < 0: the connection is closed at once. Without it the
   * protocol starts at once. */
  int (*start)(struct gw_conn *c);
  /* Bytes read from the socket: decode, hand to the protocol. */
  void (*on_read)(struct gw_conn *c, const char *data, size_t len);
  /* Bytes of the protocol: encode, hand to gw_conn_sock_writev(). */
  void (*writev)(struct gw_conn *c, const uv_buf_t *bufs, unsigned n);
  /* Optional: what the transport holds goes to the socket now (once a
   * loop turn, after gw_conn_tp_dirty). */
  void (*flush)(struct gw_conn *c);
  /* Optional: a graceful close begins: the transport's last bytes (TLS
   * close_notify) go to the socket before the queue drains and the FIN. */
  void (*closing)(struct gw_conn *c);
  /* Optional: its state goes (after the handles closed). */
  void (*release)(struct gw_conn *c);
};

/* Turns bytes into requests (or frames) and back. */
struct gw_proto {
  const char *name;
  /* The connection is accepted (or upgraded to this protocol). */
  void (*start)(struct gw_conn *c);
  /* Decoded bytes from the client. */
  void (*on_data)(struct gw_conn *c, const char *data, size_t len);
  /* Shutdown began: finish what is being answered, then close. */
  void (*stopping)(struct gw_conn *c);
  /* The connection closes now: abandon what is in progress. */
  void (*on_close)(struct gw_conn *c);
  /* Its memory goes (after the handles closed). */
  void (*release)(struct gw_conn *c);
  /* Optional: what was queued for the client went out, down to
   * GW_CONN_DRAINED bytes (after gw_conn_want_drain). */
  void (*drained)(struct gw_conn *c);
  /* Optional: the write asked for with gw_conn_flush_soon(), before the
   * loop polls (HTTP/2 frames every answer of a loop turn in one go). */
  void (*flush)(struct gw_conn *c);
};

#define GW_CONN_DRAINED (64 * 1024) /* queued bytes at most for proto->drained */

/* Where an HTTP/1 connection is in its request/response cycle. */
enum gw_h1_state {
  GW_H1_IDLE = 0,  /* between requests (keep-alive timer runs) */
  GW_H1_READING,   /* a request's head or body is arriving (header timer) */
  GW_H1_STREAMING, /* taken at its head: its body goes to the handler as it comes */
  GW_H1_DISCARD,   /* answered before its body ended: the rest is read and dropped */
  GW_H1_BUSY,      /* a whole request is being answered; parser paused */
};

/* The HTTP/1 protocol's state (gw_h1.c). One request at a time: when a
 * request is complete the parser pauses, so pipelined requests are
 * answered strictly in order; bytes that arrive meanwhile wait in `in`. */
struct gw_h1 {
  llhttp_t parser;
  enum gw_h1_state state;
  struct ipc_buf in;            /* bytes read while a request is answered */
  uint32_t header_bytes;        /* URL + headers so far (the limit) */
  int err_status;               /* 413/431/400 chosen by a callback, or 0 */
  const char *err_msg;          /* its message */
  const char *feed_start;       /* the bytes llhttp is parsing now start here */
  const char *feed_end;         /* ... and end here */
  char feed_prev;               /* the byte before feed_start ('\0': none) */
  char feed_prev2;              /* the one before that */
  char feed_nonws;              /* the last byte before feed_start not SP or HT */
  uint64_t chunk_left;          /* data bytes left in the current chunk */
  uint8_t crlf_need;            /* bytes of a chunk's closing CRLF not yet seen */
  unsigned in_field : 1;        /* the last header callback was a name */
  unsigned in_trailers : 1;     /* past the head: header callbacks are trailers */
  unsigned feeding : 1;         /* inside the feed loop: do not re-enter */
  unsigned reading_stopped : 1; /* `in` is full: reading paused */
  unsigned body_paused : 1;     /* STREAMING: the handler cannot take more body now */
  unsigned stream_end : 1;      /* STREAMING: the body's end was parsed, not yet told */
  unsigned continue_due : 1;    /* the request expects 100-continue, not sent yet */
  unsigned sniffed : 1;         /* the first bytes were compared with HTTP/2's preface */
  unsigned in_message : 1;      /* a request's head or body is read in part */
  uint64_t discarded;           /* DISCARD: body bytes dropped */
};

struct gw_conn {
  uv_tcp_t tcp;     /* the client socket; the handle lives here */
  uv_timer_t timer; /* header, keep-alive, request or linger timeout */
  struct gw_server *srv;
  LIST_ENTRY(gw_conn) link;      /* the server's connections */
  const struct gw_transport *tp; /* plain TCP, or TLS */
  const struct gw_proto *proto;  /* HTTP/1, or what it was upgraded to */
  char remote[48];               /* client IP */
  /* HTTP/1's state (struct gw_conn_http1): allocated with the connection,
   * given back once it speaks another protocol (gw_conn_http1_drop), so an
   * idle WebSocket does not carry a request. NULL after that. */
  struct gw_h1 *h1;        /* HTTP/1 parsing state */
  struct gw_req *req;      /* the request being read or answered */
  unsigned http1_drop : 1; /* h1 and req are freed before the loop polls */
  /* ---- writing ---- */
  uv_write_t wreq;
  struct ipc_buf wq;    /* bytes waiting behind the write in flight */
  struct ipc_buf wbuf;  /* bytes of the write in flight */
  size_t counted;       /* wq + wbuf as counted in srv->buffered */
  unsigned writing : 1; /* wreq is in flight */
  unsigned closing : 1; /* closed, or closing once the queue is out */
  unsigned close_after_write : 1;
  unsigned linger : 1;     /* graceful closes half-close and drain (WebSocket) */
  unsigned lingering : 1;  /* our FIN is sent: reading to the client's */
  uv_shutdown_t sreq;      /* the FIN of a lingering close */
  unsigned want_drain : 1; /* proto->drained once the queue is down */
  unsigned pp_wait : 1;    /* its PROXY header is still to come (gateway.proxy_protocol) */
  struct ipc_buf pp;       /* that header's first bytes, while it comes in pieces */
  int open_handles;        /* tcp + timer, while closing */
  /* ---- corked output (WebSocket, SSE holds): written once a loop turn ---- */
  struct rt_buf **cork; /* shared buffers to write, each a reference; owned */
  size_t ncork, capcork;
  size_t cork_bytes;          /* their bytes */
  TAILQ_ENTRY(gw_conn) dirty; /* on srv->dirty while ncork > 0 or flush_due */
  unsigned on_dirty : 1;      /* it is on srv->dirty */
  unsigned flush_due : 1;     /* proto->flush before the loop polls */
  size_t held;                /* answer bytes the protocol holds beyond the queue
                                 (HTTP/2 streams), counted in srv->buffered */
  void *pdata;                /* the state of a protocol other than HTTP/1 */
  /* ---- the transport's state (TLS) ---- */
  void *tdata;                  /* owned by the transport (released in tp->release) */
  size_t tp_held;               /* bytes of the protocol the transport holds, not yet encoded */
  TAILQ_ENTRY(gw_conn) tp_link; /* on srv->tp_dirty while tp_dirty is set */
  unsigned tp_dirty : 1;        /* tp->flush is due before the loop polls */
  struct gw_h2 *h2;             /* HTTP/2 (gw_h2.c), or NULL */
};

/* What a connection needs while it speaks HTTP/1 (one allocation). */
struct gw_conn_http1 {
  struct gw_h1 h1;
  struct gw_req req;
};

/* The connection speaks another protocol now (WebSocket, a tunnel,
 * HTTP/2): its HTTP/1 state is freed before the loop polls — not at once,
 * since the HTTP/1 code that switched may still be up the stack. What was
 * left in h1->in must have been taken by then. */
void gw_conn_http1_drop(struct gw_conn *c);

/* Frees c's HTTP/1 state (buffers and the block) now. NULL-safe. */
void gw_conn_http1_free(struct gw_conn *c);

/* Accepts a connection on listener (one of srv's) with transport tp (NULL:
 * plain TCP) and starts it. */
void gw_conn_accept(struct gw_server *srv, uv_stream_t *listener, const struct gw_transport *tp);

/* The IP of t's peer as text ("127.0.0.1", "::1"; "?" when unknown). */
void gw_peer_ip(const uv_tcp_t *t, char *out, size_t n);

/* The IP of socket address ss as text, as gw_peer_ip writes it. */
void gw_addr_text(const struct sockaddr_storage *ss, char *out, size_t n);

/* Starts the connection's protocol (the transport's call, once). */
void gw_conn_start_proto(struct gw_conn *c);

/* Asks for tp->flush(c) before the loop polls (once a turn at most). */
void gw_conn_tp_dirty(struct gw_conn *c);

/* Writes bufs through the transport (what the protocol sends). */
static inline void gw_conn_writev(struct gw_conn *c, const uv_buf_t *bufs, unsigned n) {
  c->tp->writev(c, bufs, n);
}

/* Writes bufs to the socket: at once when it takes them, else copied to
 * the queue (the transport's output). */
void gw_conn_sock_writev(struct gw_conn *c, const uv_buf_t *bufs, unsigned n);

/* Closes the connection; graceful: after the queued bytes are out (at
 * most 5 s more). With c->linger set (the protocol's choice) a graceful
 * close is a clean one (RFC 6455 §7.1.1): once the bytes are out muster
 * sends its FIN and reads what the client still sends, dropping it, until
 * the client closes too (at most 5 s more), so that no reset (the kernel's
 * answer to closing a socket with unread bytes) destroys the last bytes
 * sent. A close during the linger that is not graceful ends it. */
void gw_conn_close(struct gw_conn *c, int graceful);

/* The protocol holds `held` answer bytes beyond the queue (HTTP/2's
 * streams): counted against gateway.max_buffered_bytes with the queue,
 * and the connections holding the most closed when it is passed. */
void gw_conn_hold(struct gw_conn *c, size_t held);

/* Runs proto->flush once before the loop polls (with the corked output). */
void gw_conn_flush_soon(struct gw_conn *c);

/* Bytes queued for the client, not yet taken by the socket (corked ones
 * included). */
size_t gw_conn_queued(const struct gw_conn *c);

/* Queues shared bytes for the client, written with everything else
 * queued for it this loop turn in one write (before the loop polls
 * again): a publication to many connections costs one write each, not
 * one per message. Takes a reference of b. Returns 0 or UV_ENOMEM. */
int gw_conn_cork(struct gw_conn *c, struct rt_buf *b);

/* Writes what is corked for c now (the prepare handle does it for every
 * connection at the end of the turn). */
void gw_conn_uncork(struct gw_conn *c);

/* Writes what is corked on every connection of srv (its prepare handle). */
void gw_conn_flush_all(struct gw_server *srv);

/* (Re)starts the connection's one timer; 0 ms with cb NULL stops it. */
void gw_conn_timer(struct gw_conn *c, uint64_t ms, uv_timer_cb cb);

/* Asks for proto->drained once at most GW_CONN_DRAINED bytes are queued.
 * Returns 1 when that is already so (no call follows). */
int gw_conn_want_drain(struct gw_conn *c);

/* Stops reading from the socket (the protocol holds too much) / resumes. */
void gw_conn_pause(struct gw_conn *c);
void gw_conn_resume(struct gw_conn *c);

/* Hands the connection to another protocol (a WebSocket upgrade). */
void gw_conn_set_proto(struct gw_conn *c, const struct gw_proto *p);

/* The connection of a request's timer or handle. */
static inline struct gw_conn *gw_conn_of_timer(uv_timer_t *t) {
  return t->data;
}

#endif
