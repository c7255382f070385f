/* gw_quarantine — the poison-request table. See gw_quarantine.h. */
#include "gw_quarantine.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "util_hash.h"

/* FNV-1a over method, its NUL, and path. */
static uint64_t key_hash(const char *method, const char *path, size_t plen) {
  uint64_t h = util_fnv1a(UTIL_FNV1A_INIT, method, strlen(method) + 1);
  return util_fnv1a(h, path, plen);
}

void gw_quar_init(struct gw_quar *q) {
  memset(q, 0, sizeof(*q));
  TAILQ_INIT(&q->order);
}

/* Unlinks and frees e. */
static void drop(struct gw_quar *q, struct gw_quar_entry *e) {
  LIST_REMOVE(e, hlink);
  TAILQ_REMOVE(&q->order, e, olink);
  if (e->until_ms != 0)
    q->nquar--;
  q->n--;
  free(e);
}

void gw_quar_clear(struct gw_quar *q) {
  struct gw_quar_entry *e;
  while ((e = TAILQ_FIRST(&q->order)) != NULL)
    drop(q, e);
  q->next_expiry = 0;
}

void gw_quar_free(struct gw_quar *q) {
  gw_quar_clear(q);
  free(q->buckets);
  q->buckets = NULL;
}

struct gw_quar_entry *gw_quar_find(const struct gw_quar *q, const char *method, const char *path,
                                   size_t plen) {
  struct gw_quar_entry *e;
  if (q->buckets == NULL)
    return NULL;
  uint64_t h = key_hash(method, path, plen);
  size_t mlen = strlen(method);
  LIST_FOREACH(e, &q->buckets[h & (GW_QUAR_BUCKETS - 1)], hlink)
  if (e->hash == h && e->mlen == mlen && e->plen == plen && !memcmp(e->key, method, mlen) &&
      !memcmp(e->key + mlen + 1, path, plen))
    return e;
  return NULL;
}

/* Drops, oldest death first, the entries neither quarantined nor watched
 * any more; then the oldest ones while the table is full. */
static void sweep(struct gw_quar *q, uint64_t now_ms) {
  struct gw_quar_entry *e;
  while ((e = TAILQ_FIRST(&q->order)) != NULL &&
         ((e->until_ms == 0 && e->died_ms + GW_QUAR_TRACK_MS <= now_ms) || q->n >= GW_QUAR_MAX))
    drop(q, e);
}

/* The entry of method and path, made (with no death, no answer, no
 * quarantine) when absent. NULL on out of memory. */
static struct gw_quar_entry *get(struct gw_quar *q, const char *method, const char *path,
                                 size_t plen, uint64_t now_ms) {
  struct gw_quar_entry *e = gw_quar_find(q, method, path, plen);
  if (e != NULL)
    return e;
  if (q->buckets == NULL && (q->buckets = calloc(GW_QUAR_BUCKETS, sizeof(*q->buckets))) == NULL)
    return NULL;
  sweep(q, now_ms);
  size_t mlen = strlen(method);
  if ((e = malloc(sizeof(*e) + mlen + plen + 2)) == NULL)
    return NULL;
  *e = (struct gw_quar_entry){
      .hash = key_hash(method, path, plen), .died_ms = now_ms, .mlen = mlen, .plen = plen};
  memcpy(e->key, method, mlen + 1);
  memcpy(e->key + mlen + 1, path, plen);
  e->key[mlen + 1 + plen] = '\0';
  LIST_INSERT_HEAD(&q->buckets[e->hash & (GW_QUAR_BUCKETS - 1)], e, hlink);
  TAILQ_INSERT_TAIL(&q->order, e, olink);
  q->n++;
  return e;
}

int gw_quar_died(struct gw_quar *q, const char *method, const char *path, size_t plen,
                 uint64_t now_ms) {
  struct gw_quar_entry *e = get(q, method, path, plen, now_ms);
  if (e == NULL)
    return UV_ENOMEM;
  e->died_ms = now_ms;
  TAILQ_REMOVE(&q->order, e, olink); /* the most recent death: last to go */
  TAILQ_INSERT_TAIL(&q->order, e, olink);
  return 0;
}

int gw_quar_answered_since(const struct gw_quar *q, const char *method, const char *path,
                           size_t plen, uint64_t since_ms) {
  const struct gw_quar_entry *e = gw_quar_find(q, method, path, plen);
  return e != NULL && e->ok_ms != 0 && e->ok_ms >= since_ms;
}

int gw_quar_add(struct gw_quar *q, const char *method, const char *path, size_t plen,
                uint64_t now_ms, uint64_t until_ms) {
  struct gw_quar_entry *e = get(q, method, path, plen, now_ms);
  if (e == NULL)
    return UV_ENOMEM;
  int fresh = e->until_ms == 0;
  if (fresh)
    q->nquar++;
  if (until_ms > e->until_ms)
    e->until_ms = until_ms;
  if (q->nquar == 1 || e->until_ms < q->next_expiry)
    q->next_expiry = e->until_ms;
  return fresh;
}

void gw_quar_expire(struct gw_quar *q, uint64_t now_ms) {
  struct gw_quar_entry *e;
  q->next_expiry = UINT64_MAX;
  TAILQ_FOREACH(e, &q->order, olink) {
    if (e->until_ms != 0 && e->until_ms <= now_ms) {
      e->until_ms = 0; /* still watched until GW_QUAR_TRACK_MS after its death */
      q->nquar--;
    } else if (e->until_ms != 0 && e->until_ms < q->next_expiry) {
      q->next_expiry = e->until_ms;
    }
  }
}

const struct gw_quar_entry *gw_quar_next(const struct gw_quar *q, const struct gw_quar_entry *e) {
  for (e = e ? TAILQ_NEXT(e, olink) : TAILQ_FIRST(&q->order); e; e = TAILQ_NEXT(e, olink))
    if (e->until_ms != 0)
      return e;
  return NULL;
}
