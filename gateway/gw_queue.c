/* gw_queue — the waiting requests' bookkeeping. See gw_queue.h. */
#include "gw_queue.h"

void gw_queue_init(struct gw_queue *q) {
  TAILQ_INIT(&q->q);
  q->n = 0;
}

enum gw_queue_refusal gw_queue_admit(size_t total, int max_queued, int timeout_ms,
                                     uint64_t waited_ms, uint64_t *wait_ms) {
  *wait_ms = 0;
  if (timeout_ms <= 0 || max_queued <= 0)
    return GW_QUEUE_OFF;
  if (waited_ms >= (uint64_t)timeout_ms)
    return GW_QUEUE_NO_TIME;
  if (total >= (size_t)max_queued)
    return GW_QUEUE_FULL;
  *wait_ms = (uint64_t)timeout_ms - waited_ms;
  return GW_QUEUE_OK;
}

void gw_queue_push(struct gw_queue *q, struct gw_qent *e, int front, uint64_t now_ms) {
  if (front)
    TAILQ_INSERT_HEAD(&q->q, e, link);
  else
    TAILQ_INSERT_TAIL(&q->q, e, link);
  e->since_ms = now_ms;
  e->queued = 1;
  q->n++;
}

uint64_t gw_queue_remove(struct gw_queue *q, struct gw_qent *e, uint64_t now_ms) {
  uint64_t w = now_ms > e->since_ms ? now_ms - e->since_ms : 0;
  TAILQ_REMOVE(&q->q, e, link);
  e->queued = 0;
  q->n--;
  e->waited_ms += w;
  return w;
}
