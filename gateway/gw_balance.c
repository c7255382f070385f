/* gw_balance — least in-flight with round-robin ties. See gw_balance.h. */
#include "gw_balance.h"

size_t gw_balance_pick(const struct gw_cand *c, size_t n, unsigned max, size_t *cursor, int *full) {
  size_t best = GW_BALANCE_NONE;
  *full = 0;
  for (size_t k = 0; k < n; k++) {
    size_t i = (*cursor + k) % n;
    if (!c[i].usable)
      continue;
    if (c[i].inflight >= max) {
      *full = 1;
      continue;
    }
    if (best == GW_BALANCE_NONE || c[i].inflight < c[best].inflight)
      best = i;
  }
  if (best != GW_BALANCE_NONE)
    *cursor = best + 1;
  return best;
}
