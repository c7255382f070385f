/* gw_expire — request timeouts answered after the loop's poll.
 *
 * libuv runs timers before it polls for I/O, so after a stall of the loop
 * longer than request_timeout_ms (an overloaded machine, a slow disk, a
 * stopped process) the answer may already be in the instance's channel,
 * unread. A request timer that fires does not answer 504 at once: its id
 * waits here, a uv_idle_t keeps that turn's poll from blocking, and a
 * uv_check_t after the poll answers the ids still unanswered (nginx
 * likewise handles events before timers). See struct gw_expire in gw.h. */
#include <stdlib.h>

#include "gw.h"
#include "util_vec.h"

/* After this turn's poll: the timeouts whose answer did not come in it.
 * (No timer runs in here, so the list does not grow while it is read.) */
static void on_check(uv_check_t *h) {
  struct gw_server *srv = h->data;
  struct gw_expire *e = &srv->expire;
  uv_idle_stop(&e->idle);
  uv_check_stop(&e->check);
  for (size_t i = 0; i < e->n; i++)
    gw_proxy_expired(srv, e->ids[i]);
  e->n = 0;
}

static void on_idle(uv_idle_t *h) {
  (void)h; /* only there to make this turn's poll not block */
}

int gw_expire_add(struct gw_server *srv, uint64_t id) {
  struct gw_expire *e = &srv->expire;
  if (e->closed)
    return UV_ECANCELED;
  if (!e->init) {
    uv_idle_init(srv->loop, &e->idle);
    uv_check_init(srv->loop, &e->check);
    e->idle.data = e->check.data = srv;
    e->init = 1;
  }
  if (util_vec_reserve(&e->ids, &e->cap, e->n + 1) != 0)
    return UV_ENOMEM;
  e->ids[e->n++] = id;
  uv_idle_start(&e->idle, on_idle);
  uv_check_start(&e->check, on_check);
  return 0;
}

static void on_closed(uv_handle_t *h) {
  (void)h;
}

void gw_expire_close(struct gw_server *srv) {
  struct gw_expire *e = &srv->expire;
  if (e->init && !e->closed) {
    uv_close((uv_handle_t *)&e->idle, on_closed);
    uv_close((uv_handle_t *)&e->check, on_closed);
  }
  e->closed = 1; /* the list itself goes with gw_server_free */
}
