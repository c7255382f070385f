/* sup_sched — the heartbeat wheel. See sup_sched.h. */
#include "sup_sched.h"

#define GRID_MAX_MS 100 /* beats of long periods spread over 100 ms steps */
#define GRID_SHARE 20   /* the grid is 1/20 of the period */

void sup_sched_init(struct sup_sched *s, uint64_t now) {
  for (size_t i = 0; i < SUP_SCHED_SLOTS; i++)
    TAILQ_INIT(&s->slots[i]);
  TAILQ_INIT(&s->due);
  s->cursor = now / SUP_SCHED_TICK_MS;
  s->count = 0;
}

uint64_t sup_sched_grid(uint64_t period) {
  uint64_t g = period / GRID_SHARE / SUP_SCHED_TICK_MS * SUP_SCHED_TICK_MS;
  if (g < SUP_SCHED_TICK_MS)
    g = SUP_SCHED_TICK_MS;
  if (g > GRID_MAX_MS)
    g = GRID_MAX_MS;
  return g > period && period > 0 ? period : g;
}

uint64_t sup_sched_first(uint64_t now, uint64_t period) {
  uint64_t g = sup_sched_grid(period);
  uint64_t t = (now + period) / g * g;
  return t > now ? t : now + period; /* a period shorter than the grid */
}

uint64_t sup_sched_next(uint64_t prev, uint64_t now, uint64_t period) {
  uint64_t g = sup_sched_grid(period);
  uint64_t t = (prev + period) / g * g;
  if (t <= prev)
    t = prev + period;
  return t > now ? t : sup_sched_first(now, period);
}

/* Appends e to list l. */
static void link_to(struct sup_sched_list *l, struct sup_sched_entry *e) {
  TAILQ_INSERT_TAIL(l, e, link);
  e->list = l;
}

void sup_sched_add(struct sup_sched *s, struct sup_sched_entry *e, uint64_t due) {
  uint64_t tick = due / SUP_SCHED_TICK_MS;
  if (tick < s->cursor)
    tick = s->cursor; /* already due: the next look takes it */
  e->due = due;
  link_to(&s->slots[tick % SUP_SCHED_SLOTS], e);
  s->count++;
}

void sup_sched_remove(struct sup_sched *s, struct sup_sched_entry *e) {
  if (e->list == NULL)
    return;
  TAILQ_REMOVE(e->list, e, link);
  e->list = NULL;
  s->count--;
}

/* Moves the entries of the cursor's slot that are due by its tick to the
 * due list, in order; those of later turns stay. */
static void take_slot(struct sup_sched *s) {
  struct sup_sched_list *l = &s->slots[s->cursor % SUP_SCHED_SLOTS];
  struct sup_sched_entry *e, *next;
  for (e = TAILQ_FIRST(l); e != NULL; e = next) {
    next = TAILQ_NEXT(e, link);
    if (e->due / SUP_SCHED_TICK_MS > s->cursor)
      continue;
    TAILQ_REMOVE(l, e, link);
    link_to(&s->due, e);
  }
}

struct sup_sched_entry *sup_sched_pop(struct sup_sched *s, uint64_t now) {
  uint64_t now_tick = now / SUP_SCHED_TICK_MS;
  while (TAILQ_EMPTY(&s->due) && s->count > 0 && s->cursor <= now_tick) {
    take_slot(s);
    if (TAILQ_EMPTY(&s->due))
      s->cursor++;
  }
  struct sup_sched_entry *e = TAILQ_FIRST(&s->due);
  if (e != NULL)
    sup_sched_remove(s, e);
  return e;
}

uint64_t sup_sched_wake(const struct sup_sched *s) {
  if (!TAILQ_EMPTY(&s->due))
    return s->cursor * SUP_SCHED_TICK_MS;
  if (s->count == 0)
    return SUP_SCHED_NEVER;
  for (uint64_t t = s->cursor; t < s->cursor + SUP_SCHED_SLOTS; t++)
    if (!TAILQ_EMPTY(&s->slots[t % SUP_SCHED_SLOTS]))
      return t * SUP_SCHED_TICK_MS;
  return SUP_SCHED_NEVER; /* not reached: count > 0 means a slot is used */
}
