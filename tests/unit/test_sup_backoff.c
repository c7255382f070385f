/* Unit tests for sup_backoff: delays, cap, jitter bounds, window. */
#include "sup_backoff.h"
#include "sup_probe.h"
#include "test.h"

TEST(first_restart_is_immediate_then_doubles) {
  struct sup_backoff b;
  sup_backoff_init(&b, 100, 1000);
  uint32_t mid = 1u << 31; /* jitter factor exactly 1.0 */
  CHECK_INT(sup_backoff_next(&b, mid), 0);
  CHECK_INT(sup_backoff_next(&b, mid), 100);
  CHECK_INT(sup_backoff_next(&b, mid), 200);
  CHECK_INT(sup_backoff_next(&b, mid), 400);
  CHECK_INT(sup_backoff_next(&b, mid), 800);
  CHECK_INT(sup_backoff_next(&b, mid), 1000); /* capped */
  for (int i = 0; i < 100; i++)
    CHECK(sup_backoff_next(&b, mid) <= 1000); /* and no overflow later */
  sup_backoff_reset(&b);
  CHECK_INT(sup_backoff_next(&b, mid), 0);
  CHECK_INT(sup_backoff_next(&b, mid), 100);
}

TEST(jitter_bounds) {
  struct sup_backoff b;
  sup_backoff_init(&b, 1000, 60000);
  sup_backoff_next(&b, 0);
  CHECK_INT(sup_backoff_next(&b, 0), 800); /* -20% */
  sup_backoff_init(&b, 1000, 60000);
  sup_backoff_next(&b, 0);
  CHECK_INT(sup_backoff_next(&b, 0xFFFFFFFFu), 1199); /* just under +20% */
  sup_backoff_init(&b, 1000, 1000);
  sup_backoff_next(&b, 0);
  CHECK_INT(sup_backoff_next(&b, 0xFFFFFFFFu), 1000); /* never past max */
}

TEST(zero_initial_means_no_delay) {
  struct sup_backoff b;
  sup_backoff_init(&b, 0, 1000);
  for (int i = 0; i < 5; i++)
    CHECK_INT(sup_backoff_next(&b, 12345), 0);
}

TEST(window_fails_after_max) {
  struct sup_window w;
  CHECK_INT(sup_window_init(&w, 3, 1000), 0);
  CHECK_INT(sup_window_add(&w, 0), 0);
  CHECK_INT(sup_window_add(&w, 10), 0);
  CHECK_INT(sup_window_add(&w, 20), 0);
  CHECK_INT(sup_window_count(&w, 20), 3);
  CHECK_INT(sup_window_add(&w, 30), 1); /* the 4th within 1 s */
  sup_window_free(&w);
}

TEST(window_slides) {
  struct sup_window w;
  CHECK_INT(sup_window_init(&w, 2, 1000), 0);
  CHECK_INT(sup_window_add(&w, 0), 0);
  CHECK_INT(sup_window_add(&w, 500), 0);
  CHECK_INT(sup_window_add(&w, 1000), 0); /* the one at 0 has expired */
  CHECK_INT(sup_window_count(&w, 1000), 2);
  CHECK_INT(sup_window_add(&w, 1400), 1); /* 500, 1000, 1400 */
  CHECK_INT(sup_window_count(&w, 5000), 0);
  sup_window_clear(&w);
  CHECK_INT(sup_window_add(&w, 5000), 0);
  sup_window_free(&w);
}

TEST(window_zero_restarts_allowed) {
  struct sup_window w;
  CHECK_INT(sup_window_init(&w, 0, 1000), 0);
  CHECK_INT(sup_window_add(&w, 0), 1);
  sup_window_free(&w);
}

/* An upstream's readiness probe (sup_probe): 10 ms, doubling, 500 ms at most. */
TEST(probe_delays) {
  uint64_t d = 0, want[] = {10, 20, 40, 80, 160, 320, 500, 500};
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    d = sup_probe_next_delay(d);
    CHECK_INT(d, want[i]);
  }
}

int main(void) {
  RUN(probe_delays);
  RUN(first_restart_is_immediate_then_doubles);
  RUN(jitter_bounds);
  RUN(zero_initial_means_no_delay);
  RUN(window_fails_after_max);
  RUN(window_slides);
  RUN(window_zero_restarts_allowed);
  return test_summary();
}
