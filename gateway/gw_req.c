/* gw_req — reading a request, its id, its reset and its log line. See
 * gw_req.h. */
#include "gw_req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw.h"
#include "gw_fwd.h"
#include "gw_realip.h"
#include "gw_strict.h"
#include "rt_handshake.h"
#include "util_cidr.h"

#define KEEP_CAP (64 * 1024) /* buffer capacity kept between requests */

const char *gw_req_header_next(const struct gw_req *req, const char *name, size_t *i,
                               uint32_t *len) {
  size_t n = strlen(name);
  for (; *i < req->nhdrs; (*i)++) {
    const struct gw_hdr *h = &req->hdrs[*i];
    if (h->nlen == n && memcmp(req->hbuf.data + h->name, name, n) == 0) {
      (*i)++;
      *len = h->vlen;
      return req->hbuf.data + h->value;
    }
  }
  return NULL;
}

const char *gw_req_header(const struct gw_req *req, const char *name, uint32_t *len) {
  size_t i = 0;
  return gw_req_header_next(req, name, &i, len);
}

const char *gw_req_header_listing(const struct gw_req *req, const char *name, const char *token,
                                  int exact, uint32_t *len) {
  const char *v;
  for (size_t i = 0; (v = gw_req_header_next(req, name, &i, len));)
    if (rt_hs_lists((struct rt_hs_value){v, *len}, token, strlen(token), exact))
      return v;
  return NULL;
}

const char *gw_req_header_at(const struct gw_req *req, int i, uint32_t *len) {
  if (i < 0)
    return NULL;
  *len = req->hdrs[i].vlen;
  return req->hbuf.data + req->hdrs[i].value;
}

int gw_req_hsts(const struct gw_req *req, const struct ipc_header *h, size_t nh) {
  return req->srv->hsts_len > 0 && strcmp(gw_req_scheme(req), "https") == 0 &&
         !gw_headers_have(h, nh, "strict-transport-security", 25);
}

const char *gw_req_scheme(const struct gw_req *req) {
  for (size_t i = 0; req->via_proxy && i < req->nhdrs; i++) {
    const struct gw_hdr *h = &req->hdrs[i];
    const char *v = req->hbuf.data + h->value;
    if (h->nlen != 17 || memcmp(req->hbuf.data + h->name, "x-forwarded-proto", 17) != 0)
      continue;
    if (h->vlen == 5 && strncasecmp(v, "https", 5) == 0)
      return "https";
    if (h->vlen == 4 && strncasecmp(v, "http", 4) == 0)
      return "http";
    break;
  }
  return req->conn->tp->scheme;
}

/* The address the client reached, "IP:PORT" ("[IPv6]:PORT"), in
 * srv->local_host: the host of a request that names none (HTTP/1.0 may
 * leave it out; an HTTP/1.1 request to a program must have one, Node
 * answers 400 without), as Envoy's default_host_for_http_10 stands in.
 * NULL when the socket cannot say. */
static const char *local_host(struct gw_req *req) {
  struct sockaddr_storage ss;
  int len = sizeof(ss), port;
  struct util_ip ip;
  char text[UTIL_IP_TEXT];
  if (uv_tcp_getsockname(&req->conn->tcp, (struct sockaddr *)&ss, &len) != 0 ||
      util_ip_of_sockaddr((struct sockaddr *)&ss, &ip, &port) != 0)
    return NULL;
  util_ip_text(&ip, text);
  snprintf(req->srv->local_host, sizeof(req->srv->local_host), ip.family == 6 ? "[%s]:%d" : "%s:%d",
           text, port);
  return req->srv->local_host;
}

int gw_req_fwd_headers(struct gw_req *req, int upgrade) {
  struct gw_server *srv = req->srv;
  const char *host = req->auth_len ? req->hbuf.data + req->auth_off : NULL;
  size_t host_len = req->auth_len;
  if (host == NULL && req->hdr_host < 0 && (host = local_host(req)) != NULL)
    host_len = strlen(host);
  struct gw_fwd_in fin = {.buf = req->hbuf.data,
                          .hdrs = req->hdrs,
                          .n = req->nhdrs,
                          .reqid = req->reqid,
                          .remote = req->conn->remote,
                          .client = gw_req_client(req),
                          .proto = gw_req_scheme(req),
                          .host = host,
                          .host_len = host_len,
                          .upgrade = upgrade,
                          .trusted = req->via_proxy};
  return gw_fwd_headers(&fin, &srv->hv, &srv->caphv, &srv->scratch);
}

const char *gw_req_host(const struct gw_req *req, uint32_t *len) {
  *len = 0;
  if (req->auth_len > 0) { /* an absolute-form target's authority wins */
    *len = req->auth_len;
    return req->hbuf.data + req->auth_off;
  }
  return gw_req_header_at(req, req->hdr_host, len);
}

struct gw_route *gw_req_match(const struct gw_req *req, const struct gw_routes *r) {
  const char *path, *host;
  size_t plen;
  uint32_t hlen = 0;
  gw_req_target(req, &path, &plen, NULL, NULL);
  host = gw_req_host(req, &hlen);
  return gw_routes_match(r, req->method, host, hlen, path, plen);
}

struct gw_route *gw_req_route(struct gw_req *req) {
  return gw_req_match(req, &req->srv->routes);
}

/* From a trusted proxy: req->client from its x-forwarded-for, the last
 * header first (each proxy appends to the end). */
static void find_client(struct gw_req *req) {
  const struct cfg_gateway *g = req->srv->cfg;
  struct gw_realip r;
  gw_realip_start(&r, g->trusted, g->ntrusted, req->conn->remote);
  req->via_proxy = r.peer_ok;
  for (size_t i = req->nhdrs; i-- > 0 && !r.done;) {
    const struct gw_hdr *h = &req->hdrs[i];
    if (h->nlen == 15 && memcmp(req->hbuf.data + h->name, "x-forwarded-for", 15) == 0)
      gw_realip_feed(&r, req->hbuf.data + h->value, h->vlen);
  }
  if (r.peer_ok)
    util_ip_text(&r.ip, req->client);
}

const char *gw_req_client(const struct gw_req *req) {
  return req->client[0] ? req->client : req->conn->remote;
}

void gw_req_index_headers(struct gw_req *req) {
  for (size_t i = 0; i < req->nhdrs; i++) {
    char *n = req->hbuf.data + req->hdrs[i].name;
    uint32_t len = req->hdrs[i].nlen;
    for (uint32_t k = 0; k < len; k++)
      if (n[k] >= 'A' && n[k] <= 'Z')
        n[k] = (char)(n[k] + 32);
    int *at = len == 4 && !memcmp(n, "host", 4)             ? &req->hdr_host
              : len == 6 && !memcmp(n, "expect", 6)         ? &req->hdr_expect
              : len == 12 && !memcmp(n, "x-request-id", 12) ? &req->hdr_reqid
                                                            : NULL;
    if (at && *at < 0)
      *at = (int)i;
  }
  if (req->srv->cfg->ntrusted > 0)
    find_client(req);
}

int gw_req_offer_head(struct gw_req *req) {
  for (const struct gw_handler *const *h = req->srv->handlers; *h; h++) {
    if ((*h)->on_head == NULL)
      continue;
    if (req->reqid[0] == '\0') {
      req->start_ns = uv_hrtime();
      gw_req_assign_id(req);
    }
    req->at_head = 1;
    int r = (*h)->on_head(*h, req);
    if (r == 0)
      return 1;
    req->at_head = 0;
    if (r == GW_LATER)
      return 0;
  }
  return 0;
}

void gw_req_offer(struct gw_req *req) {
  req->start_ns = uv_hrtime();
  if (req->reqid[0] == '\0')
    gw_req_assign_id(req);
  for (const struct gw_handler *const *h = req->srv->handlers; *h; h++)
    if ((*h)->on_req(*h, req) != GW_DECLINED)
      return;
  gw_reply_error(req, 404, "no route for this path", NULL);
}

void gw_req_split_target(struct gw_req *req) {
  const char *u = req->hbuf.data ? req->hbuf.data : "";
  size_t n = req->url_len, skip = 0;
  req->auth_off = req->auth_len = 0;
  /* absolute-form (a proxy-style request line): the authority, up to the
   * path or the query, stands for the host header (RFC 9112 §3.2.2) */
  size_t scheme = n > 7 && strncasecmp(u, "http://", 7) == 0    ? 7
                  : n > 8 && strncasecmp(u, "https://", 8) == 0 ? 8
                                                                : 0;
  if (scheme) {
    skip = scheme;
    while (skip < n && u[skip] != '/' && u[skip] != '?')
      skip++;
    req->auth_off = (uint32_t)scheme;
    req->auth_len = (uint32_t)(skip - scheme);
  }
  const char *q = memchr(u + skip, '?', n - skip);
  req->path_off = (uint32_t)skip;
  req->path_len = (uint32_t)((q ? (size_t)(q - u) : n) - skip);
  req->query_off = q ? (uint32_t)(q - u + 1) : (uint32_t)n;
  req->query_len = q ? (uint32_t)(n - (size_t)(q - u) - 1) : 0;
}

const char *gw_req_resolve_dots(struct gw_req *req) {
  if (req->hbuf.data == NULL)
    return NULL;
  char *p = req->hbuf.data + req->path_off;
  long n = gw_strict_dots(p, req->path_len);
  if (n < 0)
    return "the request path climbs above /";
  size_t cut = req->path_len - (size_t)n;
  if (cut > 0) { /* the query moves up; the bytes left behind are not read */
    memmove(p + n, p + req->path_len, req->url_len - req->path_off - req->path_len);
    req->path_len = (uint32_t)n;
    req->query_off -= (uint32_t)cut;
    req->url_len -= (uint32_t)cut;
  }
  return NULL;
}

void gw_req_target(const struct gw_req *req, const char **path, size_t *plen, const char **query,
                   size_t *qlen) {
  const char *u = req->hbuf.data ? req->hbuf.data : "";
  *path = u + req->path_off;
  *plen = req->path_len;
  if (query) {
    *query = u + req->query_off;
    *qlen = req->query_len;
  }
}

/* 1 when v[0 .. len) may serve as a request id: visible ASCII, no quote or
 * backslash (it goes into JSON and log lines as it is). */
static int usable_id(const char *v, uint32_t len) {
  if (len == 0 || len > 64)
    return 0;
  for (uint32_t i = 0; i < len; i++)
    if (v[i] <= 0x20 || v[i] >= 0x7f || v[i] == '"' || v[i] == '\\')
      return 0;
  return 1;
}

void gw_req_assign_id(struct gw_req *req) {
  uint32_t len;
  const char *v = gw_req_header_at(req, req->hdr_reqid, &len);
  if (v && usable_id(v, len)) {
    memcpy(req->reqid, v, len);
    req->reqid[len] = '\0';
    return;
  }
  gw_req_new_id(req);
}

const char *gw_req_date(struct gw_server *srv) {
  time_t now = time(NULL);
  if (now != srv->date_at || srv->date[0] == '\0') {
    srv->date_at = now;
    util_http_date(now, srv->date);
  }
  return srv->date;
}

const struct ipc_header *gw_headers_find(const struct ipc_header *h, size_t n, const char *name,
                                         size_t len) {
  for (size_t i = 0; i < n; i++)
    if (h[i].name_len == len && strncasecmp(h[i].name, name, len) == 0)
      return &h[i];
  return NULL;
}

int gw_headers_have(const struct ipc_header *h, size_t n, const char *name, size_t len) {
  return gw_headers_find(h, n, name, len) != NULL;
}

void gw_req_new_id(struct gw_req *req) {
  /* 16 hex digits, without printf (this runs per request) */
  uint64_t n = req->srv->reqid_base + ++req->srv->next_id;
  for (int i = 15; i >= 0; i--, n >>= 4)
    req->reqid[i] = "0123456789abcdef"[n & 15];
  req->reqid[16] = '\0';
}

/* Empties b; a large allocation (a big body, once) is given back rather
 * than held for the life of a keep-alive connection. */
static void trim(struct ipc_buf *b) {
  if (b->cap > KEEP_CAP)
    ipc_buf_free(b);
  else
    ipc_buf_reset(b);
}

void gw_req_reset(struct gw_req *req) {
  gw_gzip_release(req);
  trim(&req->hbuf);
  trim(&req->body);
  req->gen = NULL;
  req->nhdrs = 0;
  req->url_len = req->path_off = req->path_len = req->query_off = req->query_len = 0;
  req->auth_off = req->auth_len = 0;
  req->method[0] = req->reqid[0] = req->service[0] = req->client[0] = '\0';
  req->via_proxy = 0;
  req->http_major = req->http_minor = 1;
  req->start_ns = req->bytes_out = 0;
  req->status = 0;
  req->instance = -1;
  req->hdr_host = req->hdr_expect = req->hdr_reqid = -1;
  req->is_head = req->keepalive = req->head_sent = req->streaming = req->chunked = 0;
  req->at_head = req->rl_checked = req->rl_refused = 0;
  req->body_len = 0;
  memset(&req->sv, 0, sizeof(req->sv));
  memset(&req->u, 0, sizeof(req->u));
}

void gw_req_free(struct gw_req *req) {
  gw_gzip_release(req);
  ipc_buf_free(&req->hbuf);
  ipc_buf_free(&req->body);
  free(req->hdrs);
  req->hdrs = NULL;
  req->nhdrs = req->caphdrs = 0;
}

void gw_req_log(struct gw_req *req) {
  struct gw_server *srv = req->srv;
  const char *path;
  size_t plen;
  gw_req_target(req, &path, &plen, NULL, NULL);
  struct gw_access_rec rec = {.remote = gw_req_client(req),
                              .method = req->method,
                              .path = path,
                              .path_len = plen,
                              .status = req->status,
                              .bytes = req->bytes_out,
                              .duration_ms =
                                  req->start_ns ? (double)(uv_hrtime() - req->start_ns) / 1e6 : 0,
                              .service = req->service[0] ? req->service : NULL,
                              .instance = req->instance,
                              .request_id = req->reqid};
  gw_access_write(&srv->access, &rec);
  if (srv->metered) {
    gw_metrics_record(&srv->metrics, rec.service, req->status, rec.duration_ms / 1000);
    srv->metrics.by_version[req->http_major >= 2 ? 2 : req->http_minor >= 1]++;
  }
}
