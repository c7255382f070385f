/* gw_h1 — the HTTP/1 protocol of a connection: reading requests with
 * llhttp (strict, plus gw_strict's checks), limits and timeouts, strictly
 * ordered pipelining, and the framing of every answer (status line,
 * content-length or chunked, HEAD, x-request-id, keep-alive or close,
 * HTTP/1.0). See gw_conn.h for the protocol seam, gw_req.h for the
 * handler side. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw.h"
#include "gw_strict.h"
#include "util_vec.h"

#define IN_MAX (256 * 1024) /* bytes held while a request is answered */
#define CB_ERROR -1         /* a parser callback's refusal (HPE_USER) */

static const struct gw_resp_ops h1_out;

static struct gw_conn *conn_of(llhttp_t *p) {
  return p->data;
}

/* ---- Errors raised from parser callbacks ---- */

/* Makes the parser stop; the request is refused with status and msg. */
static int raise_err(struct gw_conn *c, int status, const char *msg) {
  c->h1->err_status = status;
  c->h1->err_msg = msg;
  return CB_ERROR;
}

static int refuse(struct gw_conn *c, const char *why) {
  return why ? raise_err(c, 400, why) : 0;
}

static int count_header_bytes(struct gw_conn *c, size_t len) {
  c->h1->header_bytes += (uint32_t)len;
  if (c->h1->header_bytes > (uint64_t)c->srv->cfg->max_header_bytes)
    return raise_err(c, 431, "request headers too large");
  return 0;
}

/* The byte `back` places before at in the input stream, or '\0' when it
 * is out of reach (llhttp callbacks only see the current read). */
static char byte_before(const struct gw_conn *c, const char *at, size_t back) {
  size_t k = (size_t)(at - c->h1->feed_start);
  if (k >= back)
    return at[-(ptrdiff_t)back];
  if (back - k == 1)
    return c->h1->feed_prev;
  return back - k == 2 ? c->h1->feed_prev2 : '\0';
}

/* ---- Closing ---- */

/* Closes the connection once the answer is out. When the client may
 * still be sending (a request read in part, or bytes past the last one)
 * the close lingers (gw_conn_close): muster reads and drops what comes
 * until the client closes, so that a client that sends its whole body
 * before it reads (Python's http.client) gets the answer, not the reset
 * the kernel sends for a close with unread bytes (RFC 9112 §9.6; nginx's
 * lingering_close). An idle connection closes at once. */
static void h1_close(struct gw_conn *c) {
  if (c->h1->in_message || c->h1->in.len > 0)
    c->linger = 1;
  gw_conn_close(c, 1);
}

/* ---- Timers ---- */

static void abandon_handler(struct gw_conn *c);

static void on_header_timeout(uv_timer_t *t) {
  struct gw_conn *c = t->data;
  if (c->h1->state == GW_H1_DISCARD || (c->h1->state == GW_H1_STREAMING && c->req->head_sent)) {
    h1_close(c); /* a body that stalls after its answer began */
    return;
  }
  if (c->h1->state == GW_H1_STREAMING)
    abandon_handler(c); /* its body stalled: the handler lets go, 408 */
  else if (c->h1->state != GW_H1_READING)
    return;
  c->req->keepalive = 0;
  c->h1->state = GW_H1_BUSY;
  gw_req_split_target(c->req); /* what came of it, for the log */
  gw_reply_error(c->req, 408, "request not complete within header_timeout_ms", NULL);
  h1_close(c);
}

static void on_idle_timeout(uv_timer_t *t) {
  struct gw_conn *c = t->data;
  if (c->h1->state == GW_H1_IDLE)
    h1_close(c);
}

static void on_request_timeout(uv_timer_t *t) {
  struct gw_conn *c = t->data;
  if (c->req->gen && c->req->gen->timeout)
    c->req->gen->timeout(c->req);
}

static void header_timer(struct gw_conn *c) {
  gw_conn_timer(c, (uint64_t)c->srv->cfg->header_timeout_ms, on_header_timeout);
}

/* ---- llhttp callbacks: the head ---- */

static int on_message_begin(llhttp_t *p) {
  struct gw_conn *c = conn_of(p);
  c->h1->header_bytes = 0;
  c->h1->in_field = 0;
  c->h1->in_trailers = 0;
  c->h1->err_status = 0;
  c->h1->in_message = 1;
  if (c->h1->state == GW_H1_IDLE) {
    c->h1->state = GW_H1_READING;
    header_timer(c);
  }
  return 0;
}

/* The method is known: an answer to HEAD has no body, even an error
 * raised before the request is complete. */
static int on_method_complete(llhttp_t *p) {
  conn_of(p)->req->is_head = p->method == HTTP_HEAD;
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  struct gw_conn *c = conn_of(p);
  if (count_header_bytes(c, len)) /* the target alone is too long: 414, as nginx */
    return raise_err(c, 414, "request target too long");
  if (c->req->url_len == 0 &&
      refuse(c, gw_strict_target_start(byte_before(c, at, 1), byte_before(c, at, 2))))
    return CB_ERROR;
  ipc_buf_add(&c->req->hbuf, at, len);
  c->req->url_len += (uint32_t)len;
  return 0;
}

/* A header line begins: a new entry in req->hdrs. */
static int begin_header(struct gw_conn *c, const char *at) {
  struct gw_req *req = c->req;
  if (refuse(c, gw_strict_line_start(byte_before(c, at, 1), byte_before(c, at, 2))))
    return CB_ERROR;
  if (util_vec_reserve(&req->hdrs, &req->caphdrs, req->nhdrs + 1) != 0)
    return raise_err(c, 500, "out of memory");
  struct gw_hdr *h = &req->hdrs[req->nhdrs++];
  h->name = h->value = (uint32_t)req->hbuf.len;
  h->nlen = h->vlen = 0;
  c->h1->in_field = 1;
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  struct gw_conn *c = conn_of(p);
  if (count_header_bytes(c, len))
    return CB_ERROR;
  if (c->h1->in_trailers) /* checked like a header, then dropped */
    return refuse(c, gw_strict_name(at, len)) ? CB_ERROR : 0;
  if (!c->h1->in_field && begin_header(c, at))
    return CB_ERROR;
  if (refuse(c, gw_strict_name(at, len)))
    return CB_ERROR;
  ipc_buf_add(&c->req->hbuf, at, len);
  c->req->hdrs[c->req->nhdrs - 1].nlen += (uint32_t)len;
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  struct gw_conn *c = conn_of(p);
  struct gw_req *req = c->req;
  if (count_header_bytes(c, len))
    return CB_ERROR;
  if (refuse(c, gw_strict_value(at, len,
                                gw_strict_nonws_before(at, c->h1->feed_start, c->h1->feed_nonws))))
    return CB_ERROR;
  if (c->h1->in_trailers)
    return 0;
  if (req->nhdrs == 0 || (c->h1->in_field && req->hdrs[req->nhdrs - 1].nlen == 0))
    return raise_err(c, 400, "empty header name");
  struct gw_hdr *h = &req->hdrs[req->nhdrs - 1];
  if (c->h1->in_field) {
    h->value = (uint32_t)req->hbuf.len;
    c->h1->in_field = 0;
  }
  ipc_buf_add(&req->hbuf, at, len);
  h->vlen += (uint32_t)len;
  return 0;
}

static int on_header_value_complete(llhttp_t *p) {
  struct gw_conn *c = conn_of(p);
  if (!c->h1->in_trailers && c->req->nhdrs > 0)
    gw_hdr_trim(c->req->hbuf.data, &c->req->hdrs[c->req->nhdrs - 1]);
  return 0;
}

/* Expect: 100-continue is answered (HTTP/1.1) once the head is accepted
 * (send_continue); anything else: 417. */
static int check_expect(struct gw_conn *c) {
  uint32_t len;
  const char *expect = gw_req_header_at(c->req, c->req->hdr_expect, &len);
  c->h1->continue_due = 0;
  if (expect == NULL)
    return 0;
  if (len != 12 || strncasecmp(expect, "100-continue", 12) != 0)
    return raise_err(c, 417, "unsupported expectation");
  c->h1->continue_due = c->req->http_minor >= 1;
  return 0;
}

/* The interim 100 Continue, unless the request was answered already. */
static void send_continue(struct gw_conn *c) {
  static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
  uv_buf_t b = uv_buf_init((char *)cont, sizeof(cont) - 1);
  if (!c->h1->continue_due || c->req->head_sent || c->closing)
    return;
  c->h1->continue_due = 0;
  c->req->bytes_out += b.len;
  gw_conn_writev(c, &b, 1);
}

/* Offers the head of a request to the handlers that take requests at
 * their head (gw_req_offer_head). Returns 1 when one took it (state
 * STREAMING, or whatever its answer made it), else 0. */
static int head_dispatch(struct gw_conn *c) {
  c->h1->state = GW_H1_STREAMING; /* an answer now leaves the body to be dropped */
  if (gw_req_offer_head(c->req))
    return 1;
  c->h1->state = GW_H1_READING;
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  struct gw_conn *c = conn_of(p);
  struct gw_req *req = c->req;
  gw_req_index_headers(req);
  gw_req_split_target(req);
  c->h1->in_trailers = 1; /* what header callbacks follow the body are trailers */
  if (p->http_major != 1)
    return raise_err(c, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
  req->http_minor = p->http_minor;
  if (refuse(c, gw_strict_framing(req->hbuf.data, req->hdrs, req->nhdrs, p->http_minor)) ||
      refuse(c, gw_strict_host(req->hbuf.data, req->hdrs, req->nhdrs, p->http_minor,
                               req->auth_len > 0)))
    return CB_ERROR;
  const char *mn = llhttp_method_name(p->method); /* no printf per request */
  size_t mlen = strnlen(mn, sizeof(req->method) - 1);
  memcpy(req->method, mn, mlen);
  req->method[mlen] = '\0';
  if (refuse(c, gw_strict_target(req->method, req->hbuf.data, req->url_len)) ||
      refuse(c, gw_strict_path(req->hbuf.data, req->url_len)) ||
      refuse(c, gw_req_resolve_dots(req)))
    return CB_ERROR;
  if (check_expect(c))
    return CB_ERROR;
  int has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
  req->body_len = (p->flags & F_CHUNKED) ? -1 : has_body ? (int64_t)p->content_length : 0;
  if (head_dispatch(c)) { /* the body streams to the handler: no max_body_bytes */
    if (c->h1->state == GW_H1_STREAMING && has_body)
      send_continue(c);
  } else {
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > (uint64_t)c->srv->cfg->max_body_bytes)
      return raise_err(c, 413, "request body too large");
    send_continue(c);
  }
  /* A slow body is bounded like slow headers: by inactivity. (Without a
   * body the request is complete now: the header timer still runs and
   * the dispatch replaces it; timers are a share of the hot path.) */
  if (has_body && c->h1->state != GW_H1_BUSY && c->h1->state != GW_H1_IDLE)
    header_timer(c);
  return 0;
}

/* ---- llhttp callbacks: the body ---- */

static int on_chunk_header(llhttp_t *p) {
  conn_of(p)->h1->chunk_left = p->content_length;
  return 0;
}

#define DISCARD_MAX (1024 * 1024) /* body bytes dropped after an early answer, at most */

static int on_body(llhttp_t *p, const char *at, size_t len) {
  struct gw_conn *c = conn_of(p);
  struct gw_h1 *h = c->h1;
  if (h->state == GW_H1_READING && c->req->body.len + len > (uint64_t)c->srv->cfg->max_body_bytes)
    return raise_err(c, 413, "request body too large");
  if ((p->flags & F_CHUNKED) && h->chunk_left >= len) {
    h->chunk_left -= len;
    if (h->chunk_left == 0) {
      h->crlf_need = 2;
      if (refuse(c, gw_strict_chunk_crlf(&h->crlf_need, at + len, h->feed_end)))
        return CB_ERROR;
    }
  }
  if (h->state == GW_H1_DISCARD) { /* answered already: dropped, within a bound */
    h->discarded += len;
    return h->discarded > DISCARD_MAX ? raise_err(c, 413, "request body too large") : 0;
  }
  if (h->state == GW_H1_STREAMING) {
    c->req->gen->body(c->req, at, len);
    return c->closing ? CB_ERROR : 0;
  }
  ipc_buf_add(&c->req->body, at, len);
  if (c->req->body.oom)
    return raise_err(c, 500, "out of memory");
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  struct gw_conn *c = conn_of(p);
  /* muster is no forward proxy: after CONNECT the connection ends. */
  int keep = llhttp_should_keep_alive(p) && !c->srv->stopping && p->method != HTTP_CONNECT;
  c->h1->in_message = 0;
  if (c->h1->state == GW_H1_DISCARD) { /* the answer went out: on to the next request */
    c->h1->state = GW_H1_IDLE;
    if (!keep)
      h1_close(c);
    else
      gw_conn_timer(c, (uint64_t)c->srv->cfg->keepalive_timeout_ms, on_idle_timeout);
    return keep ? 0 : CB_ERROR;
  }
  c->req->keepalive = keep;
  c->h1->stream_end = c->h1->state == GW_H1_STREAMING; /* told from feed() */
  return HPE_PAUSED; /* one request at a time: answered in order */
}

void gw_h1_settings(llhttp_settings_t *s) {
  llhttp_settings_init(s);
  s->on_message_begin = on_message_begin;
  s->on_method_complete = on_method_complete;
  s->on_url = on_url;
  s->on_header_field = on_header_field;
  s->on_header_value = on_header_value;
  s->on_header_value_complete = on_header_value_complete;
  s->on_headers_complete = on_headers_complete;
  s->on_body = on_body;
  s->on_chunk_header = on_chunk_header;
  s->on_message_complete = on_message_complete;
}

/* ---- Requests: dispatch and end ---- */

static void drain_in(struct gw_conn *c);

/* Reading from the client goes on unless `in` is full or the handler of a
 * streamed body holds too much. */
static void update_reading(struct gw_conn *c) {
  if (c->h1->reading_stopped || c->h1->body_paused)
    gw_conn_pause(c);
  else
    gw_conn_resume(c);
}

/* A request taken at its head was answered before its body ended: the
 * rest of the body is read and dropped (DISCARD), then the connection
 * goes on; unless the client still waits for its 100 Continue (it may
 * never send the body) or muster stops: then it closes. */
static void end_early(struct gw_conn *c) {
  struct gw_req *req = c->req;
  int close_now = c->h1->continue_due || c->srv->stopping;
  gw_req_log(req);
  gw_req_reset(req);
  c->h1->continue_due = 0;
  c->h1->body_paused = 0;
  if (c->closing)
    return;
  if (close_now) {
    c->h1->state = GW_H1_IDLE;
    h1_close(c);
    return;
  }
  c->h1->state = GW_H1_DISCARD;
  c->h1->discarded = 0;
  header_timer(c);
  update_reading(c);
}

/* The end of a streamed body (feed, outside llhttp): the request is now
 * whole and being answered (BUSY); the handler hears of it. */
static void end_stream(struct gw_conn *c) {
  struct gw_req *req = c->req;
  c->h1->stream_end = 0;
  c->h1->state = GW_H1_BUSY;
  gw_conn_timer(c, 0, NULL); /* the handler's timeouts from here on */
  if (c->h1->body_paused) {
    c->h1->body_paused = 0;
    update_reading(c);
  }
  if (req->gen && req->gen->body)
    req->gen->body(req, NULL, 0);
}

/* The request was answered: log it, then read the next one or close.
 * Every request ends here. */
static void req_end(struct gw_conn *c) {
  struct gw_req *req = c->req;
  if (c->h1->state == GW_H1_STREAMING) {
    end_early(c); /* answered before its body ended */
    return;
  }
  if (c->h1->state != GW_H1_BUSY)
    return; /* ended already (the connection closed while answering) */
  int keep = req->keepalive && !c->srv->stopping;
  gw_req_log(req);
  gw_req_reset(req);
  c->h1->state = GW_H1_IDLE;
  if (c->closing)
    return; /* closed while answering (slow client, write error) */
  if (!keep) {
    h1_close(c);
    return;
  }
  gw_conn_timer(c, (uint64_t)c->srv->cfg->keepalive_timeout_ms, on_idle_timeout);
  if (c->h1->reading_stopped) {
    c->h1->reading_stopped = 0;
    gw_conn_resume(c);
  }
  drain_in(c);
}

/* ---- Feeding the parser ---- */

/* Answers a request the parser refused, then closes. */
static void fail_parse(struct gw_conn *c, llhttp_errno_t e) {
  struct gw_h1 *h = c->h1;
  int status = h->err_status ? h->err_status : 400;
  const char *msg = h->err_status ? h->err_msg : llhttp_get_error_reason(&h->parser);
  if (e == HPE_CLOSED_CONNECTION || h->state == GW_H1_DISCARD) {
    c->linger = 1; /* bytes after a "Connection: close" request, or a bad dropped body */
    h1_close(c);
    return;
  }
  c->req->keepalive = 0;
  if (h->state == GW_H1_STREAMING)
    abandon_handler(c); /* a bad streamed body: the handler lets go */
  if (h->state != GW_H1_BUSY && !c->req->head_sent) {
    h->state = GW_H1_BUSY;
    gw_req_split_target(c->req); /* what came of it, for the log */
    gw_reply_error(c->req, status, msg ? msg : "bad request", NULL);
  }
  h1_close(c);
}

/* Remembers the two bytes before data + off for byte_before(), and the
 * last of them not SP or HT for gw_strict_value. */
static void keep_prev(struct gw_h1 *h, const char *data, size_t off) {
  h->feed_nonws = gw_strict_nonws_last(data, off, h->feed_nonws);
  if (off > 1)
    h->feed_prev2 = data[off - 2];
  else if (off == 1)
    h->feed_prev2 = h->feed_prev;
  if (off > 0)
    h->feed_prev = data[off - 1];
}

/* Parses data until a request is complete and must be answered. Returns
 * the bytes consumed; the rest waits in `in`. Requests answered at once
 * (404, 503, health) let parsing go on within the same call. */
static size_t feed(struct gw_conn *c, const char *data, size_t len) {
  struct gw_h1 *h = c->h1;
  size_t off = 0;
  h->feeding = 1;
  h->feed_start = data;
  h->feed_end = data + len;
  if (h->crlf_need && refuse(c, gw_strict_chunk_crlf(&h->crlf_need, data, data + len))) {
    h->feeding = 0; /* a chunk's CRLF split across reads, and wrong */
    fail_parse(c, HPE_USER);
    return len;
  }
  while (off < len && !c->closing && h->state != GW_H1_BUSY) {
    h->feed_start = data + off;
    keep_prev(h, data, off);
    llhttp_errno_t e = llhttp_execute(&h->parser, data + off, len - off);
    if (e == HPE_OK) {
      off = len;
      break;
    }
    if (e == HPE_PAUSED_UPGRADE) {
      /* The last request asked for an upgrade muster did not make (RFC
       * 9110 §7.8 lets a server ignore it): go on with HTTP/1.1. */
      off = (size_t)(llhttp_get_error_pos(&h->parser) - data);
      llhttp_resume_after_upgrade(&h->parser);
      continue;
    }
    if (e != HPE_PAUSED) {
      fail_parse(c, e);
      off = len;
      break;
    }
    off = (size_t)(llhttp_get_error_pos(&h->parser) - data);
    llhttp_resume(&h->parser);
    if (c->closing)
      break;
    if (h->stream_end) { /* a body streamed to its handler is complete */
      end_stream(c);
      continue;
    }
    h->state = GW_H1_BUSY; /* the header timer, if it fires now, does nothing */
    gw_req_offer(c->req);  /* may answer at once and set IDLE again */
  }
  keep_prev(h, data, off);
  h->feeding = 0;
  return off;
}

/* Parses what waited in `in` while a request was being answered. */
static void drain_in(struct gw_conn *c) {
  struct gw_h1 *h = c->h1;
  if (h->in.len == 0 || h->feeding || c->closing)
    return;
  size_t n = feed(c, h->in.data, h->in.len);
  ipc_buf_consume(&h->in, n);
}

/* ---- The protocol seam (gw_conn.h) ---- */

/* Answers a connection over max_connections with 503 and closes it. */
static void shed(struct gw_conn *c) {
  c->req->keepalive = 0;
  c->h1->state = GW_H1_BUSY;
  gw_reply_error(c->req, 503, "too many connections", &gw_retry_after);
  h1_close(c);
}

static void h1_start(struct gw_conn *c) {
  struct gw_server *srv = c->srv;
  llhttp_init(&c->h1->parser, HTTP_REQUEST, &srv->settings);
  c->h1->parser.data = c;
  c->req->conn = c;
  c->req->srv = srv;
  c->req->out = &h1_out;
  c->req->instance = -1;
  c->req->http_minor = 1;
  c->req->hdr_host = c->req->hdr_expect = c->req->hdr_reqid = -1;
  if (srv->nconns > (size_t)srv->cfg->max_connections) {
    shed(c);
    return;
  }
  c->h1->state = GW_H1_READING; /* a connection that never sends is a slowloris too */
  header_timer(c);
}

/* h2c with prior knowledge (RFC 9113 §3.3): a connection whose first
 * bytes are the HTTP/2 connection preface goes to gw_h2 (no HTTP/1.1
 * request starts so: "PRI" is reserved for it). Returns 1 when data was
 * taken: held while it may still be the preface, or handed over. */
static int sniff_h2(struct gw_conn *c, const char *data, size_t len) {
  static const char pre[] = GW_H2_PREFACE;
  struct gw_h1 *h = c->h1;
  size_t have = h->in.len, n = GW_H2_PREFACE_LEN - have;
  if (n > len)
    n = len;
  if (memcmp(data, pre + have, n) != 0) {
    h->sniffed = 1; /* HTTP/1: what was held is parsed first */
    return 0;
  }
  ipc_buf_add(&h->in, data, len);
  if (h->in.len < GW_H2_PREFACE_LEN)
    return 1;
  h->sniffed = 1;
  struct ipc_buf in = h->in;
  ipc_buf_init(&h->in);
  gw_h2_start_on(c);
  if (!c->closing)
    c->proto->on_data(c, in.data, in.len);
  ipc_buf_free(&in);
  return 1;
}

static void h1_on_data(struct gw_conn *c, const char *data, size_t len) {
  struct gw_h1 *h = c->h1;
  if (!h->sniffed && sniff_h2(c, data, len))
    return;
  if (h->state == GW_H1_STREAMING || h->state == GW_H1_DISCARD)
    header_timer(c); /* a streamed body: the longest gap is bounded, not its whole time */
  if (h->in.len == 0 && h->state != GW_H1_BUSY) {
    size_t n = feed(c, data, len);
    if (n < len && !c->closing)
      ipc_buf_add(&h->in, data + n, len - n);
  } else {
    ipc_buf_add(&h->in, data, len);
    drain_in(c);
  }
  if (h->in.len > IN_MAX && !h->reading_stopped && !c->closing) {
    gw_conn_pause(c); /* a pipelining client far ahead of us: wait */
    h->reading_stopped = 1;
  }
}

static void h1_stopping(struct gw_conn *c) {
  c->req->keepalive = 0;
  if (c->h1->state != GW_H1_BUSY && c->h1->state != GW_H1_STREAMING)
    h1_close(c);
}

/* The handler of a request lets go of it (the request is not ended). */
static void abandon_handler(struct gw_conn *c) {
  const struct gw_gen *gen = c->req->gen;
  c->req->gen = NULL;
  if (gen && gen->abandon)
    gen->abandon(c->req);
}

/* The connection closes with a request unanswered or half answered: the
 * handler lets go of it, and it is logged as what it was (499, nginx's
 * "client closed request", when nothing was sent). */
static void h1_on_close(struct gw_conn *c) {
  struct gw_req *req = c->req;
  if (c->h1->state != GW_H1_BUSY && c->h1->state != GW_H1_STREAMING)
    return;
  abandon_handler(c);
  if (!req->head_sent)
    req->status = 499;
  gw_req_log(req);
  gw_req_reset(req);
  c->h1->state = GW_H1_IDLE;
}

static void h1_release(struct gw_conn *c) {
  (void)c; /* gw_conn frees the HTTP/1 state with the connection */
}

/* The client took what was queued for it: the handler may send more. */
static void h1_drained(struct gw_conn *c) {
  if ((c->h1->state == GW_H1_BUSY || c->h1->state == GW_H1_STREAMING) && c->req->gen &&
      c->req->gen->drained)
    c->req->gen->drained(c->req);
}

const struct gw_proto gw_h1_proto = {.name = "http/1.1",
                                     .start = h1_start,
                                     .on_data = h1_on_data,
                                     .stopping = h1_stopping,
                                     .on_close = h1_on_close,
                                     .release = h1_release,
                                     .drained = h1_drained};

/* ---- Framing the answers ---- */

/* Writes what the request's answer is made of (counted for the log). */
static void out(struct gw_req *req, const uv_buf_t *bufs, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    req->bytes_out += bufs[i].len;
  gw_conn_writev(req->conn, bufs, n);
}

#define BODY_NONE -2   /* no content-length, no body (204, 304) */
#define BODY_STREAM -1 /* chunked, or until the close */

/* The head of an answer into the server's head buffer: status line, the
 * given headers, x-request-id, date (unless among them), the framing and
 * the connection header.
 * Returns 0, or UV_ENOMEM. */
static int put_head(struct gw_req *req, struct ipc_buf *b, int status, const struct ipc_header *h,
                    size_t nh, int64_t clen) {
  ipc_buf_reset(b);
  ipc_buf_adds(b, "HTTP/1.1 ");
  ipc_buf_addi(b, status);
  ipc_buf_addc(b, ' ');
  ipc_buf_adds(b, gw_reason(status));
  for (size_t i = 0; i < nh; i++) {
    ipc_buf_add(b, "\r\n", 2);
    ipc_buf_add(b, h[i].name, h[i].name_len);
    ipc_buf_add(b, ": ", 2);
    ipc_buf_add(b, h[i].value, h[i].value_len);
  }
  ipc_buf_adds(b, "\r\nx-request-id: ");
  ipc_buf_adds(b, req->reqid);
  if (gw_req_hsts(req, h, nh)) {
    ipc_buf_adds(b, "\r\nstrict-transport-security: ");
    ipc_buf_add(b, req->srv->hsts, req->srv->hsts_len);
  }
  if (!gw_headers_have(h, nh, "date", 4)) {
    ipc_buf_adds(b, "\r\ndate: ");
    ipc_buf_add(b, gw_req_date(req->srv), UTIL_HTTP_DATE_LEN);
  }
  if (clen >= 0) {
    ipc_buf_adds(b, "\r\ncontent-length: ");
    ipc_buf_addi(b, clen);
  } else if (clen == BODY_STREAM && req->http_minor >= 1) {
    ipc_buf_adds(b, "\r\ntransfer-encoding: chunked");
    req->chunked = 1;
  } else if (clen == BODY_STREAM) {
    req->keepalive = 0; /* HTTP/1.0: the end of the stream is the close */
  }
  if (req->srv->draining && status != 101)
    req->keepalive = 0; /* a drain: clients go elsewhere for their next request */
  if (status == 101)
    ; /* the protocol's own connection header is among h */
  else if (!req->keepalive)
    ipc_buf_adds(b, "\r\nconnection: close");
  else if (req->http_minor == 0)
    ipc_buf_adds(b, "\r\nconnection: keep-alive"); /* RFC 9112 §9.3 */
  ipc_buf_add(b, "\r\n\r\n", 4);
  req->status = status;
  req->head_sent = 1;
  return b->oom ? UV_ENOMEM : 0;
}

/* When even a head cannot be made: a bare 500, and the connection goes. */
static void head_failed(struct gw_req *req) {
  static const char bare[] = "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n"
                             "connection: close\r\n\r\n";
  uv_buf_t b = uv_buf_init((char *)bare, sizeof(bare) - 1);
  req->keepalive = 0;
  req->status = 500;
  out(req, &b, 1);
}

static void h1_respond(struct gw_req *req, int status, const struct ipc_header *h, size_t nh,
                       const char *body, size_t len) {
  struct ipc_buf *b = &req->srv->head;
  int bodyless = status == 204 || status == 304;
  if (put_head(req, b, status, h, nh, bodyless ? BODY_NONE : (int64_t)len) != 0) {
    head_failed(req);
  } else {
    uv_buf_t v[2] = {uv_buf_init(b->data, (unsigned)b->len),
                     uv_buf_init((char *)body, (unsigned)len)};
    out(req, v, (req->is_head || bodyless || len == 0) ? 1 : 2); /* head + body: one write */
  }
  req_end(req->conn);
}

static void h1_stream_start(struct gw_req *req, int status, const struct ipc_header *h, size_t nh,
                            int64_t clen) {
  struct ipc_buf *b = &req->srv->head;
  int bodyless = status == 204 || status == 304;
  if (req->conn->h1->state != GW_H1_STREAMING) /* (there, the timer bounds the body) */
    gw_conn_timer(req->conn, 0, NULL);         /* the timeout bounded the head, not the stream */
  if (put_head(req, b, status, h, nh, bodyless ? BODY_NONE : clen >= 0 ? clen : BODY_STREAM) != 0) {
    head_failed(req);
    return;
  }
  uv_buf_t v = uv_buf_init(b->data, (unsigned)b->len);
  req->streaming = 1;
  out(req, &v, 1);
}

static void h1_send(struct gw_req *req, const char *data, size_t len) {
  char size[24];
  if (len == 0 || req->is_head || !req->streaming)
    return;
  if (!req->chunked) {
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    out(req, &b, 1);
    return;
  }
  int n = snprintf(size, sizeof(size), "%zx\r\n", len);
  uv_buf_t b[3] = {uv_buf_init(size, (unsigned)n), uv_buf_init((char *)data, (unsigned)len),
                   uv_buf_init("\r\n", 2)};
  out(req, b, 3);
}

static void h1_finish(struct gw_req *req) {
  if (req->chunked && !req->is_head) {
    uv_buf_t b = uv_buf_init("0\r\n\r\n", 5);
    out(req, &b, 1);
  }
  req_end(req->conn);
}

/* 101: the head, the request's end (logged), and the connection goes to
 * protocol p; what the client sent after the request stays in h1.in for
 * it. */
static void h1_switch(struct gw_req *req, const struct ipc_header *h, size_t nh,
                      const struct gw_proto *p) {
  struct gw_conn *c = req->conn;
  struct ipc_buf *b = &req->srv->head;
  if (put_head(req, b, 101, h, nh, BODY_NONE) != 0) {
    head_failed(req);
    req_end(c);
    return;
  }
  uv_buf_t v = uv_buf_init(b->data, (unsigned)b->len);
  out(req, &v, 1);
  gw_req_log(req);
  gw_req_reset(req); /* its buffers go with the HTTP/1 state (the drop below) */
  c->h1->state = GW_H1_IDLE;
  gw_conn_timer(c, 0, NULL);
  if (c->h1->reading_stopped) {
    c->h1->reading_stopped = 0;
    gw_conn_resume(c);
  }
  gw_conn_set_proto(c, p);
  gw_conn_http1_drop(c); /* what is left in h1->in, p's start takes at once */
}

static void h1_timer(struct gw_req *req, uint64_t ms) {
  if (req->conn->h1->state == GW_H1_STREAMING && !req->conn->h1->body_paused)
    return; /* the timer bounds the body's gaps until it is complete (or paused) */
  gw_conn_timer(req->conn, ms, ms ? on_request_timeout : NULL);
}

static size_t h1_queued(const struct gw_req *req) {
  return gw_conn_queued(req->conn);
}

/* Stops or resumes reading a streamed body (the handler is full or not). */
static void h1_pause_body(struct gw_req *req, int pause) {
  struct gw_conn *c = req->conn;
  if (c->h1->state != GW_H1_STREAMING)
    pause = 0;
  if (c->h1->body_paused == (unsigned)pause || c->closing)
    return;
  c->h1->body_paused = (unsigned)pause;
  if (pause)
    gw_conn_timer(c, 0, NULL); /* not the client's gap: the handler's side bounds it */
  else
    header_timer(c);
  update_reading(c);
}

static int h1_want_drain(struct gw_req *req) {
  return gw_conn_want_drain(req->conn);
}

/* Cutting a request's answer: HTTP/1 has no other way than the close. */
static void h1_abort(struct gw_req *req, int graceful) {
  if (graceful)
    h1_close(req->conn);
  else
    gw_conn_close(req->conn, 0);
}

static const struct gw_resp_ops h1_out = {.respond = h1_respond,
                                          .start = h1_stream_start,
                                          .send = h1_send,
                                          .finish = h1_finish,
                                          .switch_proto = h1_switch,
                                          .timer = h1_timer,
                                          .queued = h1_queued,
                                          .pause_body = h1_pause_body,
                                          .want_drain = h1_want_drain,
                                          .abort = h1_abort};
