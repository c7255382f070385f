/* Unit tests for sup_sched: the grid, beats never late, no burst after a
 * stall, the wheel's order, removal while taking, entries a turn ahead,
 * and the batching that keeps 1,000 instances to ~20 wake-ups a second. */
#include "sup_sched.h"
#include "test.h"

#include <string.h>

TEST(grid_is_a_twentieth_of_the_period_within_bounds) {
  CHECK_INT(sup_sched_grid(1000), 50);
  CHECK_INT(sup_sched_grid(200), 10);
  CHECK_INT(sup_sched_grid(10), 10);
  CHECK_INT(sup_sched_grid(5), 5); /* never above the period */
  CHECK_INT(sup_sched_grid(3600000), 100);
  CHECK_INT(sup_sched_grid(333), 10);
}

TEST(beats_are_never_later_than_one_period) {
  uint64_t periods[] = {10, 15, 100, 333, 1000, 1234, 60000};
  for (size_t k = 0; k < sizeof(periods) / sizeof(periods[0]); k++) {
    uint64_t p = periods[k];
    for (uint64_t start = 0; start < 400; start += 7) {
      uint64_t t = sup_sched_first(start, p);
      CHECK(t > start && t <= start + p);
      for (int i = 0; i < 50; i++) {
        uint64_t n = sup_sched_next(t, t, p);
        CHECK(n > t && n <= t + p);
        CHECK(n + sup_sched_grid(p) > t + p); /* and at most one grid step early */
        t = n;
      }
    }
  }
}

TEST(aligned_periods_do_not_drift) {
  uint64_t t = sup_sched_first(12345, 1000);
  CHECK_INT(t % 50, 0);
  for (int i = 0; i < 100; i++) {
    uint64_t n = sup_sched_next(t, t + 3, 1000); /* handled 3 ms late */
    CHECK_INT(n - t, 1000);
    t = n;
  }
}

TEST(a_stall_skips_missed_beats_instead_of_bursting) {
  uint64_t t = sup_sched_first(0, 1000);
  uint64_t late = t + 3500; /* the loop was stuck for 3.5 periods */
  uint64_t n = sup_sched_next(t, late, 1000);
  CHECK(n > late && n <= late + 1000);
}

TEST(pop_in_time_order_and_fifo_within_a_tick) {
  struct sup_sched s;
  struct sup_sched_entry e[4];
  memset(e, 0, sizeof(e));
  sup_sched_init(&s, 1000);
  sup_sched_add(&s, &e[0], 1200);
  sup_sched_add(&s, &e[1], 1100);
  sup_sched_add(&s, &e[2], 1105); /* the same 10 ms tick as e[1] */
  sup_sched_add(&s, &e[3], 1100);
  CHECK_INT(s.count, 4);
  CHECK(sup_sched_pop(&s, 1099) == NULL);
  CHECK_INT(sup_sched_wake(&s), 1100);
  CHECK(sup_sched_pop(&s, 1100) == &e[1]);
  CHECK(sup_sched_pop(&s, 1100) == &e[2]);
  CHECK(sup_sched_pop(&s, 1100) == &e[3]);
  CHECK(sup_sched_pop(&s, 1100) == NULL);
  CHECK_INT(sup_sched_wake(&s), 1200);
  CHECK(sup_sched_pop(&s, 5000) == &e[0]);
  CHECK(sup_sched_pop(&s, 5000) == NULL);
  CHECK_INT(s.count, 0);
  CHECK(sup_sched_wake(&s) == SUP_SCHED_NEVER);
}

TEST(remove_anywhere_even_among_the_due) {
  struct sup_sched s;
  struct sup_sched_entry e[3];
  memset(e, 0, sizeof(e));
  sup_sched_init(&s, 0);
  for (int i = 0; i < 3; i++)
    sup_sched_add(&s, &e[i], 50);
  CHECK(sup_sched_pop(&s, 50) == &e[0]); /* e[1], e[2] now wait in the due list */
  sup_sched_remove(&s, &e[1]);           /* a handler stops another instance */
  sup_sched_remove(&s, &e[1]);           /* twice: nothing */
  CHECK(e[1].list == NULL);
  sup_sched_add(&s, &e[0], 60); /* and re-arms itself */
  CHECK(sup_sched_pop(&s, 50) == &e[2]);
  CHECK(sup_sched_pop(&s, 50) == NULL);
  CHECK(sup_sched_pop(&s, 60) == &e[0]);
  CHECK_INT(s.count, 0);
}

TEST(past_due_is_taken_at_once) {
  struct sup_sched s;
  struct sup_sched_entry e;
  memset(&e, 0, sizeof(e));
  sup_sched_init(&s, 10000);
  sup_sched_add(&s, &e, 5000);
  CHECK(sup_sched_wake(&s) <= 10000);
  CHECK(sup_sched_pop(&s, 10000) == &e);
}

TEST(entries_a_turn_ahead_wait_for_their_turn) {
  struct sup_sched s;
  struct sup_sched_entry near, far;
  memset(&near, 0, sizeof(near));
  memset(&far, 0, sizeof(far));
  uint64_t turn = SUP_SCHED_SLOTS * SUP_SCHED_TICK_MS;
  sup_sched_init(&s, 0);
  sup_sched_add(&s, &far, 100 + 3 * turn); /* the same slot as 100, three turns on */
  sup_sched_add(&s, &near, 100);
  CHECK(sup_sched_pop(&s, 100) == &near);
  CHECK(sup_sched_pop(&s, 100 + turn) == NULL);
  CHECK(sup_sched_wake(&s) > 100 + turn);
  CHECK(sup_sched_pop(&s, 100 + 3 * turn - 1) == NULL);
  CHECK(sup_sched_pop(&s, 100 + 3 * turn) == &far);
}

/* 1,000 instances becoming ready at scattered times, 1 s heartbeats, run
 * for 20 s: every beat on time, and few distinct wake-ups. */
TEST(a_thousand_instances_wake_the_loop_about_twenty_times_a_second) {
  enum { N = 1000 };
  static struct sup_sched_entry e[N];
  static uint64_t last[N];
  struct sup_sched s;
  uint64_t now = 0, wakes = 0, beats = 0, end = 20000;
  sup_sched_init(&s, 0);
  for (int i = 0; i < N; i++) {
    last[i] = (uint64_t)(i * 7919) % 1000; /* ready times over a second */
    sup_sched_add(&s, &e[i], sup_sched_first(last[i], 1000));
  }
  while ((now = sup_sched_wake(&s)) < end) {
    struct sup_sched_entry *x;
    wakes++;
    while ((x = sup_sched_pop(&s, now)) != NULL) {
      size_t i = (size_t)(x - e);
      CHECK(now - last[i] <= 1000);
      last[i] = now;
      beats++;
      sup_sched_add(&s, x, sup_sched_next(x->due, now, 1000));
    }
  }
  CHECK(beats >= 19 * N);
  CHECK(wakes <= 21 * 20); /* one per grid step, 20 s */
}

int main(void) {
  RUN(grid_is_a_twentieth_of_the_period_within_bounds);
  RUN(beats_are_never_later_than_one_period);
  RUN(aligned_periods_do_not_drift);
  RUN(a_stall_skips_missed_beats_instead_of_bursting);
  RUN(pop_in_time_order_and_fifo_within_a_tick);
  RUN(remove_anywhere_even_among_the_due);
  RUN(past_due_is_taken_at_once);
  RUN(entries_a_turn_ahead_wait_for_their_turn);
  RUN(a_thousand_instances_wake_the_loop_about_twenty_times_a_second);
  return test_summary();
}
