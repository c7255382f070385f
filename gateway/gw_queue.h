/* gw_queue — requests waiting for an instance (SPEC §4 `queue_timeout_ms`,
 * `max_queued`): the bookkeeping, pure (tests/unit/test_gw_queue.c).
 *
 * Each service has a FIFO of waiting requests; an entry (struct gw_qent)
 * lives inside the request, so joining and leaving allocate nothing. The
 * whole gateway holds at most max_queued of them. A request may wait in
 * all at most queue_timeout_ms: a retry that finds no instance waits again
 * only for what is left of it. gw_svc.c does the waiting itself (timers,
 * dispatch, answers). */
#ifndef MUSTER_GW_QUEUE_H
#define MUSTER_GW_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

/* A request's place in its service's queue. */
struct gw_qent {
  TAILQ_ENTRY(gw_qent) link;
  uint64_t since_ms;  /* when it joined (this time) */
  uint64_t waited_ms; /* time it waited before, in all (a retry waits again) */
  unsigned queued : 1;
};

TAILQ_HEAD(gw_qhead, gw_qent);

/* One service's queue. */
struct gw_queue {
  struct gw_qhead q; /* oldest first */
  size_t n;          /* entries */
};

/* Why a request may not wait (gw_queue_admit). */
enum gw_queue_refusal {
  GW_QUEUE_OK = 0,
  GW_QUEUE_OFF,    /* queue_timeout_ms or max_queued is 0 */
  GW_QUEUE_FULL,   /* the gateway already holds max_queued */
  GW_QUEUE_NO_TIME /* it already waited queue_timeout_ms */
};

void gw_queue_init(struct gw_queue *q);

/* Whether a request that waited waited_ms before may wait again while the
 * gateway holds `total` waiting requests; when it may, *wait_ms is how
 * long, at most. */
enum gw_queue_refusal gw_queue_admit(size_t total, int max_queued, int timeout_ms,
                                     uint64_t waited_ms, uint64_t *wait_ms);

/* Queues e at now_ms: at the back, or at the front (a retry: it came
 * before every request waiting now). */
void gw_queue_push(struct gw_queue *q, struct gw_qent *e, int front, uint64_t now_ms);

/* Takes e out of the queue (it leaves: sent, timed out, abandoned) and
 * returns how long it waited this time; its waited_ms grows by as much. */
uint64_t gw_queue_remove(struct gw_queue *q, struct gw_qent *e, uint64_t now_ms);

/* The oldest entry, or NULL. */
static inline struct gw_qent *gw_queue_first(const struct gw_queue *q) {
  return TAILQ_FIRST(&q->q);
}

#endif
