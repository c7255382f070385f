/* Unit tests for gw_budget: the retry budget's sliding window (10 slots of
 * one second), the floor, the ratio, and slots reused for later seconds. */
#include <stdint.h>

#include "gw_budget.h"
#include "test.h"

#define T0 UINT64_C(1000000000) /* a loop time far from 0 (ms), at a second */

static void requests(struct gw_budget *b, int n, uint64_t now) {
  for (int i = 0; i < n; i++)
    gw_budget_request(b, now);
}

/* Retries granted in a row at now (up to the first refusal, at most max). */
static int grants(struct gw_budget *b, double ratio, uint64_t now, int max) {
  int n = 0;
  while (n < max && gw_budget_retry(b, ratio, now))
    n++;
  return n;
}

TEST(floor_without_requests) {
  struct gw_budget b;
  gw_budget_init(&b);
  /* A quiet service still retries: GW_BUDGET_FLOOR per window. */
  CHECK_INT(grants(&b, 0.2, T0, 1000), GW_BUDGET_FLOOR);
  CHECK_INT(gw_budget_retry(&b, 0.2, T0 + 999), 0); /* the same second */
}

TEST(ratio_of_the_window_requests) {
  struct gw_budget b;
  uint64_t rq, rt;
  gw_budget_init(&b);
  requests(&b, 100, T0);
  /* 10 + 0.2 x 100 = 30 retries */
  CHECK_INT(grants(&b, 0.2, T0, 1000), 30);
  gw_budget_totals(&b, T0, &rq, &rt);
  CHECK_INT(rq, 100);
  CHECK_INT(rt, 30);
  /* More requests make room again: 50 more, 10 more retries. */
  requests(&b, 50, T0 + 500);
  CHECK_INT(grants(&b, 0.2, T0 + 500, 1000), 10);
}

TEST(ratio_zero_leaves_the_floor) {
  struct gw_budget b;
  gw_budget_init(&b);
  requests(&b, 100000, T0);
  CHECK_INT(grants(&b, 0, T0, 1000), GW_BUDGET_FLOOR);
}

TEST(window_slides) {
  struct gw_budget b;
  uint64_t rq, rt;
  gw_budget_init(&b);
  /* 100 requests a second for 10 s: at second 9 the window holds all 1000. */
  for (int s = 0; s < 10; s++)
    requests(&b, 100, T0 + (uint64_t)s * 1000);
  gw_budget_totals(&b, T0 + 9999, &rq, &rt);
  CHECK_INT(rq, 1000);
  CHECK_INT(grants(&b, 0.2, T0 + 9999, 1000), 10 + 200);
  /* Second 10: second 0 left the window (900 requests), the 210 retries of
   * second 9 are still in it: over 10 + 180, nothing more. */
  gw_budget_totals(&b, T0 + 10000, &rq, &rt);
  CHECK_INT(rq, 900);
  CHECK_INT(rt, 210);
  CHECK_INT(grants(&b, 0.2, T0 + 10000, 1000), 0);
  /* Second 19: seconds 0..9 are all out; only the floor. */
  gw_budget_totals(&b, T0 + 19000, &rq, &rt);
  CHECK_INT(rq, 0);
  CHECK_INT(rt, 0);
  CHECK_INT(grants(&b, 0.2, T0 + 19000, 1000), GW_BUDGET_FLOOR);
}

TEST(only_past_seconds_count) {
  struct gw_budget b;
  uint64_t rq, rt;
  gw_budget_init(&b);
  requests(&b, 100, T0 + 5000);
  /* Counts of a later second (a clock that went back) are not seen. */
  gw_budget_totals(&b, T0, &rq, &rt);
  CHECK_INT(rq, 0);
  gw_budget_totals(&b, T0 + 14999, &rq, &rt);
  CHECK_INT(rq, 100);
  gw_budget_totals(&b, T0 + 15000, &rq, &rt);
  CHECK_INT(rq, 0);
}

TEST(slot_reused_for_a_later_second) {
  struct gw_budget b;
  uint64_t rq, rt;
  gw_budget_init(&b);
  requests(&b, 500, T0);
  /* Exactly 10 s later the same slot counts a new second: the old counts go. */
  gw_budget_request(&b, T0 + 10000);
  gw_budget_totals(&b, T0 + 10000, &rq, &rt);
  CHECK_INT(rq, 1);
  /* Long after (an idle service): nothing left in the window. */
  gw_budget_totals(&b, T0 + 3600000, &rq, &rt);
  CHECK_INT(rq, 0);
  CHECK_INT(rt, 0);
  CHECK_INT(grants(&b, 0.2, T0 + 3600000, 1000), GW_BUDGET_FLOOR);
}

int main(void) {
  RUN(floor_without_requests);
  RUN(ratio_of_the_window_requests);
  RUN(ratio_zero_leaves_the_floor);
  RUN(window_slides);
  RUN(only_past_seconds_count);
  RUN(slot_reused_for_a_later_second);
  return test_summary();
}
