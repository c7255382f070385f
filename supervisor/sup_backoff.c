/* sup_backoff — restart delays and the restart window. See sup_backoff.h. */
#include "sup_backoff.h"

#include <stdlib.h>
#include <uv.h>

void sup_backoff_init(struct sup_backoff *b, uint64_t initial_ms, uint64_t max_ms) {
  b->initial_ms = initial_ms;
  b->max_ms = max_ms < initial_ms ? initial_ms : max_ms;
  b->attempt = 0;
}

uint64_t sup_backoff_next(struct sup_backoff *b, uint32_t rnd) {
  unsigned n = b->attempt++;
  if (n == 0 || b->initial_ms == 0)
    return 0;
  uint64_t d = b->initial_ms;
  for (unsigned i = 1; i < n && d < b->max_ms; i++)
    d *= 2;
  if (d > b->max_ms)
    d = b->max_ms;
  /* +-20% jitter: d * (0.8 + 0.4 * rnd / 2^32), still capped at max. */
  uint64_t lo = d - d / 5;
  uint64_t span = d / 5 * 2;
  uint64_t j = lo + (span * (uint64_t)rnd >> 32);
  return j > b->max_ms ? b->max_ms : j;
}

void sup_backoff_reset(struct sup_backoff *b) {
  b->attempt = 0;
}

int sup_window_init(struct sup_window *w, unsigned max_restarts, uint64_t window_ms) {
  w->max = max_restarts;
  w->window_ms = window_ms;
  w->count = w->head = 0;
  w->times = calloc((size_t)max_restarts + 1, sizeof(*w->times));
  return w->times ? 0 : UV_ENOMEM;
}

void sup_window_free(struct sup_window *w) {
  free(w->times);
  w->times = NULL;
}

/* Drops entries older than the window. */
static void expire(struct sup_window *w, uint64_t now_ms) {
  while (w->count > 0 && now_ms - w->times[w->head] >= w->window_ms) {
    w->head = (w->head + 1) % (w->max + 1);
    w->count--;
  }
}

int sup_window_add(struct sup_window *w, uint64_t now_ms) {
  unsigned cap = w->max + 1;
  expire(w, now_ms);
  if (w->count == cap) { /* full: overwrite the oldest */
    w->head = (w->head + 1) % cap;
    w->count--;
  }
  w->times[(w->head + w->count) % cap] = now_ms;
  w->count++;
  return w->count > w->max;
}

unsigned sup_window_count(const struct sup_window *w, uint64_t now_ms) {
  unsigned n = 0;
  for (unsigned i = 0; i < w->count; i++)
    if (now_ms - w->times[(w->head + i) % (w->max + 1)] < w->window_ms)
      n++;
  return n;
}

void sup_window_clear(struct sup_window *w) {
  w->count = w->head = 0;
}
