/* gw_quarantine — the poison-request table of one service (SPEC §4
 * "Poison requests", `quarantine_s`). Pure: the caller gives the time
 * (tests/unit/test_gw_quarantine.c).
 *
 * Keyed by method and path (the query is not part of the key), an entry
 * is made when a request of that method and path was in flight on an
 * instance that died, and then records:
 *   - when such a request last died (`died_ms`), and when the service last
 *     answered one (`ok_ms`): a method and path that the service answers
 *     meanwhile is no query of death, so a request of it that met two
 *     deaths met them by chance (an instance killed from outside) and is
 *     retried as usual (gw_svc.c decides, with gw_quar_answered_since);
 *   - until when it is quarantined (`until_ms`, 0 when it is not): its
 *     requests are answered 502 at once.
 * An entry is dropped once it is neither quarantined nor has seen a death
 * for GW_QUAR_TRACK_MS; the table holds at most GW_QUAR_MAX entries, the
 * one whose last death is oldest goes first. An empty table costs nothing:
 * the inline checks below look at a count before hashing anything. */
#ifndef MUSTER_GW_QUARANTINE_H
#define MUSTER_GW_QUARANTINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#define GW_QUAR_MAX 1000       /* entries per service; the oldest goes */
#define GW_QUAR_TRACK_MS 60000 /* a path is watched this long after a death */
#define GW_QUAR_BUCKETS 256    /* hash buckets (a power of two) */

struct gw_quar_entry {
  LIST_ENTRY(gw_quar_entry) hlink;  /* its hash bucket */
  TAILQ_ENTRY(gw_quar_entry) olink; /* by last death, oldest first */
  uint64_t hash;
  uint64_t died_ms;  /* a request of it last died then */
  uint64_t ok_ms;    /* the service last answered one then; 0: not seen */
  uint64_t until_ms; /* quarantined until then; 0: not quarantined */
  size_t mlen, plen; /* the key: method NUL path NUL */
  char key[];
};

LIST_HEAD(gw_quar_bucket, gw_quar_entry);
TAILQ_HEAD(gw_quar_order, gw_quar_entry);

struct gw_quar {
  struct gw_quar_bucket *buckets; /* GW_QUAR_BUCKETS, made with the first entry; owned */
  struct gw_quar_order order;     /* every entry, least recent death first */
  size_t n;                       /* entries */
  size_t nquar;                   /* of those, quarantined (until_ms != 0) */
  uint64_t next_expiry;           /* the earliest until_ms of those */
};

void gw_quar_init(struct gw_quar *q);
/* Frees every entry. */
void gw_quar_free(struct gw_quar *q);
/* Forgets every entry (the service was started or restarted). */
void gw_quar_clear(struct gw_quar *q);

/* A request of method and path died with its instance at now_ms: its
 * entry is made or refreshed. Returns 0 or UV_ENOMEM. */
int gw_quar_died(struct gw_quar *q, const char *method, const char *path, size_t plen,
                 uint64_t now_ms);

/* 1 when the service answered a request of method and path at or after
 * since_ms (as recorded by gw_quar_answered while it had an entry). */
int gw_quar_answered_since(const struct gw_quar *q, const char *method, const char *path,
                           size_t plen, uint64_t since_ms);

/* Quarantines method and path until until_ms. Returns 1 when it was not
 * quarantined before, 0 when an existing quarantine was extended,
 * UV_ENOMEM. */
int gw_quar_add(struct gw_quar *q, const char *method, const char *path, size_t plen,
                uint64_t now_ms, uint64_t until_ms);

/* The entry of method and path, or NULL. */
struct gw_quar_entry *gw_quar_find(const struct gw_quar *q, const char *method, const char *path,
                                   size_t plen);

/* Lifts the quarantines that ended by now_ms (called when next_expiry passed). */
void gw_quar_expire(struct gw_quar *q, uint64_t now_ms);

/* Records that the service answered a request of method and path. */
static inline void gw_quar_answered(struct gw_quar *q, const char *method, const char *path,
                                    size_t plen, uint64_t now_ms) {
  struct gw_quar_entry *e;
  if (q->n == 0 || (e = gw_quar_find(q, method, path, plen)) == NULL)
    return;
  e->ok_ms = now_ms;
}

/* Milliseconds left of the quarantine of method and path at now_ms; 0
 * when it is not quarantined. */
static inline uint64_t gw_quar_left(struct gw_quar *q, const char *method, const char *path,
                                    size_t plen, uint64_t now_ms) {
  struct gw_quar_entry *e;
  if (q->nquar == 0)
    return 0;
  if (now_ms >= q->next_expiry)
    gw_quar_expire(q, now_ms);
  if (q->nquar == 0 || (e = gw_quar_find(q, method, path, plen)) == NULL || e->until_ms == 0)
    return 0;
  return e->until_ms - now_ms;
}

/* The quarantined entries: for (e = NULL; (e = gw_quar_next(q, e)); ). */
const struct gw_quar_entry *gw_quar_next(const struct gw_quar *q, const struct gw_quar_entry *e);

#endif
