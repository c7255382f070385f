/* gw_map — requests in flight by id: an open-addressing hash map from a
 * 64-bit id (never 0) to a pointer. Linear probing, backward-shift
 * deletion (no tombstones), grows at 50% load. Pure code. */
#ifndef MUSTER_GW_MAP_H
#define MUSTER_GW_MAP_H

#include <stddef.h>
#include <stdint.h>

struct gw_map_slot {
  uint64_t key; /* 0 = empty */
  void *val;
};

struct gw_map {
  struct gw_map_slot *slots; /* owned; power-of-two count */
  size_t cap;                /* slots allocated */
  size_t n;                  /* entries */
};

void gw_map_init(struct gw_map *m);
void gw_map_free(struct gw_map *m);
/* Inserts or replaces. Returns 0 or UV_ENOMEM. key must not be 0. */
int gw_map_put(struct gw_map *m, uint64_t key, void *val);
/* The value for key, or NULL. */
void *gw_map_get(const struct gw_map *m, uint64_t key);
/* Removes key; returns its value or NULL. */
void *gw_map_del(struct gw_map *m, uint64_t key);
/* Iterates: from *pos = 0, each call gives the next entry's value (and
 * key) and returns 1, or 0 at the end. The map must not change meanwhile. */
int gw_map_next(const struct gw_map *m, size_t *pos, uint64_t *key, void **val);

#endif
