/* gw_svc — the queue, the retry budget and the quarantine of each service,
 * as the IPC proxy and the upstream handler use them. See gw_svc.h; the pure parts are gw_queue,
 * gw_budget and gw_quarantine. */
#include "gw_svc.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "gw_balance.h"
#include "gw_tcp.h"
#include "ipc_text.h"
#include "sup_host.h"
#include "sup_log.h"
#include "sup_view.h"
#include "util_vec.h"

#define SHOWN_PATH 200     /* bytes of a path shown in messages and events */
#define ALIKE_MAX 64       /* other requests of a death examined, at most */
#define GW_SERVED_MS 10000 /* a path answered this long before a death was served */

/* The loop's time (ms), as the queue, the budget and the quarantine count it. */
static uint64_t now_ms(const struct gw_req *req) {
  return uv_now(req->srv->loop);
}

/* The request a queue entry belongs to. */
static struct gw_req *req_of(struct gw_qent *e) {
  return (struct gw_req *)((char *)e - offsetof(struct gw_req, sv.qe));
}

/* The service's name (from the config in force). */
static const char *name_of(const struct gw_svc *gs) {
  return sup_view_service_cfg(gs->svc)->name;
}

static uint64_t leave(struct gw_svc *gs, struct gw_req *req, int record);

/* ---- The table ---- */

/* A new, empty state for svc, or NULL (out of memory). */
static struct gw_svc *svc_new(struct sup_service *svc) {
  struct gw_svc *gs = calloc(1, sizeof(*gs));
  if (gs == NULL)
    return NULL;
  gs->svc = svc;
  gw_queue_init(&gs->queue);
  gw_budget_init(&gs->budget);
  gw_quar_init(&gs->quar);
  return gs;
}

/* Answers every request waiting in gs with the 503 (suffix ends its
 * reason). A reply may start a connection's next request: it cannot wait
 * here any more (gone, or shutdown), so the loop ends. */
static void flush(struct gw_svc *gs, const char *suffix) {
  struct gw_qent *e;
  while ((e = gw_queue_first(&gs->queue)) != NULL) {
    struct gw_req *req = req_of(e);
    leave(gs, req, 1);
    req->sv.ops->unavailable(req, 0, suffix);
  }
}

/* Frees gs (its service left the config): what waits gets its 503; the
 * requests in flight (on IPC instances, and exchanges with upstreams) let
 * go of it. */
static void svc_free(struct gw_server *srv, struct gw_svc *gs) {
  size_t pos = 0;
  uint64_t id;
  void *val;
  struct gw_req *req;
  gs->gone = 1;
  flush(gs, "; it was removed from the configuration");
  while (gw_map_next(&srv->inflight, &pos, &id, &val))
    if (((struct gw_req *)val)->sv.gs == gs)
      ((struct gw_req *)val)->sv.gs = NULL;
  LIST_FOREACH(req, &srv->up_reqs, u.up.link)
  if (req->sv.gs == gs)
    req->sv.gs = NULL;
  gw_quar_free(&gs->quar);
  free(gs);
}

struct gw_svc *gw_svcs_find(const struct gw_server *srv, const struct sup_service *svc) {
  for (size_t i = 0; i < srv->nsvcs; i++)
    if (srv->svcs[i]->svc == svc)
      return srv->svcs[i];
  return NULL;
}

/* 1 when svc is one of the host's live services. */
static int listed(struct sup_host *host, const struct sup_service *svc) {
  struct sup_service *s;
  for (size_t i = 0; (s = sup_view_service(host, i)) != NULL; i++)
    if (s == svc)
      return 1;
  return 0;
}

int gw_svcs_add(struct gw_server *srv) {
  struct sup_service *svc;
  struct gw_svc *gs;
  int rc = 0;
  for (size_t i = 0; (svc = sup_view_service(srv->host, i)) != NULL; i++) {
    if ((gs = gw_svcs_find(srv, svc)) != NULL) {
      if (srv->cfg->quarantine_s == 0) /* turned off by a reload */
        gw_quar_clear(&gs->quar);
      continue;
    }
    if (util_vec_reserve(&srv->svcs, &srv->capsvcs, srv->nsvcs + 1) != 0 ||
        (gs = svc_new(svc)) == NULL) {
      rc = UV_ENOMEM;
      continue;
    }
    srv->svcs[srv->nsvcs++] = gs;
  }
  return rc;
}

void gw_svcs_drop_removed(struct gw_server *srv) {
  for (size_t i = 0; i < srv->nsvcs;) {
    if (listed(srv->host, srv->svcs[i]->svc)) {
      i++;
      continue;
    }
    struct gw_svc *gone = srv->svcs[i];
    srv->svcs[i] = srv->svcs[--srv->nsvcs]; /* out of the table before its flush */
    svc_free(srv, gone);
  }
}

void gw_svcs_free(struct gw_server *srv) {
  for (size_t i = 0; i < srv->nsvcs; i++) {
    gw_quar_free(&srv->svcs[i]->quar);
    free(srv->svcs[i]);
  }
  free(srv->svcs);
  srv->svcs = NULL;
  srv->nsvcs = srv->capsvcs = 0;
}

void gw_svcs_flush_all(struct gw_server *srv) {
  for (size_t i = 0; i < srv->nsvcs; i++)
    flush(srv->svcs[i], "; muster is shutting down");
}

void gw_svcs_dispatch_all(struct gw_server *srv) {
  for (size_t i = 0; i < srv->nsvcs; i++)
    if (srv->svcs[i]->queue.n)
      gw_svc_dispatch(srv->svcs[i]);
}

/* ---- The queue ---- */

/* 1 when some instance of svc is ready or on its way to it (starting,
 * waiting to restart, being replaced): worth waiting for. */
static int coming(const struct sup_service *svc) {
  struct sup_instance *inst;
  struct sup_instance_info ii;
  for (size_t i = 0; (inst = sup_view_instance(svc, i)) != NULL; i++) {
    sup_view_instance_info(inst, &ii);
    switch (ii.state) {
    case SUP_I_STARTING:
    case SUP_I_BACKOFF:
    case SUP_I_READY:
    case SUP_I_RESTARTING:
    case SUP_I_KILLED:
      return 1;
    default:
      break;
    }
  }
  return 0;
}

/* 1 when some instance of svc is routable (then every one is full). */
static int some_routable(const struct sup_service *svc) {
  struct sup_instance *inst;
  for (size_t i = 0; (inst = sup_view_instance(svc, i)) != NULL; i++)
    if (sup_instance_routable(inst))
      return 1;
  return 0;
}

/* req leaves its queue: the gateway's count, the wait histogram (once it
 * leaves for good: record). Returns the time it waited in all. */
static uint64_t leave(struct gw_svc *gs, struct gw_req *req, int record) {
  struct gw_qent *e = &req->sv.qe;
  req->srv->nqueued--;
  gw_queue_remove(&gs->queue, e, now_ms(req));
  if (record)
    gw_metrics_hist_add(&gs->wait, (double)e->waited_ms / 1000);
  return e->waited_ms;
}

void gw_svc_wait(struct gw_req *req, int full, int retry) {
  struct gw_server *srv = req->srv;
  struct gw_svc_req *p = &req->sv;
  struct gw_svc *gs = p->gs;
  char suffix[96];
  uint64_t wait_ms;
  if (gs == NULL || gs->gone || srv->stopping || !coming(gs->svc)) {
    p->ops->unavailable(req, full, "");
    return;
  }
  switch (gw_queue_admit(srv->nqueued, srv->cfg->max_queued, srv->cfg->queue_timeout_ms,
                         p->qe.waited_ms, &wait_ms)) {
  case GW_QUEUE_OK:
    gw_queue_push(&gs->queue, &p->qe, retry, now_ms(req)); /* a retry: first */
    srv->nqueued++;
    gw_req_timer(req, wait_ms);
    return;
  case GW_QUEUE_FULL:
    gs->queue_full++;
    snprintf(suffix, sizeof(suffix), "; the queue is full (%d requests wait)",
             srv->cfg->max_queued);
    break;
  case GW_QUEUE_NO_TIME:
    gs->queue_timeout++;
    snprintf(suffix, sizeof(suffix), " after %llu ms in the queue",
             (unsigned long long)p->qe.waited_ms);
    break;
  default:
    suffix[0] = '\0';
    break;
  }
  p->ops->unavailable(req, full, suffix);
}

void gw_svc_dispatch(struct gw_svc *gs) {
  struct gw_qent *e;
  if (gs->dispatching)
    return; /* a send below freed a slot: the loop here goes on */
  gs->dispatching = 1;
  while ((e = gw_queue_first(&gs->queue)) != NULL) {
    struct gw_req *req = req_of(e);
    int full;
    uint64_t waited = leave(gs, req, 0); /* out before a send can answer it (500) */
    if (req->sv.ops->send(req, &gs->rr, &full) != 0) {
      gw_queue_push(&gs->queue, e, 1, now_ms(req)); /* none free: back where it was */
      req->srv->nqueued++;
      break;
    }
    gw_metrics_hist_add(&gs->wait, (double)waited / 1000);
  }
  gs->dispatching = 0;
}

void gw_svc_leave(struct gw_req *req) {
  leave(req->sv.gs, req, 1);
}

/* How long a waiting req has waited in all (a retry's waits add up). */
static uint64_t spent_ms(const struct gw_req *req) {
  const struct gw_qent *e = &req->sv.qe;
  return e->waited_ms + (now_ms(req) - e->since_ms);
}

void gw_svc_rearm(struct gw_req *req) {
  uint64_t spent = spent_ms(req), limit = (uint64_t)req->srv->cfg->queue_timeout_ms;
  gw_req_timer(req, spent < limit ? limit - spent : 1);
}

int gw_svc_overdue(const struct gw_req *req) {
  return spent_ms(req) >= (uint64_t)req->srv->cfg->queue_timeout_ms;
}

void gw_svc_expired(struct gw_req *req) {
  struct gw_svc *gs = req->sv.gs;
  char suffix[64];
  uint64_t waited = leave(gs, req, 1);
  gs->queue_timeout++;
  snprintf(suffix, sizeof(suffix), " after %llu ms in the queue", (unsigned long long)waited);
  req->sv.ops->unavailable(req, some_routable(gs->svc), suffix);
}

void gw_svc_instance_ready(struct gw_server *srv, struct sup_instance *inst) {
  struct gw_svc *gs = gw_svcs_find(srv, sup_view_owner(inst));
  if (gs && gs->queue.n)
    gw_svc_dispatch(gs);
}

/* ---- The retry budget ---- */

int gw_svc_retry(struct gw_req *req, enum gw_retry_outcome outcome) {
  struct gw_svc *gs = req->sv.gs;
  if (gs == NULL)
    return 1;
  if (outcome == GW_RETRY_RETRIED &&
      !gw_budget_retry(&gs->budget, req->srv->cfg->retry_budget, now_ms(req)))
    outcome = GW_RETRY_BUDGET;
  gs->retries[outcome]++;
  return outcome != GW_RETRY_BUDGET;
}

/* ---- The quarantine ---- */

/* The request's path (no query). */
static void path_of(const struct gw_req *req, const char **path, size_t *plen) {
  gw_req_target(req, path, plen, NULL, NULL);
}

/* Answers 502 "quarantined: ..." with the quarantine's time left; fresh:
 * req itself made it. */
static void reply_quarantined(struct gw_req *req, uint64_t left_ms, int fresh) {
  const char *path;
  size_t plen;
  char msg[SHOWN_PATH + 192];
  path_of(req, &path, &plen);
  snprintf(msg, sizeof(msg),
           "quarantined: %s %.*s killed two instances of service \"%s\"; "
           "answered 502 for %llu s%s",
           req->method, (int)(plen < SHOWN_PATH ? plen : SHOWN_PATH), path, name_of(req->sv.gs),
           (unsigned long long)((left_ms + 999) / 1000), fresh ? "" : " more");
  req->sv.gs->quarantined++;
  gw_reply_error(req, 502, msg, NULL);
}

int gw_svc_admit(struct gw_req *req) {
  struct gw_svc *gs = req->sv.gs;
  uint64_t now = now_ms(req);
  if (gs->quar.nquar) {
    const char *path;
    size_t plen;
    path_of(req, &path, &plen);
    uint64_t left = gw_quar_left(&gs->quar, req->method, path, plen, now);
    if (left) {
      reply_quarantined(req, left, 0);
      return 1;
    }
  }
  gw_budget_request(&gs->budget, now);
  return 0;
}

void gw_svc_answered_slow(struct gw_req *req) {
  const char *path;
  size_t plen;
  path_of(req, &path, &plen);
  gw_quar_answered(&req->sv.gs->quar, req->method, path, plen, now_ms(req));
}

void gw_svc_deaths(struct gw_req **v, size_t n, uint32_t death) {
  for (size_t i = 0; i < n; i++) {
    struct gw_req *req = v[i];
    struct gw_svc_req *p = &req->sv;
    if (req->head_sent)
      continue; /* a stream: cut, never retried */
    p->prev_death = p->last_death;
    p->last_death = death;
    if (p->deaths++ == 0)
      p->first_death_ms = now_ms(req);
    if (p->gs && req->srv->cfg->quarantine_s > 0) {
      const char *path;
      size_t plen;
      path_of(req, &path, &plen);
      if (gw_quar_died(&p->gs->quar, req->method, path, plen, now_ms(req)) != 0)
        sup_log(SUP_WARN, "gateway: out of memory watching %s %.*s", req->method,
                (int)(plen < SHOWN_PATH ? plen : SHOWN_PATH), path);
    }
  }
}

/* 1 when a and b have the same method and path. */
static int same_key(const struct gw_req *a, const struct gw_req *b) {
  const char *pa, *pb;
  size_t la, lb;
  path_of(a, &pa, &la);
  path_of(b, &pb, &lb);
  return la == lb && !strcmp(a->method, b->method) && !memcmp(pa, pb, la);
}

/* 1 when the service answered a request of req's method and path in the
 * GW_SERVED_MS before req's first death, or since (as far as the table
 * knows: it records answers once a request of that path died). */
static int answered_lately(const struct gw_req *req) {
  const struct gw_svc_req *p = &req->sv;
  const char *path;
  size_t plen;
  uint64_t since = p->first_death_ms > GW_SERVED_MS ? p->first_death_ms - GW_SERVED_MS : 0;
  path_of(req, &path, &plen);
  return gw_quar_answered_since(&p->gs->quar, req->method, path, plen, since);
}

/* 1 when o, another request of req's method and path, is in flight on a
 * routable instance other than `dying`. */
static int serving(const struct gw_req *o, const struct gw_req *req,
                   const struct sup_instance *dying) {
  const struct sup_instance *inst = o->sv.ops ? o->sv.ops->inst(o) : NULL;
  return o != req && inst != dying && inst != NULL && sup_instance_routable(inst) &&
         same_key(o, req);
}

/* 1 when another request of req's method and path is in flight on a
 * routable instance other than `dying` (the path is being served there):
 * on an IPC instance (srv->inflight) or an upstream one (srv->up_reqs). */
static int served_elsewhere(const struct gw_req *req, const struct sup_instance *dying) {
  size_t pos = 0;
  uint64_t id;
  void *val;
  const struct gw_req *o;
  while (gw_map_next(&req->srv->inflight, &pos, &id, &val))
    if (serving(val, req, dying))
      return 1;
  LIST_FOREACH(o, &req->srv->up_reqs, u.up.link)
  if (serving(o, req, dying))
    return 1;
  return 0;
}

/* 1 when req's method and path are evidently no query of death: answered
 * lately, or being served on another instance. */
static int exonerated(const struct gw_req *req, const struct sup_instance *dying) {
  return req->sv.gs == NULL || answered_lately(req) || served_elsewhere(req, dying);
}

/* 1 unless another request that died with req (in v, this death) has
 * another method and path that is not exonerated either: then it explains
 * the death as well as req does, and neither is taken for the poison yet. */
static int alone(const struct gw_req *req, const struct sup_instance *dying, struct gw_req **v,
                 size_t n) {
  size_t checked = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] == req || v[i]->sv.last_death != req->sv.last_death || v[i]->head_sent ||
        same_key(v[i], req))
      continue; /* itself, answered meanwhile (reset), a stream, or its twin */
    if (++checked > ALIKE_MAX || !exonerated(v[i], dying))
      return 0;
  }
  return 1;
}

/* Quarantines req's method and path for quarantine_s; the event when it
 * was not quarantined yet; answers req. */
static void quarantine(struct gw_req *req) {
  struct gw_svc *gs = req->sv.gs;
  int qs = req->srv->cfg->quarantine_s;
  const char *path;
  size_t plen;
  char detail[SHOWN_PATH + 160];
  path_of(req, &path, &plen);
  uint64_t now = now_ms(req);
  int rc = gw_quar_add(&gs->quar, req->method, path, plen, now, now + (uint64_t)qs * 1000);
  if (rc == 1) {
    snprintf(detail, sizeof(detail),
             "%s %.*s: %u instances died while one request was in "
             "flight on them; answered 502 for %d s",
             req->method, (int)(plen < SHOWN_PATH ? plen : SHOWN_PATH), path, req->sv.deaths, qs);
    struct sup_event ev = {
        .type = "quarantine", .service = name_of(gs), .index = -1, .code = -1, .detail = detail};
    sup_host_emit(req->srv->host, &ev);
  } else if (rc < 0) {
    sup_log(SUP_WARN, "gateway: out of memory quarantining %s %.*s", req->method,
            (int)(plen < SHOWN_PATH ? plen : SHOWN_PATH), path);
  }
  gs->retries[GW_RETRY_QUARANTINED]++;
  reply_quarantined(req, (uint64_t)qs * 1000, 1);
}

int gw_svc_is_poison(const struct gw_req *req, const struct sup_instance *dying, struct gw_req **v,
                     size_t n) {
  return req->srv->cfg->quarantine_s > 0 && req->sv.deaths >= 2 && !exonerated(req, dying) &&
         alone(req, dying, v, n);
}

void gw_svc_quarantine(struct gw_req *req) {
  quarantine(req);
}

int gw_svc_poison(struct gw_req *req, const struct sup_instance *dying, struct gw_req **v,
                  size_t n) {
  if (!gw_svc_is_poison(req, dying, v, n))
    return 0;
  quarantine(req);
  return 1;
}

void gw_svc_reset(struct gw_server *srv, struct sup_service *svc) {
  struct gw_svc *gs = gw_svcs_find(srv, svc);
  if (gs == NULL || gs->quar.n == 0)
    return;
  if (gs->quar.nquar)
    sup_log(SUP_INFO, "gateway: %s: %zu quarantined method and path lifted", name_of(gs),
            gs->quar.nquar);
  gw_quar_clear(&gs->quar);
}

/* ---- status and /metrics ---- */

void gw_svc_status(struct gw_server *srv, const struct sup_service *svc, struct ipc_buf *b) {
  struct gw_svc *gs = gw_svcs_find(srv, svc);
  const struct gw_quar_entry *e = NULL;
  uint64_t now = uv_now(srv->loop);
  ipc_buf_adds(b, ",\"queued\":");
  ipc_buf_addi(b, gs ? (int64_t)gs->queue.n : 0);
  ipc_buf_adds(b, ",\"quarantined\":[");
  if (gs && gs->quar.nquar)
    gw_quar_expire(&gs->quar, now);
  for (int n = 0; gs && (e = gw_quar_next(&gs->quar, e)) != NULL; n++) {
    ipc_buf_adds(b, n ? ",{\"method\":" : "{\"method\":");
    ipc_json_str(b, e->key, e->mlen);
    ipc_buf_adds(b, ",\"path\":");
    ipc_json_str(b, e->key + e->mlen + 1, e->plen);
    ipc_buf_adds(b, ",\"left_ms\":");
    ipc_buf_addi(b, (int64_t)(e->until_ms - now));
    ipc_buf_addc(b, '}');
  }
  ipc_buf_addc(b, ']');
  gw_tcp_status(srv->tcp, sup_view_service_cfg(svc)->name, b);
}

/* One family: its HELP and TYPE, then fn's lines for each service. */
static void family(struct ipc_buf *b, const struct gw_server *srv, const char *head,
                   void (*fn)(struct ipc_buf *b, const struct gw_svc *gs, const char *name)) {
  gw_metrics_printf(b, "%s", head);
  for (size_t i = 0; i < srv->nsvcs; i++)
    fn(b, srv->svcs[i], name_of(srv->svcs[i]));
}

/* Its muster_queued_requests sample. */
static void render_queued(struct ipc_buf *b, const struct gw_svc *gs, const char *name) {
  gw_metrics_printf(b, "muster_queued_requests{service=\"%s\"} %zu\n", name, gs->queue.n);
}

/* Its muster_queue_wait_seconds histogram. */
static void render_wait(struct ipc_buf *b, const struct gw_svc *gs, const char *name) {
  gw_metrics_hist_render(b, "muster_queue_wait_seconds", name, &gs->wait);
}

/* Its muster_queue_rejected_total samples, by reason. */
static void render_rejected(struct ipc_buf *b, const struct gw_svc *gs, const char *name) {
  gw_metrics_printf(b,
                    "muster_queue_rejected_total{service=\"%s\",reason=\"full\"} %llu\n"
                    "muster_queue_rejected_total{service=\"%s\",reason=\"timeout\"} %llu\n",
                    name, (unsigned long long)gs->queue_full, name,
                    (unsigned long long)gs->queue_timeout);
}

/* Its muster_retries_total samples, by outcome. */
static void render_retries(struct ipc_buf *b, const struct gw_svc *gs, const char *name) {
  static const char *const outcomes[] = {
#define XX(e, s) s,
      GW_RETRY_OUTCOMES(XX)
#undef XX
  };
  for (int k = 0; k < GW_RETRY__COUNT; k++)
    gw_metrics_printf(b, "muster_retries_total{service=\"%s\",outcome=\"%s\"} %llu\n", name,
                      outcomes[k], (unsigned long long)gs->retries[k]);
}

/* Its muster_quarantined_total sample. */
static void render_quarantine(struct ipc_buf *b, const struct gw_svc *gs, const char *name) {
  gw_metrics_printf(b, "muster_quarantined_total{service=\"%s\"} %llu\n", name,
                    (unsigned long long)gs->quarantined);
}

void gw_svcs_render_metrics(const struct gw_server *srv, struct ipc_buf *b) {
  family(b, srv,
         "# HELP muster_queued_requests Requests waiting for an instance.\n"
         "# TYPE muster_queued_requests gauge\n",
         render_queued);
  family(b, srv,
         "# HELP muster_queue_wait_seconds Time requests waited for an instance "
         "(counted when they leave the queue).\n"
         "# TYPE muster_queue_wait_seconds histogram\n",
         render_wait);
  family(b, srv,
         "# HELP muster_queue_rejected_total Requests answered 503 by the queue: "
         "full, or queue_timeout_ms passed.\n"
         "# TYPE muster_queue_rejected_total counter\n",
         render_rejected);
  family(b, srv,
         "# HELP muster_retries_total Requests whose instance died before answering, "
         "by what became of them.\n# TYPE muster_retries_total counter\n",
         render_retries);
  family(b, srv,
         "# HELP muster_quarantined_total Requests answered 502 \"quarantined\".\n"
         "# TYPE muster_quarantined_total counter\n",
         render_quarantine);
}

/* ---- Picking an instance (both handlers) ---- */

struct sup_instance *gw_svc_pick(struct gw_server *srv, struct sup_service *svc,
                                 const struct sup_instance *avoid, size_t *cursor,
                                 const char *client, int *full) {
  struct sup_instance *inst;
  size_t n = 0;
  *full = 0;
  while (sup_view_instance(svc, n))
    n++;
  if (util_vec_reserve(&srv->cands, &srv->capcands, n) != 0)
    return NULL;
  for (size_t i = 0; (inst = sup_view_instance(svc, i)) != NULL; i++)
    srv->cands[i] = (struct gw_cand){.inflight = sup_view_inflight(inst),
                                     .usable = inst != avoid && sup_instance_routable(inst)};
  const struct cfg_service *cfg = sup_view_service_cfg(svc);
  unsigned max = (unsigned)cfg->max_inflight;
  size_t k = client && cfg->upstream.balance == CFG_BALANCE_IP_HASH
                 ? gw_balance_pick_hash(srv->cands, n, max, gw_balance_key(client), full)
                 : gw_balance_pick(srv->cands, n, max, cursor, full);
  return k == GW_BALANCE_NONE ? NULL : sup_view_instance(svc, k);
}
