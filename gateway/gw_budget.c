/* gw_budget — the retry budget's sliding window. See gw_budget.h. */
#include "gw_budget.h"

#include <string.h>

void gw_budget_init(struct gw_budget *b) {
  memset(b, 0, sizeof(*b));
}

void gw_budget_totals(const struct gw_budget *b, uint64_t now_ms, uint64_t *requests,
                      uint64_t *retries) {
  uint64_t sec = now_ms / GW_BUDGET_SLOT_MS;
  *requests = *retries = 0;
  for (unsigned i = 0; i < GW_BUDGET_SLOTS; i++) {
    if (b->second[i] > sec || sec - b->second[i] >= GW_BUDGET_SLOTS)
      continue; /* a second out of the window (or a clock that went back) */
    *requests += b->requests[i];
    *retries += b->retries[i];
  }
}

int gw_budget_retry(struct gw_budget *b, double ratio, uint64_t now_ms) {
  uint64_t requests, retries;
  unsigned i = gw_budget_slot(b, now_ms);
  gw_budget_totals(b, now_ms, &requests, &retries);
  if ((double)(retries + 1) > GW_BUDGET_FLOOR + ratio * (double)requests)
    return 0;
  b->retries[i]++;
  return 1;
}
