/* gw_map — id → pointer hash map. See gw_map.h. */
#include "gw_map.h"

#include <stdlib.h>
#include <uv.h>

#include "util_hash.h"

void gw_map_init(struct gw_map *m) {
  m->slots = NULL;
  m->cap = m->n = 0;
}

void gw_map_free(struct gw_map *m) {
  free(m->slots);
  gw_map_init(m);
}

/* Mixed first: ids are sequential. */
static size_t slot_of(uint64_t k, size_t cap) {
  return (size_t)util_mix64(k) & (cap - 1);
}

static int grow(struct gw_map *m) {
  size_t cap = m->cap ? m->cap * 2 : 64;
  struct gw_map_slot *s = calloc(cap, sizeof(*s));
  if (s == NULL)
    return UV_ENOMEM;
  for (size_t i = 0; i < m->cap; i++) {
    if (m->slots[i].key == 0)
      continue;
    size_t j = slot_of(m->slots[i].key, cap);
    while (s[j].key != 0)
      j = (j + 1) & (cap - 1);
    s[j] = m->slots[i];
  }
  free(m->slots);
  m->slots = s;
  m->cap = cap;
  return 0;
}

int gw_map_put(struct gw_map *m, uint64_t key, void *val) {
  if ((m->n + 1) * 2 > m->cap && grow(m) != 0)
    return UV_ENOMEM;
  size_t j = slot_of(key, m->cap);
  while (m->slots[j].key != 0 && m->slots[j].key != key)
    j = (j + 1) & (m->cap - 1);
  if (m->slots[j].key == 0)
    m->n++;
  m->slots[j].key = key;
  m->slots[j].val = val;
  return 0;
}

void *gw_map_get(const struct gw_map *m, uint64_t key) {
  if (m->cap == 0)
    return NULL;
  for (size_t j = slot_of(key, m->cap);; j = (j + 1) & (m->cap - 1)) {
    if (m->slots[j].key == key)
      return m->slots[j].val;
    if (m->slots[j].key == 0)
      return NULL;
  }
}

void *gw_map_del(struct gw_map *m, uint64_t key) {
  if (m->cap == 0)
    return NULL;
  size_t mask = m->cap - 1, j = slot_of(key, m->cap);
  while (m->slots[j].key != key) {
    if (m->slots[j].key == 0)
      return NULL;
    j = (j + 1) & mask;
  }
  void *val = m->slots[j].val;
  /* Backward-shift: move later entries of the run into the hole. */
  size_t hole = j;
  for (size_t k = (j + 1) & mask; m->slots[k].key != 0; k = (k + 1) & mask) {
    size_t home = slot_of(m->slots[k].key, m->cap);
    /* k's entry may fill the hole if its home is not in (hole, k]. */
    if (((k - home) & mask) >= ((k - hole) & mask)) {
      m->slots[hole] = m->slots[k];
      hole = k;
    }
  }
  m->slots[hole].key = 0;
  m->slots[hole].val = NULL;
  m->n--;
  return val;
}

int gw_map_next(const struct gw_map *m, size_t *pos, uint64_t *key, void **val) {
  for (; *pos < m->cap; (*pos)++) {
    if (m->slots[*pos].key != 0) {
      *key = m->slots[*pos].key;
      *val = m->slots[*pos].val;
      (*pos)++;
      return 1;
    }
  }
  return 0;
}
