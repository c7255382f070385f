/* sup_sched — when each instance's next heartbeat is due, for all of them
 * at once: a timing wheel driven by one timer of the host (sup_host.c).
 * Pure: times are milliseconds given by the caller (the loop's uv_now),
 * so every rule is unit-tested without a loop (tests/unit/test_sup_sched.c).
 *
 * Why: with one uv_timer per instance, 1,000 instances meant up to 1,000
 * timer re-arms a second, each firing on its own. Here an entry is due at
 * a time aligned to a grid (sup_sched_grid: 1/20 of its period, 10 ms to
 * 100 ms), so the instances whose beats fall in one grid step are all
 * handled in one loop turn: their pings leave in one batch and the loop
 * wakes about 20 times a second whatever the number of instances. Between
 * beats nothing runs: no work per instance when nothing is due.
 *
 * Liveness is never loosened: a beat is never later than one period after
 * the previous one (the grid rounds down), and after a stall of the loop
 * the missed beats are not replayed in a burst (which would count pongs
 * still on their way as missed): the next beat is one period from now.
 *
 * The wheel: SUP_SCHED_SLOTS lists of SUP_SCHED_TICK_MS each; an entry is
 * kept in the slot of its due tick (modulo the wheel) and taken once the
 * clock reaches it; an entry due more than a turn of the wheel ahead stays
 * in its slot for the later turns. Entries are intrusive (embedded in the
 * instance); removing one is O(1) wherever it is, also while due entries
 * are being taken, so a handler may remove or re-add any entry. */
#ifndef MUSTER_SUP_SCHED_H
#define MUSTER_SUP_SCHED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#define SUP_SCHED_TICK_MS 10 /* resolution: the shortest heartbeat_ms */
#define SUP_SCHED_SLOTS 512  /* one turn of the wheel: 5.12 s */
#define SUP_SCHED_NEVER UINT64_MAX

/* One scheduled thing (embedded in its owner). */
TAILQ_HEAD(sup_sched_list, sup_sched_entry);

struct sup_sched_entry {
  TAILQ_ENTRY(sup_sched_entry) link; /* in a slot, or in the due list */
  struct sup_sched_list *list;       /* the list it is in; NULL: not queued */
  uint64_t due;                      /* when it is due (ms) */
};

struct sup_sched {
  struct sup_sched_list slots[SUP_SCHED_SLOTS];
  struct sup_sched_list due; /* taken off the wheel, not handed out yet */
  uint64_t cursor;           /* the next tick to look at */
  size_t count;              /* entries queued */
};

/* An empty wheel whose clock starts at now. */
void sup_sched_init(struct sup_sched *s, uint64_t now);

/* The grid the beats of a period align to: period / 20 rounded down to
 * whole ticks, at least one tick, at most 100 ms, never above period. */
uint64_t sup_sched_grid(uint64_t period);

/* The first beat of an entry of period that starts at now: one period
 * from now, rounded down to the grid (so never later). */
uint64_t sup_sched_first(uint64_t now, uint64_t period);

/* The beat after the one that was due at prev, handled at now: one period
 * after prev rounded down to the grid, or, when that is already past (the
 * loop stalled), the first beat from now. */
uint64_t sup_sched_next(uint64_t prev, uint64_t now, uint64_t period);

/* Queues e (not queued) to be due at due. O(1). */
void sup_sched_add(struct sup_sched *s, struct sup_sched_entry *e, uint64_t due);

/* Takes e out wherever it is (O(1)); nothing when it is not queued. */
void sup_sched_remove(struct sup_sched *s, struct sup_sched_entry *e);

/* Takes the next entry due at or before now off the wheel (no longer
 * queued), or returns NULL when none is. Entries of one tick come out in
 * the order they were added. */
struct sup_sched_entry *sup_sched_pop(struct sup_sched *s, uint64_t now);

/* When the host's timer should fire next: now or earlier when something
 * is due, else the start of the first tick whose slot holds an entry
 * (maybe one due in a later turn: the timer then just re-arms), or
 * SUP_SCHED_NEVER when the wheel is empty. */
uint64_t sup_sched_wake(const struct sup_sched *s);

#endif
