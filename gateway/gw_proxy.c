/* gw_proxy — the proxy handler: a request to an IPC instance and its
 * answer back. Routing, balancing (gw_balance), load shedding, the request
 * timeout (gw_expire), retries of idempotent requests when an instance
 * dies, validation of what a service sends back. See gw.h. The queue, the
 * retry budget and the quarantine are gw_svc's: the calls into it are
 * marked "gw_svc:". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw.h"
#include "gw_balance.h"
#include "gw_fwd.h"
#include "rt_handshake.h"
#include "ipc_channel.h"
#include "sup_instance.h"
#include "sup_log.h"
#include "sup_view.h"
#include "util_token.h"
#include "util_vec.h"

static const struct gw_gen proxy_gen;
static const struct gw_svc_ops proxy_svc_ops;

static int idempotent(const char *m) {
  return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS") || !strcmp(m, "PUT") ||
         !strcmp(m, "DELETE") || !strcmp(m, "TRACE");
}

static const char *service_name(const struct gw_req *req) {
  return sup_view_service_cfg(req->u.proxy.svc)->name;
}

/* ---- Sending the request ---- */

/* The sec-websocket-protocol tokens of a handshake into v (at most max). */
struct protos {
  struct ipc_header *v;
  size_t n, max;
};

static void add_proto(void *ctx, const char *p, size_t n) {
  struct protos *ps = ctx;
  if (ps->n < ps->max)
    ps->v[ps->n++] = (struct ipc_header){NULL, 0, p, n};
}

static size_t ws_protocols(struct gw_req *req, struct ipc_header *v, size_t max,
                           const struct ipc_header **out) {
  struct protos ps = {v, 0, max};
  uint32_t len;
  const char *h;
  for (size_t i = 0; (h = gw_req_header_next(req, "sec-websocket-protocol", &i, &len));)
    rt_hs_tokens((struct rt_hs_value){h, len}, add_proto, &ps);
  *out = v;
  return ps.n;
}

/* Encodes the request into inst's channel (flushed with the loop turn's
 * other messages). Returns 0 or < 0. */
static int send_request(struct gw_req *req, struct sup_instance *inst) {
  struct gw_server *srv = req->srv;
  struct ipc_channel *ch = sup_instance_channel(inst);
  const struct gw_proxy_req *p = &req->u.proxy;
  const char *path, *query;
  size_t plen, qlen;
  if (ch == NULL)
    return UV_EPIPE;
  int nh = gw_req_fwd_headers(req, p->ws_key != 0);
  if (nh < 0)
    return nh;
  gw_req_target(req, &path, &plen, &query, &qlen);
  struct ipc_request_out r = {.id = (int64_t)p->id,
                              .method = req->method,
                              .method_len = strlen(req->method),
                              .path = path,
                              .path_len = plen,
                              .query = query,
                              .query_len = qlen,
                              .prefix = req->hbuf.data + p->prefix_off,
                              .prefix_len = p->prefix_len,
                              .remote = gw_req_client(req),
                              .remote_len = strlen(gw_req_client(req)),
                              .headers = srv->hv,
                              .nheaders = (size_t)nh,
                              .body = req->body.data,
                              .body_len = req->body.len,
                              .ws_conn = p->ws_key ? p->ws_id : NULL};
  struct ipc_header protos[16];
  if (p->ws_key)
    r.ws_nprotocols = ws_protocols(req, protos, 16, &r.ws_protocols);
  ipc_enc_request(ipc_channel_begin(ch), &r);
  return ipc_channel_commit(ch);
}

/* Forgets the in-flight entry of req (the instance no longer holds it). */
static void forget(struct gw_req *req) {
  struct gw_proxy_req *p = &req->u.proxy;
  if (p->id == 0)
    return;
  gw_map_del(&req->srv->inflight, p->id);
  p->id = 0;
  if (p->inst)
    sup_instance_released(p->inst);
}

/* forget(), then the freed slot goes to a request waiting for one. (Not
 * while srv->hv holds an answer's headers: sending fills it.) */
static void release(struct gw_req *req) {
  struct gw_svc *gs = req->sv.gs;
  forget(req);
  if (gw_svc_queued(gs)) /* gw_svc: a slot is free */
    gw_svc_dispatch(gs);
}

/* Answers the 503 of a request no instance took; suffix ("" or a clause
 * such as "; the queue is full") ends the reason. */
static void unavailable(struct gw_req *req, int full, const char *suffix) {
  struct sup_service_info si;
  char msg[224];
  sup_view_service_info(req->u.proxy.svc, &si);
  if (full)
    snprintf(msg, sizeof(msg),
             "service \"%s\" is overloaded: every ready instance has %d "
             "requests in flight%s",
             si.name, sup_view_service_cfg(req->u.proxy.svc)->max_inflight, suffix);
  else
    snprintf(msg, sizeof(msg), "service \"%s\" has no ready instance (%s)%s", si.name,
             si.state_name, suffix);
  gw_reply_error(req, 503, msg, &gw_retry_after);
}

/* Sends req to a ready instance of its service other than avoid (cursor:
 * the round-robin cursor to use). Returns 0 when it was sent (or answered:
 * out of memory), 1 when no instance can take it now; then *full is 1 when
 * some were only at max_inflight. */
static int send_to(struct gw_req *req, struct sup_instance *avoid, size_t *cursor, int *full) {
  struct gw_server *srv = req->srv;
  struct gw_proxy_req *p = &req->u.proxy;
  for (;;) {
    struct sup_instance *inst = gw_svc_pick(srv, p->svc, avoid, cursor, NULL, full);
    if (inst == NULL) {
      p->inst = NULL;
      return 1;
    }
    p->id = ++srv->next_id;
    if (gw_map_put(&srv->inflight, p->id, req) != 0) {
      p->id = 0;
      gw_reply_error(req, 500, "out of memory", NULL);
      return 0;
    }
    p->inst = inst;
    sup_instance_acquire(inst);
    p->tries++;
    req->instance = sup_view_index(inst);
    if (send_request(req, inst) == 0) {
      gw_req_timer(req, (uint64_t)srv->cfg->request_timeout_ms);
      return 0;
    }
    release(req); /* its channel is gone: it is leaving; try another */
    avoid = inst;
  }
}

/* Sends req to an instance of its service other than avoid; when none
 * can take it, it waits for one (or gets its 503). While others wait, it
 * waits behind them (FIFO). */
static void try_send(struct gw_req *req, struct sup_instance *avoid, size_t *cursor) {
  int full = 0;
  if (gw_svc_queued(req->sv.gs) == 0 && send_to(req, avoid, cursor, &full) == 0)
    return;
  gw_svc_wait(req, full, req->u.proxy.tries > 0); /* gw_svc: the queue, or the 503 */
}

/* gw_svc's operations for a request of the proxy. */
static int svc_send(struct gw_req *req, size_t *cursor, int *full) {
  return send_to(req, NULL, cursor, full);
}

static struct sup_instance *svc_inst(const struct gw_req *req) {
  return req->u.proxy.inst;
}

static const struct gw_svc_ops proxy_svc_ops = {
    .send = svc_send, .unavailable = unavailable, .inst = svc_inst};

/* ---- The handler ---- */

/* The value of header name as a handshake field, *doubled set when it
 * appears more than once. */
static struct rt_hs_value hs_value(struct gw_req *req, const char *name, int *doubled) {
  uint32_t len = 0, l2;
  size_t i = 0;
  const char *v = gw_req_header_next(req, name, &i, &len);
  if (v && doubled && gw_req_header_next(req, name, &i, &l2))
    *doubled = 1;
  return (struct rt_hs_value){v, v ? len : 0};
}

/* The first value of header name listing token, else its first value. */
static struct rt_hs_value hs_listing(struct gw_req *req, const char *name, const char *token) {
  uint32_t len = 0;
  const char *v = gw_req_header_listing(req, name, token, 0, &len);
  return v ? (struct rt_hs_value){v, len} : hs_value(req, name, NULL);
}

/* A WebSocket handshake (RFC 6455): checked here; a valid one gets its
 * connection id and accept key, an invalid one muster's 400 or 426.
 * Returns 0 to go on (a handshake or not), 1 when answered. */
static int ws_handshake(struct gw_req *req) {
  static const struct ipc_header version = {"sec-websocket-version", 21, "13", 2};
  struct gw_proxy_req *p = &req->u.proxy;
  struct rt_hs_in in = {.method = req->method,
                        .http_minor = req->http_minor,
                        .upgrade = hs_listing(req, "upgrade", "websocket"),
                        .connection = hs_listing(req, "connection", "upgrade")};
  in.key = hs_value(req, "sec-websocket-key", &in.doubled);
  in.version = hs_value(req, "sec-websocket-version", &in.doubled);
  const char *why = NULL;
  if (!rt_hs_wanted(&in))
    return 0;
  int status = rt_hs_check(&in, p->ws_accept, &why);
  if (status) {
    gw_reply_error(req, status, why, status == 426 ? &version : NULL);
    return 1;
  }
  p->ws_key = gw_ws_new_key(req->srv, p->ws_id, sizeof(p->ws_id));
  return 0;
}

static int on_req(const struct gw_handler *h, struct gw_req *req) {
  struct gw_route *rt = gw_req_route(req);
  if (rt == NULL)
    return GW_DECLINED; /* 404 */
  struct gw_proxy_req *p = &req->u.proxy;
  struct gw_svc *gs = rt->target;
  const char *prefix = rt->plen ? rt->prefix : "/";
  *p = (struct gw_proxy_req){.svc = gs->svc,
                             .prefix_off = (uint32_t)req->hbuf.len,
                             .prefix_len = (uint32_t)strlen(prefix)};
  req->sv = (struct gw_svc_req){.gs = gs, .ops = &proxy_svc_ops};
  if (ws_handshake(req) != 0)
    return 0;                                     /* refused by muster: 400 or 426 */
  ipc_buf_add(&req->hbuf, prefix, p->prefix_len); /* kept with the request: routes change */
  const char *name = service_name(req);           /* at most 64 bytes (config) */
  size_t nlen = strnlen(name, sizeof(req->service) - 1);
  memcpy(req->service, name, nlen);
  req->service[nlen] = '\0';
  req->gen = &proxy_gen;
  if (gw_svc_admit(req)) /* gw_svc: quarantined, answered */
    return 0;
  try_send(req, NULL, &rt->rr);
  return 0;
}

const struct gw_handler gw_proxy_handler = {.name = "proxy", .on_req = on_req};

/* ---- Abandon and timeout (the generator) ---- */

static void send_cancel(struct sup_instance *inst, uint64_t id) {
  struct ipc_channel *ch = sup_instance_channel(inst);
  if (ch == NULL)
    return;
  ipc_enc_cancel(ipc_channel_begin(ch), (int64_t)id);
  ipc_channel_commit(ch);
}

static void on_abandon(struct gw_req *req) {
  struct gw_proxy_req *p = &req->u.proxy;
  if (req->sv.qe.queued) /* gw_svc: it leaves the queue; nothing was sent */
    gw_svc_leave(req);
  if (p->id == 0)
    return;
  if (p->inst)
    send_cancel(p->inst, p->id);
  release(req);
}

static void timeout_now(struct gw_req *req) {
  char msg[128];
  on_abandon(req);
  snprintf(msg, sizeof(msg), "no response from service \"%s\" within %d ms", service_name(req),
           req->srv->cfg->request_timeout_ms);
  gw_reply_error(req, 504, msg, NULL);
}

/* The request timer fired: the 504 waits for this turn's poll (gw_expire). */
static void on_timeout(struct gw_req *req) {
  if (req->sv.qe.queued) { /* gw_svc: waited queue_timeout_ms */
    gw_svc_expired(req);
    return;
  }
  if (req->u.proxy.id == 0 || req->head_sent)
    return;
  if (gw_expire_add(req->srv, req->u.proxy.id) != 0)
    timeout_now(req);
}

void gw_proxy_expired(struct gw_server *srv, uint64_t id) {
  struct gw_req *req = gw_map_get(&srv->inflight, id);
  if (req && !req->head_sent)
    timeout_now(req);
}

static const struct gw_gen proxy_gen = {.abandon = on_abandon, .timeout = on_timeout};

/* ---- Relaying the answer ---- */

static int valid_value(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 && *s != '\t')
      return 0;
  return 1;
}

/* Headers muster sets itself or that describe this hop only; with ws (a
 * 101), also the sec-websocket-* of the handshake, which muster answers. */
static int skipped_header(const char *n, int json, int ws) {
  static const char *const own[] = {
      "connection",       "keep-alive", "transfer-encoding", "content-length", "upgrade",
      "proxy-connection", "te",         "trailer",           "x-request-id",   NULL};
  for (int i = 0; own[i]; i++)
    if (!strcasecmp(n, own[i]))
      return 1;
  if (ws && !strncasecmp(n, "sec-websocket-", 14))
    return 1;
  return json && !strcasecmp(n, "content-type");
}

/* Appends name: value to srv->hv (room was reserved). -1 when invalid. */
static int add_answer_header(struct gw_server *srv, size_t *n, const char *name,
                             const char *value) {
  if (!valid_value(value))
    return -1;
  srv->hv[(*n)++] = (struct ipc_header){name, strlen(name), value, strlen(value)};
  return 0;
}

/* The service's headers as the answer's, into srv->hv: names must be
 * tokens and values free of control characters; muster's own framing
 * headers are left out (see skipped_header). Returns the count, or -1
 * (then: 502). */
static int answer_headers(struct gw_server *srv, const cJSON *headers, int json, int ws) {
  const cJSON *h, *v;
  size_t n = 1; /* content-type for a json body */
  cJSON_ArrayForEach(h, headers) n += cJSON_IsArray(h) ? (size_t)cJSON_GetArraySize(h) : 1;
  if (util_vec_reserve(&srv->hv, &srv->caphv, n) != 0)
    return -1;
  n = 0;
  cJSON_ArrayForEach(h, headers) {
    if (!util_is_token(h->string, strlen(h->string)))
      return -1;
    if (skipped_header(h->string, json, ws))
      continue;
    if (cJSON_IsString(h)) {
      if (add_answer_header(srv, &n, h->string, h->valuestring) < 0)
        return -1;
      continue;
    }
    cJSON_ArrayForEach(v, h) {
      if (add_answer_header(srv, &n, h->string, v->valuestring) < 0)
        return -1;
    }
  }
  if (json)
    srv->hv[n++] = (struct ipc_header){"content-type", 12, "application/json", 16};
  return (int)n;
}

static void answer_invalid(struct gw_req *req, int status) {
  sup_log(SUP_WARN, "%s: invalid response to request %s (status %d); answering 502",
          sup_view_label(req->u.proxy.inst), req->reqid, status);
  on_abandon(req);
  gw_reply_error(req, 502, "the service sent an invalid response", NULL);
}

/* The service accepted the WebSocket handshake req with m, its nh
 * headers in srv->hv (< 0: invalid). The 101 carries them after muster's
 * own, and the subprotocol the service chose when the client offered it
 * (RFC 6455 §4.2.2: a client fails the connection on any other; when
 * the client offered none, the choice is left out). */
static void accept_ws(struct gw_req *req, const struct ipc_msg *m, int nh) {
  struct gw_server *srv = req->srv;
  struct gw_proxy_req *p = &req->u.proxy;
  const cJSON *proto = cJSON_GetObjectItemCaseSensitive(m->ws, "protocol");
  const char *pick = cJSON_IsString(proto) ? proto->valuestring : NULL;
  uint32_t len;
  if (pick && !gw_req_header_listing(req, "sec-websocket-protocol", pick, 1, &len)) {
    if (gw_req_header(req, "sec-websocket-protocol", &len)) {
      sup_log(SUP_WARN,
              "%s: chose a WebSocket subprotocol the client did not offer for request %s; "
              "answering 502",
              sup_view_label(p->inst), req->reqid);
      on_abandon(req);
      gw_reply_error(req, 502, "the service chose a subprotocol the client did not offer", NULL);
      return;
    }
    pick = NULL;
  }
  if (nh < 0 || util_vec_reserve(&srv->hv, &srv->caphv, (size_t)nh + 4) != 0) {
    answer_invalid(req, m->status);
    return;
  }
  char accept[sizeof(p->ws_accept)]; /* kept past the request's end */
  memcpy(accept, p->ws_accept, sizeof(accept));
  size_t k = pick ? 4 : 3;
  memmove(srv->hv + k, srv->hv, (size_t)nh * sizeof(*srv->hv));
  srv->hv[0] = (struct ipc_header){"upgrade", 7, "websocket", 9};
  srv->hv[1] = (struct ipc_header){"connection", 10, "Upgrade", 7};
  srv->hv[2] = (struct ipc_header){"sec-websocket-accept", 20, accept, RT_HS_ACCEPT_LEN};
  if (pick)
    srv->hv[3] = (struct ipc_header){"sec-websocket-protocol", 22, pick, strlen(pick)};
  struct gw_svc *gs = req->sv.gs;
  struct sup_instance *inst = p->inst;
  forget(req); /* the handshake is answered; the connection is bound to inst */
  gw_ws_accept(req, inst, m, srv->hv, k + (size_t)nh);
  if (gw_svc_queued(gs)) /* gw_svc: the slot is free (hv is used no more) */
    gw_svc_dispatch(gs);
}

static void on_response(struct gw_req *req, const struct ipc_msg *m) {
  char *json = NULL;
  const char *body = m->body;
  size_t len = m->body_len;
  int is_json = m->json != NULL || m->json_raw != NULL;
  if (m->json_raw) {
    body = m->json_raw; /* copied through as the service wrote it */
    len = m->json_len;
  } else if (m->json) {
    json = cJSON_PrintUnformatted(m->json);
    body = json;
    len = json ? strlen(json) : 0;
  }
  int ws = m->status == 101 && req->u.proxy.ws_key;
  int nh = (m->status < 200 && !ws) || m->status > 599
               ? -1
               : answer_headers(req->srv, m->headers, is_json && !ws, ws);
  if (ws) {
    accept_ws(req, m, nh);
  } else if (m->hold && nh >= 0 && m->status == 200 && !m->stream &&
             (strcmp(req->method, "GET") == 0 || req->is_head)) {
    release(req); /* the stream is muster's, the instance is free */
    gw_sse_hold(req, m);
  } else if (nh < 0 || m->hold || (m->json && json == NULL)) {
    answer_invalid(req, m->status);
  } else if (m->stream) {
    gw_req_start(req, m->status, req->srv->hv, (size_t)nh);
  } else {
    struct gw_svc *gs = req->sv.gs;
    forget(req);
    gw_req_respond(req, m->status, req->srv->hv, (size_t)nh, body, len);
    if (gw_svc_queued(gs)) /* gw_svc: the slot is free (hv is used no more) */
      gw_svc_dispatch(gs);
  }
  free(json);
}

void gw_proxy_instance_msg(struct gw_server *srv, struct sup_instance *inst,
                           const struct ipc_msg *m) {
  if (m->type != IPC_T_RESPONSE && m->type != IPC_T_CHUNK && m->type != IPC_T_END) {
    gw_ws_service_msg(srv, inst, m); /* about a WebSocket connection */
    return;
  }
  struct gw_req *req = gw_map_get(&srv->inflight, (uint64_t)m->id);
  if (req == NULL || req->u.proxy.inst != inst) {
    sup_log(SUP_DEBUG, "%s: %s for unknown or cancelled request %lld dropped", sup_view_label(inst),
            ipc_type_name(m->type), (long long)m->id);
    return;
  }
  switch (m->type) {
  case IPC_T_RESPONSE:
    gw_svc_answered(req, req->sv.gs); /* gw_svc: evidence against a quarantine */
    if (req->head_sent)
      sup_log(SUP_WARN, "%s: second response to request %s dropped", sup_view_label(inst),
              req->reqid);
    else
      on_response(req, m);
    break;
  case IPC_T_CHUNK:
    gw_req_send(req, m->body, m->body_len);
    break;
  case IPC_T_END:
    if (req->streaming) {
      release(req);
      gw_req_finish(req);
    }
    break;
  default:
    break;
  }
}

/* ---- An instance dies ---- */

/* What becomes of a request whose instance died: retried elsewhere when
 * idempotent, nothing was sent yet, it is no poison and the retry budget
 * allows it; else 502, or a stream cut. v: every request that instance
 * held (for gw_svc_poison). */
static void orphaned(struct gw_req *req, struct sup_instance *inst, struct gw_req **v, size_t n) {
  static const char *const exited = "the instance handling the request exited";
  size_t cursor = 0;
  release(req);
  if (req->head_sent) {
    req->keepalive = 0;
    gw_req_abort(req, 1); /* a cut stream: the client sees it unterminated */
    return;
  }
  if (!idempotent(req->method)) {
    gw_reply_error(req, 502, exited, NULL);
    return;
  }
  if (gw_svc_poison(req, inst, v, n)) /* gw_svc: quarantined and answered */
    return;
  if (req->u.proxy.tries > req->srv->cfg->retries) {
    gw_svc_retry(req, GW_RETRY_EXHAUSTED);
    gw_reply_error(req, 502, exited, NULL);
    return;
  }
  if (!gw_svc_retry(req, GW_RETRY_RETRIED)) { /* gw_svc: the retry budget said no */
    gw_reply_error(req, 502,
                   "the instance handling the request exited; not retried: the "
                   "service's retry budget is spent",
                   NULL);
    return;
  }
  sup_log(SUP_INFO, "%s: died holding request %s; retrying it elsewhere", sup_view_label(inst),
          req->reqid);
  try_send(req, inst, &cursor);
}

void gw_proxy_instance_gone(struct gw_server *srv, struct sup_instance *inst) {
  size_t n = 0, k = 0, pos = 0;
  uint64_t id;
  void *val;
  while (gw_map_next(&srv->inflight, &pos, &id, &val))
    n += ((struct gw_req *)val)->u.proxy.inst == inst;
  if (n == 0)
    return;
  struct gw_req **v = malloc(n * sizeof(*v));
  if (v == NULL)
    return;
  for (pos = 0; k < n && gw_map_next(&srv->inflight, &pos, &id, &val);)
    if (((struct gw_req *)val)->u.proxy.inst == inst)
      v[k++] = val;
  gw_svc_deaths(v, k, ++srv->deaths); /* gw_svc: each request counts the death */
  for (size_t i = 0; i < k; i++)      /* still its? answering one may close another */
    if (v[i]->u.proxy.id != 0 && v[i]->u.proxy.inst == inst)
      orphaned(v[i], inst, v, k);
  free(v);
}
