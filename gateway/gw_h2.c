/* gw_h2 — HTTP/2 on a connection with nghttp2's server session: bytes from
 * the transport go to nghttp2_session_mem_recv(), the frames it makes go
 * out with nghttp2_session_mem_send(), gathered into one write per read
 * (or per loop turn, for answers that come from services). See gw_h2.h.
 *
 * Each request stream is a struct h2_stream holding one struct gw_req,
 * offered to the server's handlers like an HTTP/1 request (gw_req_offer,
 * gw_req_offer_head) and answered through h2_out. Its memory outlives the
 * request: it goes when nghttp2 closed the stream, and then only once its
 * timer handle is closed (the next loop turn), so a handler that has just
 * answered never holds a freed request.
 *
 * Limits (SPEC §13): 128 concurrent streams; request bodies flow in as the
 * handler takes them (window updates follow consumption: at most
 * STREAM_WINDOW per stream and CONN_WINDOW per connection wait unread);
 * response bytes that wait for the client's window count in
 * gateway.max_buffered_bytes; a header list over max_header_bytes is a 431
 * on its stream, FAR_PAST times over it a GOAWAY; resets beyond completed
 * streams and PING/SETTINGS/PRIORITY/empty DATA floods are counted per
 * second, and past their bound the client gets GOAWAY ENHANCE_YOUR_CALM
 * and is disconnected. */
#include "gw_h2.h"

#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw.h"
#include "gw_fwd.h"
#include "gw_strict.h"
#include "sup_log.h"
#include "util_vec.h"

#define CUT_MS 5000                /* a cut stream's last bytes (on_cut_timeout) */
#define MAX_STREAMS 128            /* SETTINGS_MAX_CONCURRENT_STREAMS */
#define STREAM_WINDOW (256 * 1024) /* request body bytes a stream may have unread */
#define CONN_WINDOW (1024 * 1024)  /* ... all streams of a connection */
#define SEND_HIGH (256 * 1024)     /* frames are made while less is queued for the socket */
#define WINDOW_MS 1000             /* the window of the flood and reset counters */
#define MAX_RESETS 128             /* RST_STREAM per window beyond the streams completed */
#define MAX_CTRL 256               /* PING, SETTINGS, PRIORITY, empty DATA per window */
#define FAR_PAST 4                 /* header bytes this many times max_header_bytes: GOAWAY */
#define KEEP_CAP (64 * 1024)       /* buffer capacity kept between uses */

/* Where a stream's request is. */
enum h2_state {
  ST_HEAD = 0,  /* its header block is arriving */
  ST_READING,   /* its body is read whole, for on_req */
  ST_STREAMING, /* taken at its head: its body goes to the handler as it comes */
  ST_BUSY,      /* complete, being answered */
  ST_DONE,      /* answered (or abandoned) and logged; what is left is dropped */
};

struct gw_h2;

struct h2_stream {
  struct gw_req req; /* the request, as handlers see it */
  struct gw_h2 *h2;
  int32_t id;
  enum h2_state state;
  uv_timer_t timer;            /* its head or body gaps, then the handler's timer */
  TAILQ_ENTRY(h2_stream) link; /* h2->streams while nghttp2 has it open */
  struct ipc_buf pend;         /* answer bytes not yet taken by nghttp2 */
  size_t pend_off;             /* ... from here */
  struct ipc_buf held;         /* body bytes that came while the handler paused it */
  nghttp2_rcbuf *authority;    /* :authority until the head is complete */
  uint64_t hdr_bytes;          /* names and values of its header block */
  int err_status;              /* 431 or 400 found while reading the head, or 0 */
  const char *err_msg;
  unsigned body_end : 1;     /* the client ended its side (END_STREAM) */
  unsigned eof : 1;          /* the answer is complete in pend */
  unsigned nobody : 1;       /* the answer has no body (HEAD, 204, 304) */
  unsigned deferred : 1;     /* nghttp2 waits for pend to fill (resume_data) */
  unsigned cut : 1;          /* cut (gw_req_abort): pend goes, then RST_STREAM */
  unsigned body_paused : 1;  /* the handler takes no more body now */
  unsigned want_drain : 1;   /* gen->drained once its bytes are out */
  unsigned continue_due : 1; /* expect: 100-continue, no interim answer yet */
  unsigned closed : 1;       /* nghttp2 closed it (or the connection went) */
  unsigned freeing : 1;      /* its timer is closing: the memory goes next */
};

struct gw_h2 {
  struct gw_conn *c;
  nghttp2_session *ses;
  TAILQ_HEAD(h2_streams, h2_stream) streams; /* open streams */
  size_t nstreams;
  size_t refs;            /* the connection + every h2_stream not yet freed */
  size_t held;            /* answer bytes in every pend (gw_conn_hold) */
  size_t ndrain;          /* streams with want_drain */
  struct ipc_buf out;     /* frames gathered for one write */
  struct ipc_buf scratch; /* an answer head's names and numbers */
  nghttp2_nv *nv;         /* an answer head, owned */
  size_t capnv;
  uint64_t win_start; /* the counters' window began (loop time) */
  uint32_t resets, done,
      ctrl;             /* in this window: RST_STREAM got, streams completed, floodable frames */
  int fatal;            /* a GOAWAY reason + 1 once the client is to be dropped */
  int ga_reason;        /* the reason of the next GOAWAY sent, or -1: from its code */
  unsigned in_recv : 1; /* inside mem_recv: frames go out after it */
  unsigned flushing : 1;
  unsigned goaway : 1; /* a graceful GOAWAY is queued: close when streams end */
  unsigned dead : 1;   /* the connection closed: callbacks do nothing */
};

static const struct gw_resp_ops h2_out;

static struct h2_stream *stream_of(struct gw_req *req) {
  return (struct h2_stream *)((char *)req - offsetof(struct h2_stream, req));
}

static const struct h2_stream *cstream_of(const struct gw_req *req) {
  return (const struct h2_stream *)((const char *)req - offsetof(struct h2_stream, req));
}

static struct h2_stream *stream_get(struct gw_h2 *h2, int32_t id) {
  return nghttp2_session_get_stream_user_data(h2->ses, id);
}

static const struct cfg_gateway *cfg_of(const struct gw_h2 *h2) {
  return h2->c->srv->cfg;
}

/* ---- Memory: streams go a loop turn after they close ---- */

static void h2_unref(struct gw_h2 *h2) {
  if (--h2->refs > 0)
    return;
  ipc_buf_free(&h2->out);
  ipc_buf_free(&h2->scratch);
  free(h2->nv);
  free(h2);
}

static void on_stream_freed(uv_handle_t *t) {
  struct h2_stream *st = t->data;
  struct gw_h2 *h2 = st->h2;
  gw_req_free(&st->req);
  ipc_buf_free(&st->pend);
  ipc_buf_free(&st->held);
  free(st);
  h2_unref(h2);
}

/* Drops what a stream holds of nghttp2's (its rcbuf lives in the session's
 * memory) and of the answer bytes counted in the connection. */
static void stream_drop(struct h2_stream *st) {
  struct gw_h2 *h2 = st->h2;
  if (st->authority) {
    nghttp2_rcbuf_decref(st->authority);
    st->authority = NULL;
  }
  h2->held -= st->pend.len - st->pend_off;
  ipc_buf_free(&st->pend);
  st->pend_off = 0;
  if (st->want_drain) {
    st->want_drain = 0;
    h2->ndrain--;
  }
}

static void stream_free_soon(struct h2_stream *st) {
  if (st->freeing)
    return;
  st->freeing = 1;
  uv_close((uv_handle_t *)&st->timer, on_stream_freed);
}

/* ---- Sending ---- */

static void h2_flush(struct gw_conn *c);

/* Frames are due: now after mem_recv, else before the loop polls. */
static void kick(struct gw_h2 *h2) {
  if (!h2->in_recv)
    gw_conn_flush_soon(h2->c);
}

/* Tells the connection how many answer bytes the streams hold. */
static void hold(struct gw_h2 *h2) {
  if (!h2->c->closing)
    gw_conn_hold(h2->c, h2->held);
}

/* A GOAWAY that lets the streams under way finish (NO_ERROR); the
 * connection closes once they have. */
static void goaway_graceful(struct gw_h2 *h2) {
  if (h2->goaway || h2->fatal)
    return;
  h2->goaway = 1;
  h2->ga_reason = GW_H2_GOAWAY_GRACEFUL;
  nghttp2_submit_goaway(h2->ses, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(h2->ses), NGHTTP2_NO_ERROR, NULL,
                        0);
  kick(h2);
}

/* The client misbehaves: GOAWAY with code, and the connection closes once
 * it is sent (h2_on_data). */
static void fatal(struct gw_h2 *h2, int reason, uint32_t code, const char *why) {
  if (h2->fatal)
    return;
  h2->fatal = reason + 1;
  h2->ga_reason = reason;
  sup_log(SUP_WARN, "gateway: HTTP/2 client %s: %s; sending GOAWAY and closing", h2->c->remote,
          why);
  nghttp2_session_terminate_session(h2->ses, code);
}

/* Streams that asked for gen->drained and whose bytes are (nearly) out. */
static void notify_drained(struct gw_h2 *h2) {
  struct h2_stream *st, *next;
  for (st = TAILQ_FIRST(&h2->streams); st && h2->ndrain && !h2->c->closing; st = next) {
    next = TAILQ_NEXT(st, link);
    if (!st->want_drain || gw_req_queued(&st->req) > GW_CONN_DRAINED)
      continue;
    st->want_drain = 0;
    h2->ndrain--;
    if (st->req.gen && st->req.gen->drained)
      st->req.gen->drained(&st->req);
  }
}

/* Makes frames while less than SEND_HIGH is queued for the socket and
 * writes them in one go. Returns 0, or -1 when the session failed. */
static int send_frames(struct gw_h2 *h2) {
  struct gw_conn *c = h2->c;
  while (!c->closing && gw_conn_queued(c) < SEND_HIGH) {
    while (gw_conn_queued(c) + h2->out.len < SEND_HIGH) {
      const uint8_t *p;
      ssize_t n = nghttp2_session_mem_send(h2->ses, &p);
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      ipc_buf_add(&h2->out, p, (size_t)n);
    }
    if (h2->out.len == 0)
      break;
    uv_buf_t b = uv_buf_init(h2->out.data, (unsigned)h2->out.len);
    gw_conn_writev(c, &b, 1);
    if (h2->out.cap > KEEP_CAP)
      ipc_buf_free(&h2->out);
    else
      ipc_buf_reset(&h2->out);
  }
  return 0;
}

/* Sends what nghttp2 has to send; closes the connection when the session
 * is over (GOAWAY sent and no stream left). proto->flush, proto->drained. */
static void h2_flush(struct gw_conn *c) {
  struct gw_h2 *h2 = c->h2;
  if (h2 == NULL || h2->in_recv || h2->flushing || c->closing)
    return;
  h2->flushing = 1;
  int rc = send_frames(h2);
  h2->flushing = 0;
  if (c->closing)
    return;
  if (rc != 0 || h2->out.oom) {
    sup_log(SUP_WARN, "gateway: HTTP/2 client %s: sending failed; closing", c->remote);
    gw_conn_close(c, 0);
    return;
  }
  int want_write = nghttp2_session_want_write(h2->ses);
  if (want_write && gw_conn_queued(c) >= SEND_HIGH)
    gw_conn_want_drain(c); /* the client reads slowly: more once it has */
  notify_drained(h2);
  if (c->closing)
    return;
  if (h2->fatal || (!want_write && !nghttp2_session_want_read(h2->ses)) ||
      (h2->goaway && h2->nstreams == 0 && !want_write))
    gw_conn_close(c, 1);
}

/* ---- Timers ---- */

static void on_conn_idle(uv_timer_t *t) {
  struct gw_conn *c = gw_conn_of_timer(t);
  struct gw_h2 *h2 = c->h2;
  if (h2->nstreams > 0)
    return;
  goaway_graceful(h2);
  h2_flush(c);
}

/* No stream open: the connection may stay keepalive_timeout_ms. */
static void idle_timer(struct gw_h2 *h2) {
  const struct cfg_gateway *cfg = cfg_of(h2);
  if (h2->c->closing)
    return;
  if (cfg->keepalive_timeout_ms == 0 || h2->c->srv->stopping) {
    goaway_graceful(h2);
    return;
  }
  gw_conn_timer(h2->c, (uint64_t)cfg->keepalive_timeout_ms, on_conn_idle);
}

static void abandon_handler(struct h2_stream *st);
static void req_end(struct h2_stream *st);

/* The head or a gap of the body took longer than header_timeout_ms: a
 * head that never ends blocks the connection (GOAWAY); a body gets a 408
 * unless its answer began (then the stream is reset). */
static void on_body_timeout(uv_timer_t *t) {
  struct h2_stream *st = t->data;
  struct gw_h2 *h2 = st->h2;
  if (st->closed || st->state == ST_DONE || st->state == ST_BUSY)
    return;
  if (st->state == ST_HEAD) {
    fatal(h2, GW_H2_GOAWAY_HEADERS, NGHTTP2_ENHANCE_YOUR_CALM,
          "a header block not complete within header_timeout_ms");
    h2_flush(h2->c);
    return;
  }
  if (st->state == ST_STREAMING)
    abandon_handler(st); /* its body stalled: the handler lets go */
  if (!st->req.head_sent) {
    st->state = ST_BUSY;
    gw_reply_error(&st->req, 408, "request not complete within header_timeout_ms", NULL);
  } else {
    req_end(st);
    nghttp2_submit_rst_stream(h2->ses, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
  }
  kick(h2);
}

static void body_timer(struct h2_stream *st) {
  uv_timer_start(&st->timer, on_body_timeout, (uint64_t)cfg_of(st->h2)->header_timeout_ms, 0);
}

static void on_req_timeout(uv_timer_t *t) {
  struct h2_stream *st = t->data;
  if (st->req.gen && st->req.gen->timeout)
    st->req.gen->timeout(&st->req);
}

/* ---- Flood and rapid-reset counters ---- */

/* Starts a new window of the counters when the last one is over. */
static void tick(struct gw_h2 *h2) {
  uint64_t now = uv_now(h2->c->srv->loop);
  if (now - h2->win_start >= WINDOW_MS) {
    h2->win_start = now;
    h2->resets = h2->done = h2->ctrl = 0;
  }
}

/* A frame that costs muster work but answers nothing (CVE-2019-9512,
 * -9515, -9516, -9518). */
static void count_ctrl(struct gw_h2 *h2, const char *what) {
  tick(h2);
  if (++h2->ctrl > MAX_CTRL) {
    char why[96];
    snprintf(why, sizeof(why), "more than %d %s and other empty frames in a second", MAX_CTRL,
             what);
    fatal(h2, GW_H2_GOAWAY_FLOOD, NGHTTP2_ENHANCE_YOUR_CALM, why);
  }
}

/* A RST_STREAM from the client: resets beyond completed streams are the
 * rapid reset attack (CVE-2023-44487). */
static void count_reset(struct gw_h2 *h2) {
  tick(h2);
  h2->c->srv->h2.resets++;
  if (++h2->resets > h2->done + MAX_RESETS)
    fatal(h2, GW_H2_GOAWAY_RAPID_RESET, NGHTTP2_ENHANCE_YOUR_CALM,
          "streams reset faster than they complete (rapid reset)");
}

/* ---- Reading a request's head ---- */

static int on_begin_headers(nghttp2_session *ses, const nghttp2_frame *frame, void *ud) {
  struct gw_h2 *h2 = ud;
  (void)ses;
  if (h2->dead || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  struct h2_stream *st = calloc(1, sizeof(*st));
  if (st == NULL)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* this stream is reset */
  struct gw_req *req = &st->req;
  st->h2 = h2;
  st->id = frame->hd.stream_id;
  req->conn = h2->c;
  req->srv = h2->c->srv;
  req->out = &h2_out;
  req->instance = -1;
  req->http_major = 2;
  req->http_minor = 0;
  req->hdr_host = req->hdr_expect = req->hdr_reqid = -1;
  uv_timer_init(h2->c->srv->loop, &st->timer);
  st->timer.data = st;
  h2->refs++;
  TAILQ_INSERT_TAIL(&h2->streams, st, link);
  h2->nstreams++;
  h2->c->srv->h2.streams++;
  nghttp2_session_set_stream_user_data(h2->ses, st->id, st);
  gw_conn_timer(h2->c, 0, NULL); /* a stream is open: no idle timeout */
  body_timer(st);                /* its head must end in time */
  return 0;
}

/* A pseudo-header (RFC 9113 §8.3.1; nghttp2 checked their set and order). */
static int pseudo_header(struct h2_stream *st, nghttp2_vec n, nghttp2_vec v, nghttp2_rcbuf *rv) {
  struct gw_req *req = &st->req;
  if (n.len == 7 && memcmp(n.base, ":method", 7) == 0) {
    if (v.len >= sizeof(req->method)) {
      st->err_status = 501;
      st->err_msg = "unknown method";
      return 0;
    }
    memcpy(req->method, v.base, v.len);
    req->method[v.len] = '\0';
  } else if (n.len == 5 && memcmp(n.base, ":path", 5) == 0 && req->hbuf.len == 0) {
    ipc_buf_add(&req->hbuf, v.base, v.len); /* the URL first, as gw_req wants it */
    req->url_len = (uint32_t)v.len;
  } else if (n.len == 10 && memcmp(n.base, ":authority", 10) == 0 && st->authority == NULL) {
    nghttp2_rcbuf_incref(rv);
    st->authority = rv;
  }
  return 0;
}

/* Appends header name: value to the request (names are lower-case). */
static void add_header(struct h2_stream *st, const uint8_t *n, size_t nlen, const uint8_t *v,
                       size_t vlen) {
  struct gw_req *req = &st->req;
  if (util_vec_reserve(&req->hdrs, &req->caphdrs, req->nhdrs + 1) != 0) {
    st->err_status = 500;
    st->err_msg = "out of memory";
    return;
  }
  struct gw_hdr *h = &req->hdrs[req->nhdrs++];
  h->name = (uint32_t)req->hbuf.len;
  h->nlen = (uint32_t)nlen;
  ipc_buf_add(&req->hbuf, n, nlen);
  h->value = (uint32_t)req->hbuf.len;
  h->vlen = (uint32_t)vlen;
  ipc_buf_add(&req->hbuf, v, vlen);
}

static int on_header(nghttp2_session *ses, const nghttp2_frame *frame, nghttp2_rcbuf *name,
                     nghttp2_rcbuf *value, uint8_t flags, void *ud) {
  struct gw_h2 *h2 = ud;
  struct h2_stream *st = h2->dead ? NULL : stream_get(h2, frame->hd.stream_id);
  nghttp2_vec n = nghttp2_rcbuf_get_buf(name), v = nghttp2_rcbuf_get_buf(value);
  uint64_t max = (uint64_t)cfg_of(h2)->max_header_bytes;
  (void)ses;
  (void)flags;
  if (st == NULL || h2->fatal)
    return 0;
  st->hdr_bytes += n.len + v.len;
  if (st->hdr_bytes > FAR_PAST * max) {
    fatal(h2, GW_H2_GOAWAY_HEADERS, NGHTTP2_ENHANCE_YOUR_CALM,
          "a header block far past max_header_bytes");
    return NGHTTP2_ERR_PAUSE; /* no more of its bytes are read */
  }
  if (st->state != ST_HEAD || st->err_status)
    return 0;                /* trailers are dropped; a refused head is not kept */
  if (st->hdr_bytes > max) { /* 414 when :path is what passes it, as over HTTP/1.1 */
    int path = n.len == 5 && memcmp(n.base, ":path", 5) == 0;
    st->err_status = path ? 414 : 431;
    st->err_msg = path ? "request target too long" : "request headers too large";
    return 0;
  }
  if (n.len > 0 && n.base[0] == ':')
    return pseudo_header(st, n, v, value);
  if (st->authority && n.len == 4 && memcmp(n.base, "host", 4) == 0)
    return 0; /* :authority is the host (RFC 9113 §8.3.1) */
  add_header(st, n.base, n.len, v.base, v.len);
  return 0;
}

/* The interim 100 of a request that expects it, once its body is wanted. */
static void send_continue(struct h2_stream *st) {
  static const nghttp2_nv cont = {(uint8_t *)":status", (uint8_t *)"100", 7, 3,
                                  NGHTTP2_NV_FLAG_NONE};
  if (!st->continue_due || st->req.head_sent || st->state == ST_DONE)
    return;
  st->continue_due = 0;
  nghttp2_submit_headers(st->h2->ses, NGHTTP2_FLAG_NONE, st->id, NULL, &cont, 1, NULL);
}

/* The head is complete: the request as HTTP/1 would have read it (host
 * from :authority, the header indexes, the target split, the body's
 * length). Returns 0, or a status to refuse it with. */
static int finish_head(struct h2_stream *st, int has_body) {
  struct gw_req *req = &st->req;
  uint32_t len;
  if (st->authority) {
    nghttp2_vec a = nghttp2_rcbuf_get_buf(st->authority);
    add_header(st, (const uint8_t *)"host", 4, a.base, a.len);
    nghttp2_rcbuf_decref(st->authority);
    st->authority = NULL;
  }
  gw_req_index_headers(req);
  gw_req_split_target(req);
  req->is_head = strcmp(req->method, "HEAD") == 0;
  const char *cl = gw_req_header(req, "content-length", &len);
  req->body_len = !has_body ? 0 : cl ? strtoll(cl, NULL, 10) : -1; /* nghttp2 checked it */
  if (req->hbuf.oom && !st->err_status) {
    st->err_status = 500;
    st->err_msg = "out of memory";
  }
  if (st->err_status)
    return st->err_status;
  const char *expect = gw_req_header_at(req, req->hdr_expect, &len);
  if (expect && (len != 12 || strncasecmp(expect, "100-continue", 12) != 0)) {
    st->err_msg = "unsupported expectation";
    return 417;
  }
  st->continue_due = expect != NULL && has_body;
  if (req->url_len == 0) { /* CONNECT: muster is no forward proxy */
    st->err_msg = "CONNECT is not supported";
    return 400;
  }
  if ((st->err_msg = gw_strict_path(req->hbuf.data, req->url_len)) != NULL ||
      (st->err_msg = gw_req_resolve_dots(req)) != NULL)
    return 400;
  const char *host = gw_req_header_at(req, req->hdr_host, &len); /* nghttp2 takes "u@a" */
  if (host && (st->err_msg = gw_strict_authority(host, len)) != NULL)
    return 400;
  return 0;
}

/* The head of a request is complete: refused, taken at its head by a
 * handler, or read on (its body) for on_req. */
static void head_complete(struct h2_stream *st, int has_body) {
  struct gw_req *req = &st->req;
  int status = finish_head(st, has_body);
  if (status) {
    st->state = ST_BUSY;
    if (req->reqid[0] == '\0')
      gw_req_assign_id(req);
    gw_reply_error(req, status, st->err_msg, NULL);
    return;
  }
  st->state = ST_STREAMING; /* an answer now leaves the body to be dropped */
  if (gw_req_offer_head(req)) {
    if (st->state == ST_STREAMING && has_body)
      send_continue(st);
  } else {
    st->state = ST_READING;
    if (req->body_len > cfg_of(st->h2)->max_body_bytes) {
      st->state = ST_BUSY;
      gw_reply_error(req, 413, "request body too large", NULL);
      return;
    }
    send_continue(st);
  }
  if (has_body && st->state != ST_DONE && st->state != ST_BUSY)
    body_timer(st);
}

/* ---- Reading a request's body ---- */

/* Tells nghttp2 the client may send n more body bytes (window update). */
static void consume(struct gw_h2 *h2, int32_t id, size_t n) {
  if (n > 0)
    nghttp2_session_consume(h2->ses, id, n);
}

/* The body of a request taken at its head is complete: the handler hears
 * of it (data NULL) and the request is being answered. */
static void end_stream(struct h2_stream *st) {
  st->state = ST_BUSY;
  uv_timer_stop(&st->timer); /* the handler's timeouts from here on */
  if (st->req.gen && st->req.gen->body)
    st->req.gen->body(&st->req, NULL, 0);
}

/* Gives the handler the body bytes that came while it paused, then the
 * body's end if it came too; each byte handed over is consumed. */
static void deliver_held(struct h2_stream *st) {
  while (st->state == ST_STREAMING && !st->body_paused && st->held.len > 0) {
    struct ipc_buf b = st->held;
    ipc_buf_init(&st->held);
    consume(st->h2, st->id, b.len);
    if (st->req.gen && st->req.gen->body)
      st->req.gen->body(&st->req, b.data, b.len);
    ipc_buf_free(&b);
  }
  if (st->state == ST_STREAMING && !st->body_paused && st->body_end)
    end_stream(st);
  kick(st->h2);
}

/* The client ended its side of the stream. */
static void body_end(struct h2_stream *st) {
  st->body_end = 1;
  if (st->state == ST_STREAMING && !st->body_paused && st->held.len == 0) {
    end_stream(st);
  } else if (st->state == ST_READING) {
    st->state = ST_BUSY;
    uv_timer_stop(&st->timer);
    gw_req_offer(&st->req);
  }
}

static int on_data_chunk(nghttp2_session *ses, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud) {
  struct gw_h2 *h2 = ud;
  struct h2_stream *st = h2->dead ? NULL : stream_get(h2, id);
  (void)ses;
  (void)flags;
  if (st == NULL || (st->state != ST_READING && st->state != ST_STREAMING)) {
    if (!h2->dead)
      consume(h2, id, len); /* answered already, or not a request: dropped */
    return 0;
  }
  /* The longest gap is bounded, not the body's whole time; while the
   * handler paused the body, its own timer runs instead (h2_pause_body). */
  if (st->state != ST_STREAMING || !st->body_paused)
    body_timer(st);
  if (st->state == ST_STREAMING) {
    if (st->body_paused || st->held.len > 0) {
      ipc_buf_add(&st->held, data, len); /* bounded by its window: not consumed */
      return 0;
    }
    consume(h2, id, len);
    if (st->req.gen && st->req.gen->body)
      st->req.gen->body(&st->req, (const char *)data, len);
    return 0;
  }
  consume(h2, id, len);
  if (st->req.body.len + len > (uint64_t)cfg_of(h2)->max_body_bytes) {
    st->state = ST_BUSY;
    gw_reply_error(&st->req, 413, "request body too large", NULL);
    return 0;
  }
  ipc_buf_add(&st->req.body, data, len);
  if (st->req.body.oom) {
    st->state = ST_BUSY;
    gw_reply_error(&st->req, 500, "out of memory", NULL);
  }
  return 0;
}

/* ---- Frames: what came, what went, streams that closed ---- */

static int on_frame_recv(nghttp2_session *ses, const nghttp2_frame *frame, void *ud) {
  struct gw_h2 *h2 = ud;
  struct h2_stream *st;
  int end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  (void)ses;
  if (h2->dead || h2->fatal)
    return 0;
  switch (frame->hd.type) {
  case NGHTTP2_HEADERS:
    if ((st = stream_get(h2, frame->hd.stream_id)) == NULL)
      break;
    if (st->state == ST_HEAD)
      head_complete(st, !end);
    if (end)
      body_end(st);
    break;
  case NGHTTP2_DATA:
    if ((st = stream_get(h2, frame->hd.stream_id)) != NULL && end)
      body_end(st);
    else if (!end && frame->hd.length == 0)
      count_ctrl(h2, "empty DATA");
    break;
  case NGHTTP2_RST_STREAM:
    count_reset(h2);
    break;
  case NGHTTP2_PING:
    if (!(frame->hd.flags & NGHTTP2_FLAG_ACK))
      count_ctrl(h2, "PING");
    break;
  case NGHTTP2_SETTINGS:
    if (!(frame->hd.flags & NGHTTP2_FLAG_ACK))
      count_ctrl(h2, "SETTINGS");
    break;
  case NGHTTP2_PRIORITY:
    count_ctrl(h2, "PRIORITY");
    break;
  default:
    break;
  }
  return h2->fatal ? NGHTTP2_ERR_CALLBACK_FAILURE : 0; /* no more of the input is read */
}

/* The reason a GOAWAY with code has, when muster did not give one. */
static int goaway_reason(uint32_t code) {
  switch (code) {
  case NGHTTP2_NO_ERROR:
    return GW_H2_GOAWAY_GRACEFUL;
  case NGHTTP2_COMPRESSION_ERROR:
    return GW_H2_GOAWAY_COMPRESSION;
  case NGHTTP2_ENHANCE_YOUR_CALM:
    return GW_H2_GOAWAY_FLOOD; /* nghttp2's own limits */
  case NGHTTP2_INTERNAL_ERROR:
    return GW_H2_GOAWAY_INTERNAL;
  default:
    return GW_H2_GOAWAY_PROTOCOL;
  }
}

static int on_frame_send(nghttp2_session *ses, const nghttp2_frame *frame, void *ud) {
  struct gw_h2 *h2 = ud;
  struct h2_stream *st;
  if (h2->dead)
    return 0;
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    int r = h2->ga_reason >= 0 ? h2->ga_reason : goaway_reason(frame->goaway.error_code);
    h2->c->srv->h2.goaways[r]++;
    h2->ga_reason = -1;
    return 0;
  }
  /* An answer complete before its request: the client may stop sending
   * (RFC 9113 §8.1). */
  if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
      (st = stream_get(h2, frame->hd.stream_id)) != NULL && !st->body_end)
    nghttp2_submit_rst_stream(ses, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
  return 0;
}

/* The connection closes or the stream did: the handler of a request not
 * answered yet lets go of it, and it is logged as what it was (499 when
 * nothing was sent). */
static void stream_abandoned(struct h2_stream *st) {
  if (st->state == ST_STREAMING || st->state == ST_BUSY) {
    abandon_handler(st);
    if (!st->req.head_sent)
      st->req.status = 499;
    gw_req_log(&st->req);
  }
  st->state = ST_DONE;
}

static int on_stream_close(nghttp2_session *ses, int32_t id, uint32_t code, void *ud) {
  struct gw_h2 *h2 = ud;
  struct h2_stream *st = h2->dead ? NULL : stream_get(h2, id);
  if (st == NULL)
    return 0;
  nghttp2_session_set_stream_user_data(ses, id, NULL);
  TAILQ_REMOVE(&h2->streams, st, link);
  h2->nstreams--;
  st->closed = 1;
  if (st->state == ST_DONE && code == NGHTTP2_NO_ERROR) {
    tick(h2);
    h2->done++;
  }
  stream_abandoned(st);
  stream_drop(st);
  hold(h2);
  stream_free_soon(st);
  if (h2->nstreams == 0)
    idle_timer(h2);
  return 0;
}

/* ---- Framing the answers ---- */

/* Gives nghttp2 the next bytes of a stream's answer (its data provider). */
static ssize_t on_read_body(nghttp2_session *ses, int32_t id, uint8_t *buf, size_t length,
                            uint32_t *flags, nghttp2_data_source *src, void *ud) {
  struct h2_stream *st = src->ptr;
  struct gw_h2 *h2 = ud;
  size_t left = st->pend.len - st->pend_off, n = left < length ? left : length;
  (void)ses;
  (void)id;
  if (n == 0 && st->cut)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM INTERNAL_ERROR */
  if (n == 0 && !st->eof) {
    st->deferred = 1; /* h2_send resumes it */
    return NGHTTP2_ERR_DEFERRED;
  }
  memcpy(buf, st->pend.data + st->pend_off, n);
  st->pend_off += n;
  h2->held -= n;
  if (st->pend_off == st->pend.len) {
    st->pend_off = 0;
    if (st->pend.cap > KEEP_CAP)
      ipc_buf_free(&st->pend);
    else
      ipc_buf_reset(&st->pend);
  } else if (st->pend_off > KEEP_CAP && st->pend_off * 2 > st->pend.len) {
    ipc_buf_consume(&st->pend, st->pend_off); /* what is left moves to the front */
    st->pend_off = 0;
  }
  if (st->eof && st->pend.len == 0)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

/* 1 for a header an HTTP/2 answer must not carry (RFC 9113 §8.2.2) or that
 * muster sets itself. */
static int dropped_header(const char *name, size_t n) {
  return gw_fwd_hop_by_hop(name, n) || (n > 0 && name[0] == ':') ||
         (n == 14 && strncasecmp(name, "content-length", 14) == 0) ||
         (n == 12 && strncasecmp(name, "x-request-id", 12) == 0);
}

static nghttp2_nv nv_of(const char *name, size_t nlen, const char *value, size_t vlen) {
  return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, nlen, vlen, NGHTTP2_NV_FLAG_NONE};
}

/* The head of an answer into h2->nv: :status, the handler's headers with
 * lower-case names (those dropped_header names left out), x-request-id,
 * strict-transport-security (gw_req_hsts), date (unless among them) and content-length (clen >= 0).
 * Returns how many, or -1 (no memory). */
static int make_head(struct gw_h2 *h2, struct gw_req *req, int status, const struct ipc_header *h,
                     size_t nh, int64_t clen) {
  struct ipc_buf *b = &h2->scratch;
  size_t total = 48, n = 0;
  for (size_t i = 0; i < nh; i++)
    total += h[i].name_len;
  ipc_buf_reset(b);
  if (util_vec_reserve(&h2->nv, &h2->capnv, nh + 5) != 0 || ipc_buf_reserve(b, total) != 0)
    return -1; /* reserved whole: the pointers into b stay */
  char *p = b->data;
  b->len = (size_t)snprintf(p, 8, "%03d", status % 1000) + 1;
  h2->nv[n++] = nv_of(":status", 7, p, 3);
  for (size_t i = 0; i < nh; i++) {
    if (dropped_header(h[i].name, h[i].name_len))
      continue;
    char *lower = b->data + b->len;
    for (size_t k = 0; k < h[i].name_len; k++) {
      char ch = h[i].name[k];
      lower[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    b->len += h[i].name_len;
    h2->nv[n++] = nv_of(lower, h[i].name_len, h[i].value, h[i].value_len);
  }
  /* New with every answer: never indexed, or each one would go into the
   * HPACK dynamic table, push out the headers that do repeat, and grow the
   * chain nghttp2 walks (memcmp by memcmp) for every header it encodes. */
  h2->nv[n] = nv_of("x-request-id", 12, req->reqid, strlen(req->reqid));
  h2->nv[n++].flags = NGHTTP2_NV_FLAG_NO_INDEX;
  if (gw_req_hsts(req, h, nh))
    h2->nv[n++] = nv_of("strict-transport-security", 25, req->srv->hsts, req->srv->hsts_len);
  if (!gw_headers_have(h, nh, "date", 4)) /* the same for a second: indexed */
    h2->nv[n++] = nv_of("date", 4, gw_req_date(req->srv), UTIL_HTTP_DATE_LEN);
  if (clen >= 0) {
    char *digits = b->data + b->len;
    int k = snprintf(digits, 24, "%lld", (long long)clen);
    b->len += (size_t)k;
    h2->nv[n++] = nv_of("content-length", 14, digits, (size_t)k);
  }
  return (int)n;
}

/* Submits the head of an answer, with a body from pend unless nobody. */
static void submit(struct h2_stream *st, int status, const struct ipc_header *h, size_t nh,
                   int64_t clen) {
  struct gw_h2 *h2 = st->h2;
  struct gw_req *req = &st->req;
  nghttp2_data_provider prd = {.source.ptr = st, .read_callback = on_read_body};
  int n = make_head(h2, req, status, h, nh, clen);
  req->status = status;
  req->head_sent = 1;
  if (n < 0 ||
      nghttp2_submit_response(h2->ses, st->id, h2->nv, (size_t)n, st->nobody ? NULL : &prd) != 0) {
    req->status = 500;
    nghttp2_submit_rst_stream(h2->ses, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
  }
  if (req->srv->draining || req->srv->stopping)
    goaway_graceful(h2); /* HTTP/1's connection: close */
  kick(h2);
}

/* The request was answered: logged, and the handler is done with it;
 * the stream stays until nghttp2 has sent the answer. Every request that
 * was offered to a handler ends here or in stream_abandoned(). */
static void req_end(struct h2_stream *st) {
  if (st->state == ST_DONE)
    return;
  if (st->held.len > 0) { /* answered before the handler took this: dropped */
    consume(st->h2, st->id, st->held.len);
    ipc_buf_free(&st->held);
  }
  st->state = ST_DONE;
  uv_timer_stop(&st->timer);
  gw_req_log(&st->req);
  st->req.gen = NULL;
}

/* Appends answer bytes to pend and wakes nghttp2 when it waited. */
static void pend_add(struct h2_stream *st, const char *data, size_t len) {
  struct gw_h2 *h2 = st->h2;
  size_t before = st->pend.len;
  ipc_buf_add(&st->pend, data, len);
  h2->held += st->pend.len - before;
  st->req.bytes_out += len;
  if (st->deferred) {
    st->deferred = 0;
    nghttp2_session_resume_data(h2->ses, st->id);
  }
  hold(h2);
}

static void h2_respond(struct gw_req *req, int status, const struct ipc_header *h, size_t nh,
                       const char *body, size_t len) {
  struct h2_stream *st = stream_of(req);
  int bodyless = status == 204 || status == 304;
  if (st->state == ST_DONE)
    return;
  st->nobody = bodyless || req->is_head || len == 0;
  st->eof = 1;
  if (!st->nobody)
    pend_add(st, body, len);
  submit(st, status, h, nh, bodyless ? -1 : (int64_t)len);
  req_end(st);
}

static void h2_stream_start(struct gw_req *req, int status, const struct ipc_header *h, size_t nh,
                            int64_t clen) {
  struct h2_stream *st = stream_of(req);
  int bodyless = status == 204 || status == 304;
  if (st->state == ST_DONE)
    return;
  if (st->state != ST_STREAMING) /* (there, the timer bounds the body) */
    uv_timer_stop(&st->timer);   /* the timeout bounded the head, not the stream */
  st->nobody = bodyless || req->is_head;
  st->eof = st->nobody;
  req->streaming = 1;
  submit(st, status, h, nh, bodyless ? -1 : clen);
}

static void h2_send(struct gw_req *req, const char *data, size_t len) {
  struct h2_stream *st = stream_of(req);
  if (len == 0 || st->nobody || st->eof || !req->streaming || st->state == ST_DONE)
    return;
  pend_add(st, data, len);
  kick(st->h2);
}

static void h2_finish(struct gw_req *req) {
  struct h2_stream *st = stream_of(req);
  if (st->state == ST_DONE)
    return;
  st->eof = 1;
  if (st->deferred) {
    st->deferred = 0;
    nghttp2_session_resume_data(st->h2->ses, st->id);
  }
  kick(st->h2);
  req_end(st);
}

/* No WebSocket over HTTP/2 (no RFC 8441: SETTINGS_ENABLE_CONNECT_PROTOCOL
 * is never sent). nghttp2 refuses the upgrade and connection headers of
 * an HTTP/1.1 handshake, so no handler gets here; if one does, a 400. */
static void h2_switch(struct gw_req *req, const struct ipc_header *h, size_t nh,
                      const struct gw_proto *p) {
  (void)h;
  (void)nh;
  (void)p;
  gw_reply_error(req, 400, "a protocol upgrade needs HTTP/1.1", NULL);
}

static void h2_timer(struct gw_req *req, uint64_t ms) {
  struct h2_stream *st = stream_of(req);
  if ((st->state == ST_STREAMING && !st->body_paused) || st->state == ST_DONE)
    return; /* the timer bounds the body's gaps until it is complete (or paused) */
  if (ms)
    uv_timer_start(&st->timer, on_req_timeout, ms, 0);
  else
    uv_timer_stop(&st->timer);
}

static size_t h2_queued(const struct gw_req *req) {
  const struct h2_stream *st = cstream_of(req);
  return st->pend.len - st->pend_off + gw_conn_queued(req->conn);
}

static void h2_pause_body(struct gw_req *req, int pause) {
  struct h2_stream *st = stream_of(req);
  if (st->state != ST_STREAMING)
    pause = 0;
  if (st->body_paused == (unsigned)pause || req->conn->closing)
    return;
  st->body_paused = (unsigned)pause;
  if (pause) {
    uv_timer_stop(&st->timer); /* not the client's gap: the handler's side bounds it */
    return;
  }
  if (!st->body_end)
    body_timer(st);
  deliver_held(st);
}

static int h2_want_drain(struct gw_req *req) {
  struct h2_stream *st = stream_of(req);
  if (h2_queued(req) <= GW_CONN_DRAINED)
    return 1;
  if (!st->want_drain) {
    st->want_drain = 1;
    st->h2->ndrain++;
  }
  return 0;
}

/* The handler of a stream lets go of it (the request is not ended). */
static void abandon_handler(struct h2_stream *st) {
  const struct gw_gen *gen = st->req.gen;
  st->req.gen = NULL;
  if (gen && gen->abandon)
    gen->abandon(&st->req);
}

/* A cut stream whose client did not take its last bytes within
 * CUT_MS (as an HTTP/1 connection's LINGER_MS): reset now. */
static void on_cut_timeout(uv_timer_t *t) {
  struct h2_stream *st = t->data;
  if (st->closed)
    return;
  nghttp2_submit_rst_stream(st->h2->ses, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
  kick(st->h2);
}

/* Cuts one stream (RST_STREAM INTERNAL_ERROR); the others go on. With
 * graceful, the answer's bytes already queued go first, as HTTP/1 writes
 * its queue before the close: the client gets all that muster had. */
static void h2_abort(struct gw_req *req, int graceful) {
  struct h2_stream *st = stream_of(req);
  if (st->state == ST_DONE)
    return;
  stream_abandoned(st);
  if (graceful && st->req.head_sent && !st->closed && st->pend.len > st->pend_off) {
    st->cut = 1; /* on_read_body resets it once pend is out */
    uv_timer_start(&st->timer, on_cut_timeout, CUT_MS, 0);
    if (st->deferred) {
      st->deferred = 0;
      nghttp2_session_resume_data(st->h2->ses, st->id);
    }
    kick(st->h2);
    return;
  }
  stream_drop(st);
  hold(st->h2);
  nghttp2_submit_rst_stream(st->h2->ses, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
  kick(st->h2);
}

static const struct gw_resp_ops h2_out = {.respond = h2_respond,
                                          .start = h2_stream_start,
                                          .send = h2_send,
                                          .finish = h2_finish,
                                          .switch_proto = h2_switch,
                                          .timer = h2_timer,
                                          .queued = h2_queued,
                                          .pause_body = h2_pause_body,
                                          .want_drain = h2_want_drain,
                                          .abort = h2_abort};

/* ---- The protocol seam (gw_conn.h) ---- */

/* The server session with muster's callbacks, options and SETTINGS.
 * Returns 0 or an nghttp2 error code. */
static int session_new(struct gw_h2 *h2) {
  nghttp2_session_callbacks *cb;
  nghttp2_option *opt;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)cfg_of(h2)->max_header_bytes},
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1}};
  int rc = nghttp2_session_callbacks_new(&cb);
  if (rc != 0)
    return rc;
  if ((rc = nghttp2_option_new(&opt)) != 0) {
    nghttp2_session_callbacks_del(cb);
    return rc;
  }
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback2(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_option_set_no_auto_window_update(opt, 1); /* windows follow the handlers */
  nghttp2_option_set_no_closed_streams(opt, 1);
  nghttp2_option_set_max_outbound_ack(opt, MAX_CTRL); /* acks the client does not read */
  rc = nghttp2_session_server_new2(&h2->ses, cb, h2, opt);
  nghttp2_session_callbacks_del(cb);
  nghttp2_option_del(opt);
  if (rc != 0)
    return rc;
  rc = nghttp2_submit_settings(h2->ses, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
  if (rc == 0)
    rc = nghttp2_session_set_local_window_size(h2->ses, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
  return rc;
}

static void h2_start(struct gw_conn *c) {
  struct gw_h2 *h2 = calloc(1, sizeof(*h2));
  int rc = h2 ? 0 : NGHTTP2_ERR_NOMEM;
  if (h2) {
    h2->c = c;
    h2->refs = 1;
    h2->ga_reason = -1;
    TAILQ_INIT(&h2->streams);
    c->h2 = h2;
    rc = session_new(h2);
  }
  if (rc != 0) {
    sup_log(SUP_ERROR, "gateway: HTTP/2 session for %s: %s", c->remote, nghttp2_strerror(rc));
    gw_conn_close(c, 0);
    return;
  }
  c->srv->h2.connections++;
  /* A client may be sending while its GOAWAY and last answers go out (a
   * connection error, a drain, an upload answered early): every graceful
   * close lingers, reading and dropping, so that no reset destroys them
   * (nginx's lingering close, which it applies to HTTP/2 too). */
  c->linger = 1;
  /* the preface and the first request must come in time, like a head */
  gw_conn_timer(c, (uint64_t)c->srv->cfg->header_timeout_ms, on_conn_idle);
  gw_conn_flush_soon(c); /* the server's SETTINGS */
}

static void h2_on_data(struct gw_conn *c, const char *data, size_t len) {
  struct gw_h2 *h2 = c->h2;
  if (h2 == NULL || h2->fatal)
    return;
  h2->in_recv = 1;
  ssize_t n = nghttp2_session_mem_recv(h2->ses, (const uint8_t *)data, len);
  h2->in_recv = 0;
  if (c->closing)
    return;
  if (n < 0 && !h2->fatal) { /* nghttp2 already queued its GOAWAY when it could */
    /* a header block in more CONTINUATION frames than nghttp2 takes (8) is
     * a header block too big, as past 4 x max_header_bytes */
    int r = n == NGHTTP2_ERR_FLOODED                  ? GW_H2_GOAWAY_FLOOD
            : n == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS ? GW_H2_GOAWAY_HEADERS
                                                      : GW_H2_GOAWAY_PROTOCOL;
    fatal(h2, r, r == GW_H2_GOAWAY_PROTOCOL ? NGHTTP2_PROTOCOL_ERROR : NGHTTP2_ENHANCE_YOUR_CALM,
          nghttp2_strerror((int)n));
  }
  h2_flush(c);
}

/* Shutdown or drain: GOAWAY; the streams under way finish, then the close. */
static void h2_stopping(struct gw_conn *c) {
  if (c->h2 == NULL)
    return;
  goaway_graceful(c->h2);
  h2_flush(c);
}

static void h2_on_close(struct gw_conn *c) {
  struct gw_h2 *h2 = c->h2;
  struct h2_stream *st;
  if (h2 == NULL)
    return;
  while ((st = TAILQ_FIRST(&h2->streams)) != NULL) {
    TAILQ_REMOVE(&h2->streams, st, link);
    h2->nstreams--;
    st->closed = 1;
    stream_abandoned(st);
    stream_drop(st);
    stream_free_soon(st);
  }
  h2->dead = 1;
  gw_conn_hold(c, 0);
}

static void h2_release(struct gw_conn *c) {
  struct gw_h2 *h2 = c->h2;
  if (h2 == NULL)
    return;
  h2->dead = 1;
  nghttp2_session_del(h2->ses);
  h2->ses = NULL;
  c->h2 = NULL;
  h2_unref(h2);
}

const struct gw_proto gw_h2_proto = {.name = "h2",
                                     .start = h2_start,
                                     .on_data = h2_on_data,
                                     .stopping = h2_stopping,
                                     .on_close = h2_on_close,
                                     .release = h2_release,
                                     .drained = h2_flush,
                                     .flush = h2_flush};

void gw_h2_start_on(struct gw_conn *c) {
  gw_conn_http1_drop(c); /* what HTTP/1 held for its first request */
  gw_conn_timer(c, 0, NULL);
  gw_conn_set_proto(c, &gw_h2_proto);
}

/* ---- Metrics ---- */

void gw_h2_render_metrics(const struct gw_server *srv, struct ipc_buf *b) {
  static const char *const labels[] = {
#define XX(name, label) label,
      GW_H2_GOAWAY_MAP(XX)
#undef XX
  };
  const struct gw_h2_stats *st = &srv->h2;
  gw_metrics_counter(b, "muster_h2_connections_total", "Client connections that spoke HTTP/2.",
                     st->connections);
  gw_metrics_counter(b, "muster_h2_streams_total", "HTTP/2 streams opened by clients.",
                     st->streams);
  gw_metrics_counter(b, "muster_h2_resets_total", "RST_STREAM frames received from clients.",
                     st->resets);
  gw_metrics_printf(b, "# HELP muster_h2_goaways_total GOAWAY frames sent to clients, by "
                       "reason.\n# TYPE muster_h2_goaways_total counter\n");
  for (int i = 0; i < GW_H2_GOAWAY_N; i++)
    gw_metrics_printf(b, "muster_h2_goaways_total{reason=\"%s\"} %llu\n", labels[i],
                      (unsigned long long)st->goaways[i]);
}
