/* sup_backoff — restart throttling arithmetic. Pure code, no clock of its
 * own: callers pass "now" and a random number, so tests are exact.
 *
 * Policy (documented in README "Restarts"):
 * - The first restart after a stable run is immediate (a one-off crash
 *   costs only the spawn); each further one waits initial * 2^(n-1) ms,
 *   capped at max, with +-20% jitter so instances do not restart in step.
 * - The delay resets once an instance has stayed ready for window_s.
 * - More than max_restarts restarts of a service within window_s: failed. */
#ifndef MUSTER_SUP_BACKOFF_H
#define MUSTER_SUP_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

struct sup_backoff {
  uint64_t initial_ms; /* delay of the second restart in a row */
  uint64_t max_ms;     /* cap on any delay */
  unsigned attempt;    /* restarts since the last reset */
};

void sup_backoff_init(struct sup_backoff *b, uint64_t initial_ms, uint64_t max_ms);

/* Returns the delay before the next restart and counts it. rnd is any
 * random 32-bit value (the jitter). */
uint64_t sup_backoff_next(struct sup_backoff *b, uint32_t rnd);

/* Forgets past restarts (the instance proved stable). */
void sup_backoff_reset(struct sup_backoff *b);

/* The restarts of one service in a sliding window. */
struct sup_window {
  uint64_t *times;    /* ring of the last `max + 1` restart times (ms), owned */
  unsigned max;       /* restarts allowed within the window */
  unsigned count;     /* entries used in `times` (<= max + 1) */
  unsigned head;      /* index of the oldest entry */
  uint64_t window_ms; /* the window's length */
};

/* Returns 0 or UV_ENOMEM. */
int sup_window_init(struct sup_window *w, unsigned max_restarts, uint64_t window_ms);
void sup_window_free(struct sup_window *w);

/* Records a restart at now_ms. Returns 1 when that makes more than `max`
 * restarts within the window (the service should fail), else 0. */
int sup_window_add(struct sup_window *w, uint64_t now_ms);

/* Restarts recorded within the window ending at now_ms. */
unsigned sup_window_count(const struct sup_window *w, uint64_t now_ms);

/* Forgets all restarts (musterctl start after failed). */
void sup_window_clear(struct sup_window *w);

#endif
