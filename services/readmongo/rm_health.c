/* rm_health — /_health. See rm_health.h. */
#include "rm_health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "rm_jobs.h"
#include "rm_ops.h"
#include "rm_pending.h"
#include "rm_pool.h"

/* A /_health request waiting for the probe. Freed in its timer's close
 * callback. */
struct waiter {
  struct rm_pending pending; /* first member: req->data points here */
  struct ipc_req *req;       /* NULL once answered or cancelled */
  uv_timer_t timer;          /* the deadline */
  LIST_ENTRY(waiter) link;   /* in H.waiters */
};

static struct {
  uv_loop_t *loop;
  const struct rm_config *cfg;
  LIST_HEAD(, waiter) waiters; /* waiting requests, newest first */
  int probing;                 /* a probe is on the thread pool */
  int stopping;
  uv_work_t work;
  struct rm_op op;      /* kind RM_HEALTH */
  struct rm_exec exec;  /* the probe's driver state */
  struct rm_result res; /* the probe's result */
} H;

static const struct ipc_hdr json_hdr[] = {{"content-type", "application/json"}};

static void on_waiter_closed(uv_handle_t *h) {
  free(h->data);
}

/* Unlinks w and closes its timer (w is freed in the close callback). */
static void waiter_drop(struct waiter *w) {
  LIST_REMOVE(w, link);
  w->req = NULL;
  uv_close((uv_handle_t *)&w->timer, on_waiter_closed);
}

/* Answers w with err (or 200 when err is NULL) and drops it. */
static void waiter_answer(struct waiter *w, const struct rm_err *err) {
  struct ipc_req *req = w->req;
  waiter_drop(w);
  if (err)
    rm_respond_error(req, err);
  else
    ipc_respond(req, 200, json_hdr, 1, "{\"status\":\"ok\"}", 15);
}

/* Answers every waiting request with err (or 200 when err is NULL). */
static void answer_all(const struct rm_err *err) {
  while (!LIST_EMPTY(&H.waiters))
    waiter_answer(LIST_FIRST(&H.waiters), err);
}

static void on_deadline(uv_timer_t *t) {
  struct waiter *w = t->data;
  struct rm_err err = {0};
  rm_err_set(&err, 503, "MongoDB unavailable: no answer to ping within %lld ms",
             (long long)H.cfg->health_timeout_ms);
  waiter_answer(w, &err);
}

static void on_waiter_cancel(struct rm_pending *p) {
  waiter_drop((struct waiter *)p);
}

static void on_probe_work(uv_work_t *w) {
  (void)w;
  rm_ops_step(&H.exec, &H.op, H.cfg, &H.res);
}

static void on_probe_done(uv_work_t *w, int status) {
  (void)w;
  (void)status;
  H.probing = 0;
  answer_all(H.res.status >= 400 ? &H.res.err : NULL);
}

/* Starts the probe if someone waits and none runs. */
static void kick(void) {
  if (H.probing || LIST_EMPTY(&H.waiters) || H.stopping)
    return;
  struct rm_err err;
  enum rm_pool_state st = rm_pool_want(&err);
  if (st == RM_POOL_CREATING)
    return; /* rm_health_on_pool() comes back */
  if (st == RM_POOL_NONE) {
    answer_all(&err);
    return;
  }
  memset(&H.exec, 0, sizeof(H.exec));
  H.exec.pool = rm_pool_get();
  int rc = uv_queue_work(H.loop, &H.work, on_probe_work, on_probe_done);
  if (rc != 0) { /* only with a bad argument: cannot happen */
    fprintf(stderr, "readmongo: uv_queue_work failed: %s\n", uv_strerror(rc));
    abort();
  }
  H.probing = 1;
}

void rm_health_init(uv_loop_t *loop, const struct rm_config *cfg) {
  memset(&H, 0, sizeof(H));
  H.loop = loop;
  H.cfg = cfg;
  H.op.kind = RM_HEALTH;
  LIST_INIT(&H.waiters);
  ipc_buf_init(&H.res.out);
}

void rm_health_request(struct ipc_req *req) {
  struct waiter *w = calloc(1, sizeof(*w));
  if (w == NULL) {
    ipc_respond_error(req, 500, "out of memory");
    return;
  }
  w->pending.cancel = on_waiter_cancel;
  w->req = req;
  req->data = &w->pending;
  uv_timer_init(H.loop, &w->timer);
  w->timer.data = w;
  uv_timer_start(&w->timer, on_deadline, (uint64_t)H.cfg->health_timeout_ms, 0);
  LIST_INSERT_HEAD(&H.waiters, w, link);
  kick();
}

void rm_health_on_pool(void) {
  kick();
}

void rm_health_stop(void) {
  H.stopping = 1;
}

void rm_health_free(void) {
  ipc_buf_free(&H.res.out);
}
