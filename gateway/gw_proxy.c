/* gw_proxy — routing a request to an instance and relaying its answer:
 * balancing (least in-flight, round-robin ties), load shedding, the
 * request timeout, retries of idempotent requests on instance failure,
 * validation of what a service sends back. See gw.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw.h"
#include "ipc_channel.h"
#include "ipc_msg.h"
#include "ipc_text.h"
#include "sup_host.h"
#include "sup_instance.h"
#include "sup_log.h"
#include "sup_service.h"

/* ---- Request ids ---- */

/* A client's x-request-id is kept when it is 1..64 visible ASCII bytes;
 * otherwise (or when absent) muster makes one. */
static void assign_reqid(struct gw_conn *c) {
  uint32_t len;
  const char *v = gw_conn_header(c, "x-request-id", &len);
  if (v && len > 0 && len <= 64) {
    uint32_t i = 0;
    while (i < len && v[i] > 0x20 && v[i] < 0x7f && v[i] != '"' && v[i] != '\\')
      i++;
    if (i == len) {
      memcpy(c->reqid, v, len);
      c->reqid[len] = '\0';
      return;
    }
  }
  /* 16 hex digits, without printf (this runs per request) */
  uint64_t n = c->srv->reqid_base + ++c->srv->next_id;
  for (int i = 15; i >= 0; i--, n >>= 4)
    c->reqid[i] = "0123456789abcdef"[n & 15];
  c->reqid[16] = '\0';
}

static int idempotent(const char *m) {
  return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS") ||
         !strcmp(m, "PUT") || !strcmp(m, "DELETE") || !strcmp(m, "TRACE");
}

/* ---- Balancing ---- */

/* The ready instance of svc with the fewest requests in flight, starting
 * the search at the round-robin cursor so ties rotate; never `avoid`, never
 * one at max_inflight (then *full is set). NULL when none. */
static struct sup_instance *pick(struct sup_service *svc, struct sup_instance *avoid, int *full) {
  struct sup_instance *best = NULL;
  size_t n = svc->ninst, best_i = 0;
  unsigned max = (unsigned)svc->cfg->max_inflight;
  *full = 0;
  for (size_t k = 0; k < n; k++) {
    size_t i = (svc->rr + k) % n;
    struct sup_instance *inst = svc->inst[i];
    if (inst == avoid || !sup_instance_routable(inst))
      continue;
    if (inst->inflight >= max) {
      *full = 1;
      continue;
    }
    if (best == NULL || inst->inflight < best->inflight) {
      best = inst;
      best_i = i;
    }
  }
  if (best)
    svc->rr = best_i + 1;
  return best;
}

/* ---- Sending the request ---- */

/* Fills srv's header vector for c: names lower-case, repeated headers
 * joined with ", ", plus x-request-id when muster made it. Returns the
 * count or -1 on out of memory. */
static int build_headers(struct gw_conn *c, struct ipc_header **out) {
  struct gw_server *srv = c->srv;
  struct ipc_buf *join = &srv->scratch;
  size_t need = c->nhdrs + 1, n = 0;
  if (need > srv->caphv) {
    struct ipc_header *t = realloc(srv->hv, need * sizeof(*t));
    if (t == NULL)
      return -1;
    srv->hv = t;
    srv->caphv = need;
  }
  struct ipc_header *hv = srv->hv;
  ipc_buf_reset(join);
  /* First pass: reserve enough so joined values never move the buffer. */
  size_t total = 0;
  for (uint32_t i = 0; i < c->nhdrs; i++)
    total += c->hdrs[i].vlen + 2;
  if (ipc_buf_reserve(join, total) != 0)
    return -1;
  int have_reqid = 0;
  for (uint32_t i = 0; i < c->nhdrs; i++) {
    const struct gw_hdr *h = &c->hdrs[i];
    const char *name = c->hbuf.data + h->name;
    int seen = 0;
    for (uint32_t k = 0; k < i && !seen; k++)
      seen = c->hdrs[k].nlen == h->nlen && !memcmp(c->hbuf.data + c->hdrs[k].name, name, h->nlen);
    if (seen)
      continue; /* joined into the first occurrence */
    struct ipc_header *o = &hv[n++];
    o->name = name;
    o->name_len = h->nlen;
    o->value = c->hbuf.data + h->value;
    o->value_len = h->vlen;
    if (h->nlen == 12 && !memcmp(name, "x-request-id", 12)) {
      o->value = c->reqid; /* the one muster uses, valid or replaced */
      o->value_len = strlen(c->reqid);
      have_reqid = 1;
      continue;
    }
    int repeated = 0;
    for (uint32_t k = i + 1; k < c->nhdrs && !repeated; k++)
      repeated = c->hdrs[k].nlen == h->nlen && !memcmp(c->hbuf.data + c->hdrs[k].name, name, h->nlen);
    if (!repeated)
      continue;
    size_t start = join->len;
    ipc_buf_add(join, o->value, o->value_len);
    for (uint32_t k = i + 1; k < c->nhdrs; k++) {
      if (c->hdrs[k].nlen == h->nlen && !memcmp(c->hbuf.data + c->hdrs[k].name, name, h->nlen)) {
        ipc_buf_add(join, ", ", 2);
        ipc_buf_add(join, c->hbuf.data + c->hdrs[k].value, c->hdrs[k].vlen);
      }
    }
    o->value = join->data + start;
    o->value_len = join->len - start;
  }
  if (!have_reqid) {
    struct ipc_header *o = &hv[n++];
    o->name = "x-request-id";
    o->name_len = 12;
    o->value = c->reqid;
    o->value_len = strlen(c->reqid);
  }
  *out = hv;
  return (int)n;
}

/* Encodes the request into inst's channel (flushed with the loop turn's
 * other messages). Returns 0 or < 0. */
static int send_request(struct gw_conn *c, struct sup_instance *inst) {
  struct ipc_channel *ch = sup_instance_channel(inst);
  struct ipc_header *hv;
  const char *path, *query;
  size_t plen, qlen;
  if (ch == NULL)
    return UV_EPIPE;
  int nh = build_headers(c, &hv);
  if (nh < 0)
    return UV_ENOMEM;
  gw_conn_target(c, &path, &plen, &query, &qlen);
  const char *prefix = c->route->plen ? c->route->prefix : "/";
  struct ipc_request_out r = {
      .id = (int64_t)c->id, .method = c->method, .method_len = strlen(c->method),
      .path = path, .path_len = plen, .query = query, .query_len = qlen,
      .prefix = prefix, .prefix_len = strlen(prefix),
      .remote = c->remote, .remote_len = strlen(c->remote),
      .headers = hv, .nheaders = (size_t)nh,
      .body = c->body.data, .body_len = c->body.len};
  ipc_enc_request(ipc_channel_begin(ch), &r);
  return ipc_channel_commit(ch);
}

/* Forgets the in-flight entry of c (the instance no longer holds it). */
static void release(struct gw_conn *c) {
  if (c->id == 0)
    return;
  gw_map_del(&c->srv->inflight, c->id);
  c->id = 0;
  if (c->inst)
    sup_instance_released(c->inst);
}

static void reply_unavailable(struct gw_conn *c, int full) {
  char msg[160];
  if (full)
    snprintf(msg, sizeof(msg), "service \"%s\" is overloaded: every ready instance has %d "
             "requests in flight", c->svc->cfg->name, c->svc->cfg->max_inflight);
  else
    snprintf(msg, sizeof(msg), "service \"%s\" has no ready instance (%s)", c->svc->cfg->name,
             sup_sstate_name(sup_service_state(c->svc)));
  gw_reply_error(c, 503, msg, "retry-after: 1\r\n");
  gw_conn_done(c);
}

/* Sends c's request to an instance of its service other than avoid. */
static void try_send(struct gw_conn *c, struct sup_instance *avoid) {
  struct gw_server *srv = c->srv;
  for (;;) {
    int full;
    struct sup_instance *inst = pick(c->svc, avoid, &full);
    if (inst == NULL) {
      c->inst = NULL;
      reply_unavailable(c, full);
      return;
    }
    c->id = ++srv->next_id;
    if (gw_map_put(&srv->inflight, c->id, c) != 0) {
      c->id = 0;
      gw_reply_error(c, 500, "out of memory", NULL);
      gw_conn_done(c);
      return;
    }
    c->inst = inst;
    inst->inflight++;
    inst->requests++;
    c->tries++;
    if (send_request(c, inst) == 0) {
      gw_conn_request_timer(c, (uint64_t)srv->cfg->request_timeout_ms);
      return;
    }
    release(c); /* its channel is gone: it is leaving; try another */
    avoid = inst;
  }
}

/* GET {health_path}: 200 when every service has a ready instance. */
void gw_proxy_health(struct gw_conn *c) {
  struct sup_host *h = c->srv->host;
  struct ipc_buf b;
  int ok = 1;
  ipc_buf_init(&b);
  ipc_buf_adds(&b, "{\"services\":{");
  for (size_t s = 0; s < h->nsvcs; s++) {
    struct sup_service *svc = h->svcs[s];
    int ready = 0;
    for (size_t i = 0; i < svc->ninst; i++)
      ready += sup_instance_routable(svc->inst[i]);
    ok &= ready > 0;
    if (s)
      ipc_buf_addc(&b, ',');
    ipc_json_str(&b, svc->cfg->name, strlen(svc->cfg->name));
    ipc_buf_addc(&b, ':');
    const char *st = sup_sstate_name(sup_service_state(svc));
    ipc_json_str(&b, st, strlen(st));
  }
  /* A 503 is an error like any other: it carries "error" (SPEC §4). */
  ipc_buf_adds(&b, ok ? "},\"status\":\"ok\"}\n"
                      : "},\"status\":\"unavailable\",\"error\":\"not every service has a "
                        "ready instance\"}\n");
  if (b.oom)
    gw_reply_error(c, 500, "out of memory", NULL);
  else
    gw_reply(c, ok ? 200 : 503, b.data, b.len, ok ? NULL : "retry-after: 1\r\n");
  ipc_buf_free(&b);
  gw_conn_done(c);
}

void gw_proxy_dispatch(struct gw_conn *c) {
  struct gw_server *srv = c->srv;
  const char *path, *host;
  size_t plen;
  uint32_t hlen = 0;
  assign_reqid(c);
  gw_conn_target(c, &path, &plen, NULL, NULL);
  const char *hp = srv->cfg->health_path;
  if ((!strcmp(c->method, "GET") || c->is_head) && plen == strlen(hp) && !memcmp(path, hp, plen)) {
    gw_proxy_health(c);
    return;
  }
  host = gw_conn_header(c, "host", &hlen);
  if (host) {
    const char *colon = memchr(host, ':', hlen); /* drop the port */
    if (colon && host[0] != '[')
      hlen = (uint32_t)(colon - host);
  }
  c->route = gw_routes_match(&srv->routes, c->method, host, hlen, path, plen);
  if (c->route == NULL || c->route->service >= srv->host->nsvcs) {
    gw_reply_error(c, 404, "no route for this path", NULL);
    gw_conn_done(c);
    return;
  }
  c->svc = srv->host->svcs[c->route->service];
  if (c->svc->cfg != &srv->host->cfg->services[c->route->service])
    c->svc = sup_host_find(srv->host, srv->host->cfg->services[c->route->service].name);
  if (c->svc == NULL) {
    gw_reply_error(c, 404, "no route for this path", NULL);
    gw_conn_done(c);
    return;
  }
  c->tries = 0;
  try_send(c, NULL);
}

/* ---- Cancel and timeout ---- */

static void send_cancel(struct sup_instance *inst, uint64_t id) {
  struct ipc_channel *ch = sup_instance_channel(inst);
  if (ch == NULL)
    return;
  ipc_enc_cancel(ipc_channel_begin(ch), (int64_t)id);
  ipc_channel_commit(ch);
}

void gw_proxy_abandon(struct gw_conn *c) {
  if (c->id == 0)
    return;
  if (c->inst)
    send_cancel(c->inst, c->id);
  release(c);
}

static void timeout_now(struct gw_conn *c) {
  char msg[128];
  gw_proxy_abandon(c);
  snprintf(msg, sizeof(msg), "no response from service \"%s\" within %d ms",
           c->svc->cfg->name, c->srv->cfg->request_timeout_ms);
  gw_reply_error(c, 504, msg, NULL);
  gw_conn_done(c);
}

/* After this turn's poll: the timeouts whose answer did not come in it.
 * (No timer runs in here, so the list does not grow while it is read.) */
static void on_expire_check(uv_check_t *h) {
  struct gw_server *srv = h->data;
  uv_idle_stop(&srv->expire_idle);
  uv_check_stop(&srv->expire_check);
  for (size_t i = 0; i < srv->nexpired; i++) {
    struct gw_conn *c = gw_map_get(&srv->inflight, srv->expired[i]);
    if (c && c->state == GW_C_BUSY && !c->head_sent)
      timeout_now(c);
  }
  srv->nexpired = 0;
}

static void on_expire_idle(uv_idle_t *h) {
  (void)h; /* only there to make this turn's poll not block */
}

/* Queues the 504 of request id for the end of this loop turn; -1 when it
 * cannot (out of memory, or the gateway is closing). */
static int defer_timeout(struct gw_server *srv, uint64_t id) {
  if (srv->expire_closed)
    return -1;
  if (!srv->expire_init) {
    uv_idle_init(srv->loop, &srv->expire_idle);
    uv_check_init(srv->loop, &srv->expire_check);
    srv->expire_idle.data = srv->expire_check.data = srv;
    srv->expire_init = 1;
  }
  if (srv->nexpired == srv->capexpired) {
    size_t cap = srv->capexpired ? srv->capexpired * 2 : 16;
    uint64_t *v = realloc(srv->expired, cap * sizeof(*v));
    if (v == NULL)
      return -1;
    srv->expired = v;
    srv->capexpired = cap;
  }
  srv->expired[srv->nexpired++] = id;
  uv_idle_start(&srv->expire_idle, on_expire_idle);
  uv_check_start(&srv->expire_check, on_expire_check);
  return 0;
}

/* The request timer fired. libuv runs timers before it polls for I/O, so
 * after a stall of the loop longer than request_timeout_ms (an overloaded
 * machine, a slow disk, a stopped process) the answer may already be in
 * the instance's channel, unread. The 504 waits for this turn's poll
 * (which does not block then): an answer that is there wins, as in nginx,
 * which handles events before timers for the same reason. */
void gw_proxy_on_timeout(struct gw_conn *c) {
  if (c->state != GW_C_BUSY || c->id == 0 || c->head_sent)
    return;
  if (defer_timeout(c->srv, c->id) != 0)
    timeout_now(c);
}

static void on_expire_closed(uv_handle_t *h) {
  (void)h;
}

void gw_proxy_close(struct gw_server *srv) {
  if (srv->expire_init && !srv->expire_closed) {
    uv_close((uv_handle_t *)&srv->expire_idle, on_expire_closed);
    uv_close((uv_handle_t *)&srv->expire_check, on_expire_closed);
  }
  srv->expire_closed = 1; /* the list itself goes with gw_server_free */
}

/* ---- Relaying the answer ---- */

static int is_token_char(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int valid_name(const char *s) {
  if (*s == '\0')
    return 0;
  for (; *s; s++)
    if (!is_token_char((unsigned char)*s))
      return 0;
  return 1;
}

static int valid_value(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 && *s != '\t')
      return 0;
  return 1;
}

/* Headers muster sets itself or that describe this hop only. */
static int skipped_header(const char *n, int json) {
  static const char *const hop[] = {"connection", "keep-alive", "transfer-encoding",
                                    "content-length", "upgrade", "proxy-connection", "te",
                                    "trailer", "x-request-id", NULL};
  for (int i = 0; hop[i]; i++)
    if (!strcasecmp(n, hop[i]))
      return 1;
  return json && !strcasecmp(n, "content-type");
}

static int add_header(struct ipc_buf *b, const char *name, const char *value) {
  if (!valid_value(value))
    return -1;
  ipc_buf_adds(b, name);
  ipc_buf_add(b, ": ", 2);
  ipc_buf_adds(b, value);
  ipc_buf_add(b, "\r\n", 2);
  return 0;
}

/* Builds the response head into b. Returns 0, or -1 when what the service
 * sent cannot be a valid HTTP response (then: 502). */
static int build_head(struct gw_conn *c, const struct ipc_msg *m, struct ipc_buf *b,
                      size_t body_len, int json) {
  if (m->status < 200 || m->status > 599)
    return -1;
  ipc_buf_reset(b);
  ipc_buf_adds(b, "HTTP/1.1 ");
  ipc_buf_addi(b, m->status);
  ipc_buf_addc(b, ' ');
  ipc_buf_adds(b, gw_reason(m->status));
  ipc_buf_add(b, "\r\n", 2);
  const cJSON *h;
  cJSON_ArrayForEach(h, m->headers) {
    if (!valid_name(h->string))
      return -1;
    if (skipped_header(h->string, json))
      continue;
    if (cJSON_IsString(h)) {
      if (add_header(b, h->string, h->valuestring) < 0)
        return -1;
    } else {
      const cJSON *v;
      cJSON_ArrayForEach(v, h) {
        if (add_header(b, h->string, v->valuestring) < 0)
          return -1;
      }
    }
  }
  if (json)
    ipc_buf_adds(b, "content-type: application/json\r\n");
  ipc_buf_adds(b, "x-request-id: ");
  ipc_buf_adds(b, c->reqid);
  ipc_buf_add(b, "\r\n", 2);
  if (m->stream) {
    if (c->parser.http_major == 1 && c->parser.http_minor >= 1) {
      ipc_buf_adds(b, "transfer-encoding: chunked\r\n");
      c->chunked = 1;
    } else {
      c->keepalive = 0; /* HTTP/1.0: the end of the stream is the close */
    }
  } else if (m->status != 204 && m->status != 304) {
    ipc_buf_adds(b, "content-length: ");
    ipc_buf_addi(b, (int64_t)body_len);
    ipc_buf_add(b, "\r\n", 2);
  }
  if (!c->keepalive)
    ipc_buf_adds(b, "connection: close\r\n");
  ipc_buf_add(b, "\r\n", 2);
  return b->oom ? -1 : 0;
}

static void on_response(struct gw_conn *c, const struct ipc_msg *m) {
  char *json = NULL;
  const char *body = m->body;
  size_t len = m->body_len;
  if (m->json_raw) {
    body = m->json_raw; /* copied through as the service wrote it */
    len = m->json_len;
  } else if (m->json) {
    if ((json = cJSON_PrintUnformatted(m->json)) == NULL) {
      body = NULL;
      len = 0;
    } else {
      body = json;
      len = strlen(json);
    }
  }
  if (m->stream)
    len = 0;
  struct ipc_buf *b = &c->srv->scratch;
  int is_json = m->json != NULL || m->json_raw != NULL;
  if (build_head(c, m, b, len, is_json) < 0) {
    sup_log(SUP_WARN, "%s: invalid response to request %s (status %d); answering 502",
            c->inst->label, c->reqid, m->status);
    gw_proxy_abandon(c);
    gw_reply_error(c, 502, "the service sent an invalid response", NULL);
    gw_conn_done(c);
    free(json);
    return;
  }
  int no_body = c->is_head || m->status == 204 || m->status == 304;
  uv_buf_t bufs[2] = {uv_buf_init(b->data, (unsigned)b->len),
                      uv_buf_init((char *)body, (unsigned)len)};
  c->status = m->status;
  c->head_sent = 1;
  gw_conn_writev(c, bufs, (no_body || len == 0) ? 1 : 2); /* head + body: one write */
  free(json);
  if (m->stream) {
    c->streaming = 1;
    uv_timer_stop(&c->timer); /* the timeout bounded the head, not the stream */
    return;
  }
  release(c);
  gw_conn_done(c);
}

static void on_chunk(struct gw_conn *c, const struct ipc_msg *m) {
  char size[24];
  if (m->body_len == 0 || c->is_head)
    return;
  if (!c->chunked) {
    uv_buf_t b = uv_buf_init((char *)m->body, (unsigned)m->body_len);
    gw_conn_writev(c, &b, 1);
    return;
  }
  int n = snprintf(size, sizeof(size), "%zx\r\n", m->body_len);
  uv_buf_t b[3] = {uv_buf_init(size, (unsigned)n), uv_buf_init((char *)m->body, (unsigned)m->body_len),
                   uv_buf_init("\r\n", 2)};
  gw_conn_writev(c, b, 3);
}

static void on_end(struct gw_conn *c) {
  if (c->chunked && !c->is_head) {
    uv_buf_t b = uv_buf_init("0\r\n\r\n", 5);
    gw_conn_writev(c, &b, 1);
  }
  release(c);
  gw_conn_done(c);
}

void gw_proxy_instance_msg(struct gw_server *srv, struct sup_instance *inst,
                           const struct ipc_msg *m) {
  struct gw_conn *c = gw_map_get(&srv->inflight, (uint64_t)m->id);
  if (c == NULL || c->inst != inst) {
    sup_log(SUP_DEBUG, "%s: %s for unknown or cancelled request %lld dropped", inst->label,
            ipc_type_name(m->type), (long long)m->id);
    return;
  }
  switch (m->type) {
  case IPC_T_RESPONSE:
    if (c->head_sent)
      sup_log(SUP_WARN, "%s: second response to request %s dropped", inst->label, c->reqid);
    else
      on_response(c, m);
    break;
  case IPC_T_CHUNK:
    if (c->streaming)
      on_chunk(c, m);
    break;
  case IPC_T_END:
    if (c->streaming)
      on_end(c);
    break;
  default:
    break;
  }
}

/* The instance died: retry idempotent requests that got no byte yet on
 * another instance, answer 502 to the others, cut broken streams. */
void gw_proxy_instance_gone(struct gw_server *srv, struct sup_instance *inst) {
  size_t n = 0, k = 0;
  for (struct gw_conn *c = srv->conns; c; c = c->next)
    n += c->id && c->inst == inst;
  if (n == 0)
    return;
  struct gw_conn **v = malloc(n * sizeof(*v));
  if (v == NULL)
    return;
  for (struct gw_conn *c = srv->conns; c && k < n; c = c->next)
    if (c->id && c->inst == inst)
      v[k++] = c;
  for (size_t i = 0; i < k; i++) {
    struct gw_conn *c = v[i];
    release(c);
    if (c->head_sent) {
      c->keepalive = 0;
      gw_conn_close(c, 1); /* a cut stream: the client sees it unterminated */
    } else if (idempotent(c->method) && c->tries <= srv->cfg->retries) {
      sup_log(SUP_INFO, "%s: died holding request %s; retrying it elsewhere", inst->label,
              c->reqid);
      try_send(c, inst);
    } else {
      gw_reply_error(c, 502, "the instance handling the request exited", NULL);
      gw_conn_done(c);
    }
  }
  free(v);
}
