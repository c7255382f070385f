/* gw_budget — the retry budget of one service (SPEC §4 `retry_budget`).
 *
 * Retries may add at most a fraction of the service's requests of the
 * last 10 s, so that retries never multiply an outage (Envoy's retry
 * budget, Finagle's RetryBudget). A small floor of retries is always
 * allowed, so that a quiet service still retries the request of an
 * instance that died. The window slides over GW_BUDGET_SLOTS one-second
 * slots: a slot holds the counts of one second and is emptied when it is
 * reused for a later one, so nothing runs on a timer and counting a
 * request costs a division and an increment. Pure: the caller gives the
 * time (tests/unit/test_gw_budget.c). */
#ifndef MUSTER_GW_BUDGET_H
#define MUSTER_GW_BUDGET_H

#include <stdint.h>

#define GW_BUDGET_SLOTS 10     /* the window: 10 slots ... */
#define GW_BUDGET_SLOT_MS 1000 /* ... of one second */
#define GW_BUDGET_FLOOR 10     /* retries always allowed per window */

struct gw_budget {
  uint64_t second[GW_BUDGET_SLOTS];   /* the second (ms / 1000) each slot counts */
  uint32_t requests[GW_BUDGET_SLOTS]; /* first attempts in that second */
  uint32_t retries[GW_BUDGET_SLOTS];  /* retries granted in that second */
};

/* An empty window. */
void gw_budget_init(struct gw_budget *b);

/* The slot of now_ms, emptied first when it held an older second. */
static inline unsigned gw_budget_slot(struct gw_budget *b, uint64_t now_ms) {
  uint64_t sec = now_ms / GW_BUDGET_SLOT_MS;
  unsigned i = (unsigned)(sec % GW_BUDGET_SLOTS);
  if (b->second[i] != sec) {
    b->second[i] = sec;
    b->requests[i] = b->retries[i] = 0;
  }
  return i;
}

/* Counts one request (a first attempt, not a retry) at now_ms. */
static inline void gw_budget_request(struct gw_budget *b, uint64_t now_ms) {
  b->requests[gw_budget_slot(b, now_ms)]++;
}

/* The requests and retries counted in the window that ends at now_ms
 * (this second and the GW_BUDGET_SLOTS - 1 before it). */
void gw_budget_totals(const struct gw_budget *b, uint64_t now_ms, uint64_t *requests,
                      uint64_t *retries);

/* Asks for one retry at now_ms: granted (and counted) when the retries of
 * the window, this one included, stay within GW_BUDGET_FLOOR + ratio x
 * the requests of the window. Returns 1 when granted, 0 when refused. */
int gw_budget_retry(struct gw_budget *b, double ratio, uint64_t now_ms);

#endif
