/* gw_bucket — token buckets in a set-associative table. See gw_bucket.h. */
#include "gw_bucket.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

int gw_buckets_init(struct gw_buckets *b, size_t max_clients, double rate, double burst,
                    uint64_t seed) {
  memset(b, 0, sizeof(*b));
  b->nsets = (max_clients + GW_BUCKET_WAYS - 1) / GW_BUCKET_WAYS;
  if (b->nsets == 0)
    b->nsets = 1;
  b->slots = calloc(b->nsets * GW_BUCKET_WAYS, sizeof(*b->slots));
  if (b->slots == NULL)
    return UV_ENOMEM;
  gw_buckets_set(b, rate, burst);
  b->seed = seed;
  return 0;
}

#define UNIT 1000000u /* a token, in millionths */

void gw_buckets_set(struct gw_buckets *b, double rate, double burst) {
  b->per_ms = (uint64_t)(rate * (UNIT / 1000) + 0.5);
  if (b->per_ms == 0)
    b->per_ms = 1;
  b->burst = (uint64_t)(burst * UNIT + 0.5);
}

void gw_buckets_free(struct gw_buckets *b) {
  free(b->slots);
  b->slots = NULL;
  b->nsets = 0;
}

/* The key of ip: its family, then its 4 bytes or its first 8. */
static void key_of(const struct util_ip *ip, uint8_t key[9]) {
  memset(key, 0, 9);
  key[0] = ip->family == 6 ? 6 : 4;
  memcpy(key + 1, ip->b, ip->family == 6 ? 8 : 4);
}

/* FNV-1a over the key, from the seed (a client cannot pick its set). */
static size_t set_of(const struct gw_buckets *b, const uint8_t key[9]) {
  uint64_t h = 14695981039346656037ull ^ b->seed;
  for (int i = 0; i < 9; i++)
    h = (h ^ key[i]) * 1099511628211ull;
  h ^= h >> 29;
  return (size_t)(h % b->nsets);
}

/* The slot of key in its set: its own, else a free one, else the least
 * recently seen (evicted). A slot given anew has a full bucket. */
static struct gw_bucket_slot *slot_for(struct gw_buckets *b, const uint8_t key[9],
                                       uint64_t now_ms) {
  struct gw_bucket_slot *set = &b->slots[set_of(b, key) * GW_BUCKET_WAYS], *pick = NULL;
  for (int i = 0; i < GW_BUCKET_WAYS; i++)
    if (memcmp(set[i].key, key, 9) == 0)
      return &set[i];
  for (int i = 0; i < GW_BUCKET_WAYS; i++)
    if (set[i].key[0] == 0 && pick == NULL)
      pick = &set[i];
  if (pick == NULL) {
    pick = &set[0];
    for (int i = 1; i < GW_BUCKET_WAYS; i++)
      if (set[i].seen_ms < pick->seen_ms)
        pick = &set[i];
    b->evicted++;
  }
  memcpy(pick->key, key, 9);
  pick->tokens = b->burst;
  pick->seen_ms = now_ms;
  return pick;
}

int gw_buckets_take(struct gw_buckets *b, const struct util_ip *ip, uint64_t now_ms,
                    uint64_t *retry_ms) {
  uint8_t key[9];
  key_of(ip, key);
  struct gw_bucket_slot *s = slot_for(b, key, now_ms);
  if (now_ms > s->seen_ms) {
    uint64_t gap = now_ms - s->seen_ms,
             room = b->burst - (s->tokens < b->burst ? s->tokens : b->burst);
    s->tokens = gap >= room / b->per_ms + 1 ? b->burst : s->tokens + gap * b->per_ms;
    s->seen_ms = now_ms; /* a clock that went back: no refill */
  }
  if (s->tokens > b->burst)
    s->tokens = b->burst;
  if (s->tokens >= UNIT) {
    s->tokens -= UNIT;
    return 1;
  }
  uint64_t need = UNIT - s->tokens;
  *retry_ms = (need + b->per_ms - 1) / b->per_ms;
  return 0;
}
