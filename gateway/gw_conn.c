/* gw_conn — one client connection: parsing with llhttp (strict), request
 * limits and timeouts, strictly ordered pipelining, and writing. See gw.h. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw.h"
#include "sup_instance.h"
#include "sup_log.h"
#include "sup_service.h"

#define IN_MAX (256 * 1024)              /* bytes held while a request is answered */
#define WQ_MAX ((size_t)64 << 20)         /* response bytes queued for a slow client */
#define LINGER_MS 5000                    /* a closing connection's last writes */
#define KEEP_CAP (64 * 1024)              /* buffer capacity kept between requests */

/* Empties b; a large allocation (a big body or response, once) is given
 * back rather than held for the life of a keep-alive connection. */
static void trim(struct ipc_buf *b) {
  if (b->cap > KEEP_CAP)
    ipc_buf_free(b);
  else
    ipc_buf_reset(b);
}

static struct gw_conn *conn_of(llhttp_t *p) {
  return p->data;
}

/* ---- Errors raised from parser callbacks ---- */

/* Makes the parser stop with status (413, 431, 400) and message. */
static int raise_err(struct gw_conn *c, int status, const char *msg) {
  c->err_status = status;
  c->err_msg = msg;
  return -1; /* HPE_USER */
}

static int count_header_bytes(struct gw_conn *c, size_t len) {
  c->header_bytes += (uint32_t)len;
  if (c->header_bytes > (uint64_t)c->srv->cfg->max_header_bytes)
    return raise_err(c, 431, "request headers too large");
  return 0;
}

/* ---- llhttp callbacks ---- */

static void timer_restart(struct gw_conn *c, uint64_t ms, uv_timer_cb cb);
static void on_header_timeout(uv_timer_t *t);

static int on_message_begin(llhttp_t *p) {
  struct gw_conn *c = conn_of(p);
  ipc_buf_reset(&c->hbuf);
  ipc_buf_reset(&c->body);
  c->nhdrs = 0;
  c->url_len = 0;
  c->header_bytes = 0;
  c->in_field = 0;
  c->err_status = 0;
  c->reqid[0] = '\0';
  if (c->state == GW_C_IDLE) {
    c->state = GW_C_READING;
    timer_restart(c, (uint64_t)c->srv->cfg->header_timeout_ms, on_header_timeout);
  }
  return 0;
}

/* The method is known: an answer to HEAD has no body, even an error
 * raised before the request is complete. */
static int on_method_complete(llhttp_t *p) {
  conn_of(p)->is_head = p->method == HTTP_HEAD;
  return 0;
}

/* The byte `back` places before at in the input stream, or '\0' when it
 * is out of reach (llhttp callbacks only see the current read). */
static char byte_before(const struct gw_conn *c, const char *at, size_t back) {
  size_t k = (size_t)(at - c->feed_start);
  if (k >= back)
    return at[-(ptrdiff_t)back];
  if (back - k == 1)
    return c->feed_prev;
  return back - k == 2 ? c->feed_prev2 : '\0';
}

static int is_tchar(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  struct gw_conn *c = conn_of(p);
  if (count_header_bytes(c, len))
    return -1;
  /* llhttp skips a run of spaces before the target; RFC 9112 allows one. */
  if (c->url_len == 0 && byte_before(c, at, 1) == ' ' && byte_before(c, at, 2) == ' ')
    return raise_err(c, 400, "malformed request line");
  ipc_buf_add(&c->hbuf, at, len);
  c->url_len += (uint32_t)len;
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  struct gw_conn *c = conn_of(p);
  if (count_header_bytes(c, len))
    return -1;
  if (!c->in_field) {
    /* Every header line follows a CRLF; llhttp lets a bare LF after the
     * request line through. */
    char b1 = byte_before(c, at, 1), b2 = byte_before(c, at, 2);
    if (b2 != '\0' && (b1 != '\n' || b2 != '\r'))
      return raise_err(c, 400, "bare LF in the request head");
    if (c->nhdrs == c->caphdrs) {
      uint32_t cap = c->caphdrs ? c->caphdrs * 2 : 16;
      struct gw_hdr *h = realloc(c->hdrs, cap * sizeof(*h));
      if (h == NULL)
        return raise_err(c, 500, "out of memory");
      c->hdrs = h;
      c->caphdrs = cap;
    }
    struct gw_hdr *h = &c->hdrs[c->nhdrs++];
    h->name = (uint32_t)c->hbuf.len;
    h->nlen = 0;
    h->value = (uint32_t)c->hbuf.len;
    h->vlen = 0;
    c->in_field = 1;
  }
  for (size_t i = 0; i < len; i++)
    if (!is_tchar((unsigned char)at[i])) /* e.g. "Name :" (RFC 9112: 400) */
      return raise_err(c, 400, "invalid header name");
  ipc_buf_add(&c->hbuf, at, len);
  c->hdrs[c->nhdrs - 1].nlen += (uint32_t)len;
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  struct gw_conn *c = conn_of(p);
  if (count_header_bytes(c, len))
    return -1;
  if (memchr(at, '\0', len) || memchr(at, '\r', len) || memchr(at, '\n', len))
    return raise_err(c, 400, "invalid character in a header value");
  /* A value piece that starts a line is an obs-fold continuation, which
   * llhttp joins; RFC 9112 lets a server reject it, and we do. */
  if (byte_before(c, at, 1) == '\n')
    return raise_err(c, 400, "obsolete line folding in a header");
  if (c->nhdrs == 0 || (c->in_field && c->hdrs[c->nhdrs - 1].nlen == 0))
    return raise_err(c, 400, "empty header name");
  struct gw_hdr *h = &c->hdrs[c->nhdrs - 1];
  if (c->in_field) {
    h->value = (uint32_t)c->hbuf.len;
    c->in_field = 0;
  }
  ipc_buf_add(&c->hbuf, at, len);
  h->vlen += (uint32_t)len;
  return 0;
}

/* Lower-cases header names in place, once the head is complete. */
static void lower_names(struct gw_conn *c) {
  for (uint32_t i = 0; i < c->nhdrs; i++) {
    char *n = c->hbuf.data + c->hdrs[i].name;
    for (uint32_t k = 0; k < c->hdrs[i].nlen; k++)
      if (n[k] >= 'A' && n[k] <= 'Z')
        n[k] = (char)(n[k] + 32);
  }
}

const char *gw_conn_header(struct gw_conn *c, const char *name, uint32_t *len) {
  size_t n = strlen(name);
  for (uint32_t i = 0; i < c->nhdrs; i++) {
    if (c->hdrs[i].nlen == n && memcmp(c->hbuf.data + c->hdrs[i].name, name, n) == 0) {
      *len = c->hdrs[i].vlen;
      return c->hbuf.data + c->hdrs[i].value;
    }
  }
  return NULL;
}

/* Rejects what llhttp lets through but a strict edge must not: several
 * Content-Length headers (even equal ones disagree on intent), a
 * Transfer-Encoding that is not exactly "chunked". */
static int check_framing(struct gw_conn *c) {
  int ncl = 0, nte = 0;
  for (uint32_t i = 0; i < c->nhdrs; i++) {
    const char *n = c->hbuf.data + c->hdrs[i].name;
    uint32_t nl = c->hdrs[i].nlen;
    if (nl == 14 && memcmp(n, "content-length", 14) == 0)
      ncl++;
    else if (nl == 17 && memcmp(n, "transfer-encoding", 17) == 0) {
      nte++;
      if (c->hdrs[i].vlen != 7 || strncasecmp(c->hbuf.data + c->hdrs[i].value, "chunked", 7))
        return raise_err(c, 400, "unsupported transfer-encoding");
    }
  }
  if (ncl > 1)
    return raise_err(c, 400, "more than one content-length");
  if (nte > 1)
    return raise_err(c, 400, "more than one transfer-encoding");
  if (ncl && nte)
    return raise_err(c, 400, "both content-length and transfer-encoding");
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  struct gw_conn *c = conn_of(p);
  uint32_t len;
  lower_names(c);
  if (p->http_major != 1)
    return raise_err(c, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
  if (check_framing(c))
    return -1;
  const char *mn = llhttp_method_name(p->method); /* no printf per request */
  size_t mlen = strnlen(mn, sizeof(c->method) - 1);
  memcpy(c->method, mn, mlen);
  c->method[mlen] = '\0';
  if ((p->flags & F_CONTENT_LENGTH) &&
      p->content_length > (uint64_t)c->srv->cfg->max_body_bytes)
    return raise_err(c, 413, "request body too large");
  const char *expect = gw_conn_header(c, "expect", &len);
  if (expect) {
    if (len != 12 || strncasecmp(expect, "100-continue", 12) != 0)
      return raise_err(c, 417, "unsupported expectation");
    if (p->http_major == 1 && p->http_minor >= 1) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      uv_buf_t b = uv_buf_init((char *)cont, sizeof(cont) - 1);
      gw_conn_writev(c, &b, 1);
    }
  }
  /* A slow body is bounded like slow headers: by inactivity. (Without a
   * body the request is complete now: the header timer still runs and
   * the dispatch replaces it; timers are a share of the hot path.) */
  if ((p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0))
    timer_restart(c, (uint64_t)c->srv->cfg->header_timeout_ms, on_header_timeout);
  return 0;
}

/* Checks the CRLF that must follow a chunk's data, from q on; what is not
 * in this read yet is checked at the start of the next (crlf_need). */
static int check_chunk_crlf(struct gw_conn *c, const char *q) {
  static const char crlf[] = "\r\n";
  for (size_t i = 2 - c->crlf_need; i < 2; i++, q++) {
    if (q >= c->feed_end)
      return 0; /* the rest comes with the next read */
    if (*q != crlf[i])
      return raise_err(c, 400, "invalid chunked encoding: no CRLF after chunk data");
    c->crlf_need--;
  }
  return 0;
}

static int on_chunk_header(llhttp_t *p) {
  struct gw_conn *c = conn_of(p);
  c->chunk_left = p->content_length;
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  struct gw_conn *c = conn_of(p);
  if (c->body.len + len > (uint64_t)c->srv->cfg->max_body_bytes)
    return raise_err(c, 413, "request body too large");
  /* llhttp 8.1 skips the two bytes after chunk data without looking at
   * them (a smuggling vector): check them ourselves. */
  if ((p->flags & F_CHUNKED) && c->chunk_left >= len) {
    c->chunk_left -= len;
    if (c->chunk_left == 0) {
      c->crlf_need = 2;
      if (check_chunk_crlf(c, at + len))
        return -1;
    }
  }
  ipc_buf_add(&c->body, at, len);
  if (c->body.oom)
    return raise_err(c, 500, "out of memory");
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  struct gw_conn *c = conn_of(p);
  c->keepalive = llhttp_should_keep_alive(p) && !c->srv->stopping;
  return HPE_PAUSED; /* one request at a time: answered in order */
}

/* ---- Timers ---- */

static void timer_restart(struct gw_conn *c, uint64_t ms, uv_timer_cb cb) {
  uv_timer_start(&c->timer, cb, ms, 0);
}

static void on_header_timeout(uv_timer_t *t) {
  struct gw_conn *c = t->data;
  if (c->state != GW_C_READING)
    return;
  c->keepalive = 0;
  gw_reply_error(c, 408, "request not complete within header_timeout_ms", NULL);
  gw_conn_close(c, 1);
}

static void on_idle_timeout(uv_timer_t *t) {
  struct gw_conn *c = t->data;
  if (c->state == GW_C_IDLE)
    gw_conn_close(c, 1);
}

static void on_linger_timeout(uv_timer_t *t) {
  struct gw_conn *c = t->data;
  c->close_after_write = 0;
  gw_conn_close(c, 0);
}

static void on_request_timeout(uv_timer_t *t) {
  gw_proxy_on_timeout(t->data);
}

/* ---- Feeding the parser ---- */

/* Answers a request the parser refused, then closes. */
static void fail_parse(struct gw_conn *c, llhttp_errno_t e) {
  int status = c->err_status ? c->err_status : 400;
  const char *msg = c->err_status ? c->err_msg : llhttp_get_error_reason(&c->parser);
  if (e == HPE_CLOSED_CONNECTION) { /* bytes after a "Connection: close" request */
    gw_conn_close(c, 1);
    return;
  }
  c->keepalive = 0;
  if (c->state == GW_C_BUSY || c->head_sent) {
    gw_conn_close(c, 1);
    return;
  }
  c->state = GW_C_BUSY;
  gw_reply_error(c, status, msg ? msg : "bad request", NULL);
  gw_conn_close(c, 1);
}

/* Parses data until a request is complete and must be answered. Returns
 * the bytes consumed; the rest waits in `in`. Requests answered at once
 * (404, 503, health) let parsing go on within the same call. */
static size_t conn_feed(struct gw_conn *c, const char *data, size_t len) {
  size_t off = 0;
  c->feeding = 1;
  c->feed_end = data + len;
  if (c->crlf_need && off < len) { /* a chunk's CRLF split across reads */
    c->feed_start = data;
    if (check_chunk_crlf(c, data)) {
      c->feeding = 0;
      fail_parse(c, HPE_USER);
      return len;
    }
  }
  while (off < len && !c->closing && c->state != GW_C_BUSY) {
    c->feed_start = data + off;
    if (off > 0)
      c->feed_prev = data[off - 1];
    if (off > 1)
      c->feed_prev2 = data[off - 2];
    llhttp_errno_t e = llhttp_execute(&c->parser, data + off, len - off);
    if (e == HPE_OK) {
      off = len;
      break;
    }
    if (e != HPE_PAUSED) {
      fail_parse(c, e);
      off = len;
      break;
    }
    off = (size_t)(llhttp_get_error_pos(&c->parser) - data);
    llhttp_resume(&c->parser);
    c->state = GW_C_BUSY; /* the header timer, if it fires now, does nothing */
    c->start_ns = uv_hrtime();
    if (c->srv->admin)
      gw_admin_dispatch(c);
    else
      gw_proxy_dispatch(c); /* may answer at once and set IDLE again */
  }
  if (off > 1)
    c->feed_prev2 = data[off - 2];
  else if (off == 1)
    c->feed_prev2 = c->feed_prev;
  if (off > 0 && off <= len)
    c->feed_prev = data[off - 1];
  c->feeding = 0;
  return off;
}

/* Parses what waited in `in` while a request was being answered. */
static void conn_drain_in(struct gw_conn *c) {
  if (c->in.len == 0 || c->feeding || c->closing)
    return;
  size_t n = conn_feed(c, c->in.data, c->in.len);
  ipc_buf_consume(&c->in, n);
}

/* ---- Reading ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  struct gw_conn *c = h->data;
  buf->base = c->srv->rbuf; /* shared: every read is consumed at once */
  buf->len = sizeof(c->srv->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct gw_conn *c = s->data;
  if (nread == 0)
    return;
  if (nread < 0) {
    gw_conn_close(c, 0); /* the client went away: its request is cancelled */
    return;
  }
  if (c->closing)
    return;
  if (c->in.len == 0 && c->state != GW_C_BUSY) {
    size_t n = conn_feed(c, buf->base, (size_t)nread);
    if (n < (size_t)nread && !c->closing)
      ipc_buf_add(&c->in, buf->base + n, (size_t)nread - n);
  } else {
    ipc_buf_add(&c->in, buf->base, (size_t)nread);
    conn_drain_in(c);
  }
  if (c->in.len > IN_MAX && !c->reading_stopped && !c->closing) {
    uv_read_stop(s); /* a pipelining client far ahead of us: wait */
    c->reading_stopped = 1;
  }
}

/* ---- Writing ---- */

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

/* Keeps srv->buffered, the response bytes queued for clients on every
 * connection, equal to the sum of what each holds (none once closed). */
static void account(struct gw_conn *c) {
  size_t now = uv_is_closing((uv_handle_t *)&c->tcp) ? 0 : c->wq.len + c->wbuf.len;
  c->srv->buffered = c->srv->buffered - c->counted + now;
  c->counted = now;
}

/* Over max_buffered_bytes in all: the connections holding the most are
 * dropped until it fits (clients that do not read what they asked for;
 * Envoy's overload manager resets its largest streams the same way). */
static void shed_buffered(struct gw_server *srv) {
  size_t max = (size_t)srv->cfg->max_buffered_bytes;
  while (srv->buffered > max) {
    struct gw_conn *big = NULL;
    for (struct gw_conn *c = srv->conns; c; c = c->next)
      if (big == NULL || c->counted > big->counted)
        big = c;
    if (big == NULL || big->counted == 0)
      return;
    sup_log(SUP_WARN, "gateway: %zu response bytes queued for clients (max_buffered_bytes "
            "%zu); closing the connection of %s, which is not reading %zu of them",
            srv->buffered, max, big->remote, big->counted);
    gw_conn_close(big, 0);
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
  if (c->wq.len > 0)
    do_write(c);
  else if (c->close_after_write)
    gw_conn_close(c, 0);
}

static void queue_writev(struct gw_conn *c, const uv_buf_t *bufs, unsigned n) {
  if (c->closing && !c->close_after_write)
    return;
  for (unsigned i = 0; i < n; i++)
    c->bytes_out += bufs[i].len;
  if (!c->writing && c->wq.len == 0) {
    /* Most writes go out whole at once: no copy, no uv_write_t. */
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
    return;
  }
  for (unsigned i = 0; i < n; i++)
    ipc_buf_add(&c->wq, bufs[i].base, bufs[i].len);
  if (c->wq.len > WQ_MAX || c->wq.oom) {
    /* The client reads slower than the service writes (a stream it does
     * not consume): drop it rather than buffer without bound. */
    sup_log(SUP_WARN, "gateway: client %s is not reading its response (%zu bytes queued); "
            "closing the connection", c->remote, c->wq.len);
    gw_conn_close(c, 0);
  }
}

void gw_conn_writev(struct gw_conn *c, const uv_buf_t *bufs, unsigned n) {
  struct gw_server *srv = c->srv;
  queue_writev(c, bufs, n);
  account(c);
  if (srv->buffered > (size_t)srv->cfg->max_buffered_bytes)
    shed_buffered(srv);
}

/* ---- Life cycle ---- */

static void on_closed(uv_handle_t *h) {
  struct gw_conn *c = h->data;
  if (--c->open_handles > 0)
    return;
  ipc_buf_free(&c->hbuf);
  ipc_buf_free(&c->body);
  ipc_buf_free(&c->in);
  ipc_buf_free(&c->wq);
  ipc_buf_free(&c->wbuf);
  free(c->hdrs);
  free(c);
}

void gw_conn_close(struct gw_conn *c, int graceful) {
  if (uv_is_closing((uv_handle_t *)&c->tcp))
    return;
  gw_admin_events_end(c);
  if (graceful && (c->writing || c->wq.len > 0)) {
    c->close_after_write = 1; /* on_write closes once the queue is out */
    c->closing = 1;
    timer_restart(c, LINGER_MS, on_linger_timeout); /* or when it will not read */
    uv_read_stop((uv_stream_t *)&c->tcp);
    return;
  }
  struct gw_server *srv = c->srv;
  if (c->id)
    gw_proxy_abandon(c);
  if (c->prev)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  srv->nconns--;
  c->closing = 1;
  c->open_handles = 2;
  uv_close((uv_handle_t *)&c->tcp, on_closed);
  uv_close((uv_handle_t *)&c->timer, on_closed);
  account(c); /* what it held is dropped */
}

void gw_conn_done(struct gw_conn *c) {
  struct gw_server *srv = c->srv;
  const char *path;
  size_t plen;
  gw_conn_target(c, &path, &plen, NULL, NULL);
  struct gw_access_rec rec = {
      .remote = c->remote, .method = c->method, .path = path, .path_len = plen,
      .status = c->status, .bytes = c->bytes_out,
      .duration_ms = (double)(uv_hrtime() - c->start_ns) / 1e6,
      .service = c->svc ? c->svc->cfg->name : NULL,
      .instance = c->inst ? c->inst->index : -1, .request_id = c->reqid};
  gw_access_write(&srv->access, &rec);
  if (!srv->admin)
    gw_metrics_record(&srv->metrics, rec.service, c->status, rec.duration_ms / 1000);
  c->svc = NULL;
  c->inst = NULL;
  c->route = NULL;
  c->head_sent = c->streaming = c->chunked = 0;
  c->is_head = 0; /* the next one's is set once its method is known */
  c->bytes_out = 0;
  c->status = 0;
  c->tries = 0;
  c->state = GW_C_IDLE;
  trim(&c->hbuf); /* the next request resets them anyway */
  trim(&c->body);
  if (c->closing)
    return; /* closed while answering (slow client, write error) */
  if (!c->keepalive || srv->stopping) {
    gw_conn_close(c, 1);
    return;
  }
  timer_restart(c, (uint64_t)srv->cfg->keepalive_timeout_ms, on_idle_timeout);
  if (c->reading_stopped) {
    c->reading_stopped = 0;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  }
  conn_drain_in(c);
}

void gw_conn_target(struct gw_conn *c, const char **path, size_t *plen, const char **query,
                    size_t *qlen) {
  const char *u = c->hbuf.data ? c->hbuf.data : "";
  size_t n = c->url_len;
  /* absolute-form (a proxy-style request line): skip scheme and authority */
  if (n > 7 && (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0)) {
    const char *s = memchr(u + 8, '/', n - 8);
    size_t skip = s ? (size_t)(s - u) : n;
    u += skip;
    n -= skip;
  }
  const char *q = memchr(u, '?', n);
  *path = u;
  *plen = q ? (size_t)(q - u) : n;
  if (query) {
    *query = q ? q + 1 : "";
    *qlen = q ? n - (size_t)(q - u) - 1 : 0;
  }
}

/* Shares the parser settings among all connections. */
static const llhttp_settings_t *settings_of(struct gw_server *srv) {
  llhttp_settings_t *s = &srv->settings;
  if (s->on_message_begin == NULL) {
    llhttp_settings_init(s);
    s->on_message_begin = on_message_begin;
    s->on_method_complete = on_method_complete;
    s->on_url = on_url;
    s->on_header_field = on_header_field;
    s->on_header_value = on_header_value;
    s->on_headers_complete = on_headers_complete;
    s->on_body = on_body;
    s->on_chunk_header = on_chunk_header;
    s->on_message_complete = on_message_complete;
  }
  return s;
}

/* Answers a connection over max_connections with 503 and closes it. */
static void shed(struct gw_conn *c) {
  c->keepalive = 0;
  c->state = GW_C_BUSY;
  gw_reply_error(c, 503, "too many connections", "retry-after: 1\r\n");
  gw_conn_close(c, 1);
}

void gw_conn_accept(struct gw_server *srv) {
  struct gw_conn *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  c->srv = srv;
  uv_tcp_init(srv->loop, &c->tcp);
  uv_timer_init(srv->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->next = srv->conns;
  if (srv->conns)
    srv->conns->prev = c;
  srv->conns = c;
  srv->nconns++;
  if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&c->tcp) < 0) {
    gw_conn_close(c, 0);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  strcpy(c->remote, "?");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET6)
      uv_ip6_name((struct sockaddr_in6 *)&ss, c->remote, sizeof(c->remote));
    else
      uv_ip4_name((struct sockaddr_in *)&ss, c->remote, sizeof(c->remote));
  }
  llhttp_init(&c->parser, HTTP_REQUEST, settings_of(srv));
  c->parser.data = c;
  if (srv->nconns > (size_t)srv->cfg->max_connections) {
    shed(c);
    return;
  }
  /* A connection that never sends a byte is a slowloris too. */
  c->state = GW_C_READING;
  timer_restart(c, (uint64_t)srv->cfg->header_timeout_ms, on_header_timeout);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

void gw_conn_request_timer(struct gw_conn *c, uint64_t ms) {
  timer_restart(c, ms, on_request_timeout);
}
