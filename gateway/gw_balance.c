/* gw_balance — least in-flight with round-robin ties. See gw_balance.h. */
#include "gw_balance.h"

#include "util_hash.h"

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

size_t gw_balance_pick_hash(const struct gw_cand *c, size_t n, unsigned max, uint64_t key,
                            int *full) {
  size_t best = GW_BALANCE_NONE;
  uint64_t top = 0;
  *full = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t score = util_mix64(key ^ util_mix64((uint64_t)i + 1));
    if (c[i].usable && (best == GW_BALANCE_NONE || score > top)) {
      best = i;
      top = score;
    }
  }
  if (best != GW_BALANCE_NONE && c[best].inflight >= max) {
    *full = 1;
    return GW_BALANCE_NONE;
  }
  return best;
}

uint64_t gw_balance_key(const char *addr) {
  return util_fnv1a_str(addr);
}
