/* gw_svc — what the gateway keeps per service to survive bad moments
 * (SPEC §4 "Surviving bad moments"): the queue of requests waiting for an
 * instance, the retry budget, the poison-request quarantine, and their
 * counters for /metrics and `status`.
 *
 * Both handlers that send requests to a service's instances use it: the
 * IPC proxy (gw_proxy.c) and the upstream handler (gw_up.c). A request
 * keeps its part in req->sv (struct gw_svc_req), with the operations of
 * its handler (struct gw_svc_ops) by which a waiting request is sent or
 * answered 503. The handlers call in at a few marked places: a request that
 * finds no instance waits here (gw_svc_wait) instead of a 503; a freed
 * slot or an instance that became ready sends the waiting ones on
 * (gw_svc_dispatch); a request whose instance died asks here whether it is
 * a poison (gw_svc_poison) and whether the budget allows its retry
 * (gw_svc_retry). When nothing waits and nothing was quarantined these
 * cost a comparison each: no allocation, no timer (a waiting request uses
 * its connection's request timer).
 *
 * One struct gw_svc per live service, in srv->svcs; the routes point at it
 * (gw_route's target). A reload that removes a service answers what waits
 * for it (503), unhooks its requests in flight (sv.gs = NULL) and frees it. */
#ifndef MUSTER_GW_SVC_H
#define MUSTER_GW_SVC_H

#include <stddef.h>
#include <stdint.h>

#include "gw_budget.h"
#include "gw_metrics.h"
#include "gw_quarantine.h"
#include "gw_queue.h"

struct cJSON;
struct gw_req;
struct gw_svc_req;
struct gw_server;
struct ipc_buf;
struct sup_instance;
struct sup_service;

/* XX(ENUM, "outcome label") for muster_retries_total. */
#define GW_RETRY_OUTCOMES(XX)                                                                      \
  XX(RETRIED, "retried")         /* sent again to another instance */                              \
  XX(BUDGET, "budget")           /* refused by the retry budget: 502 */                            \
  XX(EXHAUSTED, "exhausted")     /* its retries used up: 502 */                                    \
  XX(QUARANTINED, "quarantined") /* a poison: not tried again, 502 */

enum gw_retry_outcome {
#define XX(e, s) GW_RETRY_##e,
  GW_RETRY_OUTCOMES(XX)
#undef XX
      GW_RETRY__COUNT
};

struct gw_svc {
  struct sup_service *svc;    /* the service (borrowed from the host) */
  struct gw_queue queue;      /* requests waiting for an instance */
  size_t rr;                  /* round-robin cursor for the waiting ones */
  struct gw_budget budget;    /* requests and retries of the last 10 s */
  struct gw_quar quar;        /* paths watched after a death, and quarantined */
  struct gw_metric_hist wait; /* time requests waited in the queue */
  uint64_t queue_full;        /* 503: the gateway's queue was full */
  uint64_t queue_timeout;     /* 503: queue_timeout_ms passed */
  uint64_t retries[GW_RETRY__COUNT];
  uint64_t quarantined;     /* answers 502 "quarantined" */
  unsigned dispatching : 1; /* gw_svc_dispatch is running (no reentry) */
  unsigned gone : 1;        /* its service left the config: nothing may wait */
};

/* What gw_svc asks of the handler that took a request (req->sv.ops). */
struct gw_svc_ops {
  /* Sends req, which waited, to an instance of its service (cursor: the
   * service's round-robin cursor). Returns 0 when it was sent (or
   * answered: out of memory), 1 when no instance can take it now; then
   * *full is 1 when some were only at max_inflight. */
  int (*send)(struct gw_req *req, size_t *cursor, int *full);
  /* Answers the 503 of a request no instance took; suffix ("" or a clause
   * such as "; the queue is full") ends the reason. */
  void (*unavailable)(struct gw_req *req, int full, const char *suffix);
  /* The instance req is in flight on, or NULL. */
  struct sup_instance *(*inst)(const struct gw_req *req);
};

/* ---- The table (gw_server.c) ---- */

/* Gives every live service without one its struct (before the routes are
 * built: they point at it). Returns 0 or UV_ENOMEM (then some services
 * have none, and get no route). */
int gw_svcs_add(struct gw_server *srv);
/* Frees the structs of services no longer live (once the routes to them
 * are gone): what waits gets its 503, the requests in flight let go. */
void gw_svcs_drop_removed(struct gw_server *srv);
/* The state of svc, or NULL. */
struct gw_svc *gw_svcs_find(const struct gw_server *srv, const struct sup_service *svc);
/* Frees every one (the server goes). */
void gw_svcs_free(struct gw_server *srv);
/* Shutdown began: every waiting request is answered 503. */
void gw_svcs_flush_all(struct gw_server *srv);
/* Sends on what waits for every service (settings or routes changed). */
void gw_svcs_dispatch_all(struct gw_server *srv);

/* ---- Host hooks (gw_server.c) ---- */

/* inst became ready: its service's waiting requests may go. */
void gw_svc_instance_ready(struct gw_server *srv, struct sup_instance *inst);
/* `start` / `restart` of svc: its quarantine is lifted, its paths forgotten. */
void gw_svc_reset(struct gw_server *srv, struct sup_service *svc);
/* Appends ,"queued":N,"quarantined":[...] to svc's `status` object, being
 * written in b. */
void gw_svc_status(struct gw_server *srv, const struct sup_service *svc, struct ipc_buf *b);
/* The queue, retry and quarantine families of /metrics. */
void gw_svcs_render_metrics(const struct gw_server *srv, struct ipc_buf *b);

/* ---- The handlers' calls (gw_proxy.c, gw_up.c) ---- */

/* Requests waiting for gs's service (0 without gs). */
static inline size_t gw_svc_queued(const struct gw_svc *gs) {
  return gs ? gs->queue.n : 0;
}

/* No instance can take req now (full: some were at max_inflight): it
 * waits for one, or gets the 503 when it may not (queue off or full, no
 * instance coming, its wait used up, shutdown). retry: it was sent before
 * (it waits ahead of first tries). The request timer bounds its wait. */
void gw_svc_wait(struct gw_req *req, int full, int retry);

/* Sends the oldest waiting requests of gs while an instance takes them. */
void gw_svc_dispatch(struct gw_svc *gs);

/* req leaves the queue without being sent (client gone). */
void gw_svc_leave(struct gw_req *req);

/* The protocol stopped the request timer of a waiting req (the body of a
 * request taken at its head ended): it runs again for what is left of
 * its wait. */
void gw_svc_rearm(struct gw_req *req);

/* The request timer of a waiting req fired: 503. */
void gw_svc_expired(struct gw_req *req);

/* 1 when a waiting req has spent queue_timeout_ms in the queue (checked
 * where no timer runs for it: while its body streams in). */
int gw_svc_overdue(const struct gw_req *req);

/* A new request of gs: counted for the budget; answered 502 at once when
 * its method and path are quarantined. Returns 1 when answered. */
int gw_svc_admit(struct gw_req *req);

/* The service answered req (a response head): its method and path are
 * no query of death (only looked up while paths are watched). */
void gw_svc_answered_slow(struct gw_req *req);
static inline void gw_svc_answered(struct gw_req *req, struct gw_svc *gs) {
  if (gs && gs->quar.n)
    gw_svc_answered_slow(req);
}

/* The instances of the `n` requests v died holding them (death number
 * `death`): counts the death in each (and watches its method and path). */
void gw_svc_deaths(struct gw_req **v, size_t n, uint32_t death);

/* After its instance `dying` died: 1 when req is a poison, then its
 * method and path are quarantined (event `quarantine`) and req is answered
 * 502. A poison met two deaths (each instance died while req was in flight
 * on it), and its method and path are not evidently served: no request of
 * them was answered in the 10 s before its first death or since, none is
 * in flight on another instance; and no other request that died with it
 * (v: every request `dying` held) has another method and path as little
 * served (either could be the cause: neither is taken for it yet). Else 0:
 * it is retried or fails as any other. */
int gw_svc_poison(struct gw_req *req, const struct sup_instance *dying, struct gw_req **v,
                  size_t n);

/* gw_svc_poison in two steps, for a handler that must let go of what
 * req holds before it is answered: whether it is a poison (nothing
 * changes), then its quarantine (the event, the 502). */
int gw_svc_is_poison(const struct gw_req *req, const struct sup_instance *dying, struct gw_req **v,
                     size_t n);
void gw_svc_quarantine(struct gw_req *req);

/* Counts an outcome of a death for muster_retries_total; for
 * GW_RETRY_RETRIED first asks the budget: returns 0 when it refuses (then
 * counted as GW_RETRY_BUDGET), 1 otherwise. */
int gw_svc_retry(struct gw_req *req, enum gw_retry_outcome outcome);

/* The instance of svc for a request (gw_balance: fewest in flight, ties
 * from *cursor; by client, the client's address, when svc is an upstream
 * with `balance: "ip_hash"`), never avoid. NULL when none; *full when
 * every candidate was at max_inflight (or, by address, the client's
 * instance). The IPC proxy and the upstream handler both ask. */
struct sup_instance *gw_svc_pick(struct gw_server *srv, struct sup_service *svc,
                                 const struct sup_instance *avoid, size_t *cursor,
                                 const char *client, int *full);

#endif
