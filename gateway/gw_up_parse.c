/* gw_up_parse — an upstream's response, strictly. See gw_up_parse.h. */
#include "gw_up_parse.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "gw_fwd.h"
#include "gw_strict.h"
#include "util_vec.h"

#define CB_ERROR -1 /* a callback's refusal (HPE_USER) */

static struct gw_up_parser *of(llhttp_t *l) {
  return l->data;
}

/* Refuses the response: why goes to p->err. */
static int refuse(struct gw_up_parser *p, const char *why) {
  if (why == NULL)
    return 0;
  if (p->err == NULL)
    p->err = why;
  return CB_ERROR;
}

static int count(struct gw_up_parser *p, size_t len) {
  p->header_bytes += (uint32_t)len;
  return p->header_bytes > p->max_header_bytes ? refuse(p, "response headers too large") : 0;
}

/* The byte `back` places before at in the stream, or '\0' out of reach. */
static char byte_before(const struct gw_up_parser *p, const char *at, size_t back) {
  size_t k = (size_t)(at - p->feed_start);
  if (k >= back)
    return at[-(ptrdiff_t)back];
  if (back - k == 1)
    return p->prev;
  return back - k == 2 ? p->prev2 : '\0';
}

/* ---- llhttp callbacks: the head ---- */

/* A response begins (a 1xx before it was skipped): its head from zero. */
static int on_message_begin(llhttp_t *l) {
  struct gw_up_parser *p = of(l);
  ipc_buf_reset(&p->hbuf);
  p->nhdrs = 0;
  p->header_bytes = 0;
  p->in_field = 0;
  p->in_trailers = 0;
  return 0;
}

static int on_status(llhttp_t *l, const char *at, size_t len) {
  return count(of(l), len);
}

static int on_header_field(llhttp_t *l, const char *at, size_t len) {
  struct gw_up_parser *p = of(l);
  if (count(p, len) || refuse(p, gw_strict_name(at, len) ? "invalid header name" : NULL))
    return CB_ERROR;
  if (p->in_trailers)
    return 0; /* checked like a header, then dropped */
  if (!p->in_field) {
    if (gw_strict_line_start(byte_before(p, at, 1), byte_before(p, at, 2)))
      return refuse(p, "bare LF in the response head");
    if (util_vec_reserve(&p->hdrs, &p->caphdrs, p->nhdrs + 1) != 0)
      return refuse(p, "out of memory");
    struct gw_hdr *h = &p->hdrs[p->nhdrs++];
    h->name = h->value = (uint32_t)p->hbuf.len;
    h->nlen = h->vlen = 0;
    p->in_field = 1;
  }
  ipc_buf_add(&p->hbuf, at, len);
  p->hdrs[p->nhdrs - 1].nlen += (uint32_t)len;
  return 0;
}

static int on_header_value(llhttp_t *l, const char *at, size_t len) {
  struct gw_up_parser *p = of(l);
  if (count(p, len))
    return CB_ERROR;
  if (gw_strict_value(at, len, gw_strict_nonws_before(at, p->feed_start, p->nonws)))
    return refuse(p, "invalid header value");
  if (p->in_trailers)
    return 0;
  if (p->nhdrs == 0 || (p->in_field && p->hdrs[p->nhdrs - 1].nlen == 0))
    return refuse(p, "empty header name");
  struct gw_hdr *h = &p->hdrs[p->nhdrs - 1];
  if (p->in_field) {
    h->value = (uint32_t)p->hbuf.len;
    p->in_field = 0;
  }
  ipc_buf_add(&p->hbuf, at, len);
  h->vlen += (uint32_t)len;
  return 0;
}

static int on_header_value_complete(llhttp_t *l) {
  struct gw_up_parser *p = of(l);
  if (!p->in_trailers && p->nhdrs > 0)
    gw_hdr_trim(p->hbuf.data, &p->hdrs[p->nhdrs - 1]);
  return 0;
}

/* Lower-cases the header names (comparisons and the client see them so). */
static void lower_names(struct gw_up_parser *p) {
  for (size_t i = 0; i < p->nhdrs; i++) {
    char *n = p->hbuf.data + p->hdrs[i].name;
    for (uint32_t k = 0; k < p->hdrs[i].nlen; k++)
      if (n[k] >= 'A' && n[k] <= 'Z')
        n[k] = (char)(n[k] + 32);
  }
}

/* Returns 1 to skip the body (HEAD, 204, 304, an interim 1xx), 0, or
 * CB_ERROR; an interim 1xx is read through and its message skipped
 * (on_message_complete). */
static int on_headers_complete(llhttp_t *l) {
  struct gw_up_parser *p = of(l);
  int status = l->status_code;
  if (p->hbuf.oom)
    return refuse(p, "out of memory");
  lower_names(p);
  p->in_trailers = 1;
  if (l->http_major != 1)
    return refuse(p, "not an HTTP/1.x response");
  if (status < 100 || status > 599)
    return refuse(p, "status outside 100..599");
  if (status == 101 && (!p->want_upgrade || !l->upgrade))
    return refuse(p, "101 without an upgrade asked and agreed");
  if (status < 200 && status != 101)
    return 1; /* a 1xx has no body, whatever its framing headers say (RFC 9110 §15.2) */
  if (refuse(p, gw_strict_framing(p->hbuf.data, p->hdrs, p->nhdrs, l->http_minor)))
    return CB_ERROR;
  p->head_done = 1;
  /* llhttp counts content_length down as the body is read: keep it now */
  p->clen =
      (l->flags & F_CHUNKED) || !(l->flags & F_CONTENT_LENGTH) ? -1 : (int64_t)l->content_length;
  if (p->cbs->on_head(p->ctx, p) < 0) {
    p->stopped = 1;
    return CB_ERROR;
  }
  /* no body after a HEAD, a 204 or a 304, whatever content-length says */
  return p->head_only || status == 204 || status == 304 ? 1 : 0;
}

/* ---- llhttp callbacks: the body ---- */

static int on_chunk_header(llhttp_t *l) {
  of(l)->chunk_left = l->content_length;
  return 0;
}

static int on_body(llhttp_t *l, const char *at, size_t len) {
  struct gw_up_parser *p = of(l);
  if ((l->flags & F_CHUNKED) && p->chunk_left >= len) {
    p->chunk_left -= len;
    if (p->chunk_left == 0) {
      p->crlf_need = 2;
      if (refuse(p, gw_strict_chunk_crlf(&p->crlf_need, at + len, p->feed_end)))
        return CB_ERROR;
    }
  }
  if (p->cbs->on_body(p->ctx, at, len) < 0) {
    p->stopped = 1;
    return CB_ERROR;
  }
  return 0;
}

static int on_message_complete(llhttp_t *l) {
  struct gw_up_parser *p = of(l);
  if (!p->head_done)
    return 0; /* an interim 1xx: the final response follows */
  p->done = 1;
  return l->upgrade ? 0 : HPE_PAUSED; /* a 101: llhttp pauses for the upgrade itself */
}

static llhttp_settings_t settings;

/* The callbacks, set once (every parser shares them). */
static const llhttp_settings_t *shared_settings(void) {
  if (settings.on_message_complete == NULL) {
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_status = on_status;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_header_value_complete = on_header_value_complete;
    settings.on_headers_complete = on_headers_complete;
    settings.on_chunk_header = on_chunk_header;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
  }
  return &settings;
}

/* ---- The interface ---- */

void gw_up_parse_init(struct gw_up_parser *p, const struct gw_up_parse_cbs *cbs, void *ctx,
                      uint32_t max_header_bytes) {
  memset(p, 0, sizeof(*p));
  p->cbs = cbs;
  p->ctx = ctx;
  p->max_header_bytes = max_header_bytes;
  ipc_buf_init(&p->hbuf);
  gw_up_parse_reset(p, 0, 0);
}

void gw_up_parse_reset(struct gw_up_parser *p, int head_only, int want_upgrade) {
  llhttp_init(&p->p, HTTP_RESPONSE, shared_settings());
  p->p.data = p;
  ipc_buf_reset(&p->hbuf);
  p->nhdrs = 0;
  p->header_bytes = 0;
  p->bytes = 0;
  p->chunk_left = 0;
  p->clen = -1;
  p->err = NULL;
  p->prev = p->prev2 = p->nonws = '\0';
  p->crlf_need = 0;
  p->head_only = (unsigned)head_only;
  p->want_upgrade = (unsigned)want_upgrade;
  p->in_field = p->in_trailers = p->head_done = p->done = p->stopped = 0;
}

/* Keeps the two bytes before data + off (for byte_before), and the last
 * of them not SP or HT (for gw_strict_value). */
static void keep_prev(struct gw_up_parser *p, const char *data, size_t off) {
  p->nonws = gw_strict_nonws_last(data, off, p->nonws);
  if (off > 1)
    p->prev2 = data[off - 2];
  else if (off == 1)
    p->prev2 = p->prev;
  if (off > 0)
    p->prev = data[off - 1];
}

/* What an llhttp error is: a callback's stop, or an invalid response. */
static int failed(struct gw_up_parser *p, llhttp_errno_t e) {
  if (p->stopped)
    return GW_UP_STOPPED;
  if (p->err == NULL)
    p->err = e == HPE_USER ? "invalid response" : llhttp_get_error_reason(&p->p);
  if (p->err == NULL)
    p->err = llhttp_errno_name(e);
  return GW_UP_INVALID;
}

int gw_up_parse_feed(struct gw_up_parser *p, const char *data, size_t len, size_t *used) {
  *used = 0;
  if (p->done)
    return GW_UP_DONE;
  p->bytes += len;
  p->feed_start = data;
  p->feed_end = data + len;
  if (p->crlf_need && refuse(p, gw_strict_chunk_crlf(&p->crlf_need, data, data + len)))
    return GW_UP_INVALID; /* a chunk's CRLF split across reads, and wrong */
  llhttp_errno_t e = llhttp_execute(&p->p, data, len);
  size_t off = e == HPE_OK ? len : (size_t)(llhttp_get_error_pos(&p->p) - data);
  keep_prev(p, data, off);
  *used = off;
  if (e == HPE_OK)
    return GW_UP_MORE;
  if (e == HPE_PAUSED_UPGRADE)
    return GW_UP_UPGRADE;
  if (e == HPE_PAUSED && p->done)
    return GW_UP_DONE;
  return failed(p, e);
}

int gw_up_parse_eof(struct gw_up_parser *p) {
  if (p->done)
    return GW_UP_DONE;
  if (p->bytes == 0)
    return GW_UP_MORE;
  llhttp_errno_t e = llhttp_finish(&p->p);
  if (p->done)
    return GW_UP_DONE; /* a body read until the close */
  if (e == HPE_OK || e == HPE_PAUSED) {
    p->err = "the upstream closed the connection before the response's end";
    return GW_UP_INVALID;
  }
  return failed(p, e);
}

int gw_up_parse_status(const struct gw_up_parser *p) {
  return p->p.status_code;
}

int64_t gw_up_parse_clen(const struct gw_up_parser *p) {
  return p->head_done ? p->clen : -1;
}

int gw_up_parse_keepalive(const struct gw_up_parser *p) {
  return llhttp_should_keep_alive(&p->p);
}

/* 1 when header h is named name. */
static int named(const struct gw_up_parser *p, const struct gw_hdr *h, const char *name) {
  size_t n = strlen(name);
  return h->nlen == n && memcmp(p->hbuf.data + h->name, name, n) == 0;
}

int gw_up_parse_headers(const struct gw_up_parser *p, struct ipc_header **out, size_t *cap) {
  int upgrade = p->p.status_code == 101;
  struct gw_fwd_token named_by[GW_FWD_MAX_NAMED];
  size_t n = 0, k = gw_fwd_connection_tokens(p->hbuf.data, p->hdrs, p->nhdrs, named_by);
  if (util_vec_reserve(out, cap, p->nhdrs + 1) != 0)
    return UV_ENOMEM;
  for (size_t i = 0; i < p->nhdrs; i++) {
    const struct gw_hdr *h = &p->hdrs[i];
    const char *name = p->hbuf.data + h->name;
    int pass = upgrade && (named(p, h, "upgrade") || named(p, h, "connection"));
    if (!pass && (gw_fwd_hop_by_hop(name, h->nlen) || named(p, h, "content-length") ||
                  named(p, h, "x-request-id") || gw_fwd_named(named_by, k, name, h->nlen)))
      continue;
    (*out)[n++] = (struct ipc_header){name, h->nlen, p->hbuf.data + h->value, h->vlen};
  }
  return (int)n;
}

void gw_up_parse_free(struct gw_up_parser *p) {
  ipc_buf_free(&p->hbuf);
  free(p->hdrs);
  p->hdrs = NULL;
  p->nhdrs = p->caphdrs = 0;
}
