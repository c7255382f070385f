/* gw_bucket — per-client token buckets, the state of gateway.rate_limit
 * (nginx's limit_req with burst and nodelay): each client may send
 * `burst` requests at once, then `rate` a second. Pure: the time is
 * passed in, the tokens counted in millionths (exact waits, no float
 * drift); unit-tested (tests/unit/test_gw_bucket.c).
 *
 * The table has a fixed size, so memory stays bounded whatever the
 * number of clients: sets of GW_BUCKET_WAYS slots, a client's set chosen
 * by a seeded hash of its address (an IPv6 client by its /64: one host
 * owns a whole /64), the least recently seen slot of the set given to a
 * new client. An evicted client comes back with a full bucket: eviction
 * only ever lets more through, never refuses a client wrongly. */
#ifndef MUSTER_GW_BUCKET_H
#define MUSTER_GW_BUCKET_H

#include <stddef.h>
#include <stdint.h>

#include "util_cidr.h"

#define GW_BUCKET_WAYS 4

struct gw_bucket_slot {
  uint8_t key[9];   /* family, then 4 bytes (IPv4) or the /64 (IPv6); key[0] 0: free */
  uint64_t tokens;  /* requests it may still send now, in millionths */
  uint64_t seen_ms; /* when tokens was last brought up to date */
};

struct gw_buckets {
  struct gw_bucket_slot *slots; /* nsets * GW_BUCKET_WAYS, owned */
  size_t nsets;
  uint64_t per_ms; /* millionths of a token back per millisecond (rate * 1000) */
  uint64_t burst;  /* a bucket's size, in millionths */
  uint64_t seed;   /* of the hash */
  uint64_t evicted;
};

/* A table for about max_clients clients at rate requests per second
 * (0.001 .. 1000000) and burst at once. Returns 0, or UV_ENOMEM. */
int gw_buckets_init(struct gw_buckets *b, size_t max_clients, double rate, double burst,
                    uint64_t seed);
/* New rate and burst for the clients of b (a reload): kept buckets are
 * cut to the new burst at their next request. */
void gw_buckets_set(struct gw_buckets *b, double rate, double burst);
void gw_buckets_free(struct gw_buckets *b);

/* A request of client ip at now_ms: 1 when it may go (a token taken),
 * 0 when it is over the limit, *retry_ms then the wait until a token is
 * back (at least 1). */
int gw_buckets_take(struct gw_buckets *b, const struct util_ip *ip, uint64_t now_ms,
                    uint64_t *retry_ms);

#endif
