/* Unit tests for gw_queue: FIFO order, retries first, leaving from the
 * middle, the time waited summed over several waits, and admission (the
 * gateway-wide bound, the time left, the queue turned off). */
#include <stdint.h>
#include <string.h>

#include "gw_queue.h"
#include "test.h"

TEST(fifo_and_retries_first) {
  struct gw_queue q;
  struct gw_qent e[4];
  memset(e, 0, sizeof(e));
  gw_queue_init(&q);
  CHECK(gw_queue_first(&q) == NULL);
  gw_queue_push(&q, &e[0], 0, 100);
  gw_queue_push(&q, &e[1], 0, 101);
  gw_queue_push(&q, &e[2], 1, 102); /* a retry: it came before the others */
  gw_queue_push(&q, &e[3], 0, 103);
  CHECK_INT(q.n, 4);
  CHECK(e[1].queued && e[2].queued);
  CHECK_INT(e[2].since_ms, 102);
  const struct gw_qent *order[] = {&e[2], &e[0], &e[1], &e[3]};
  for (int i = 0; i < 4; i++) {
    struct gw_qent *f = gw_queue_first(&q);
    CHECK(f == order[i]);
    gw_queue_remove(&q, f, 200);
    CHECK(!f->queued);
  }
  CHECK_INT(q.n, 0);
  CHECK(gw_queue_first(&q) == NULL);
}

TEST(leave_from_the_middle) {
  struct gw_queue q;
  struct gw_qent e[3];
  memset(e, 0, sizeof(e));
  gw_queue_init(&q);
  for (int i = 0; i < 3; i++)
    gw_queue_push(&q, &e[i], 0, 10);
  CHECK_INT(gw_queue_remove(&q, &e[1], 25), 15); /* the client went away */
  CHECK_INT(q.n, 2);
  CHECK(gw_queue_first(&q) == &e[0]);
  gw_queue_remove(&q, &e[0], 30);
  CHECK(gw_queue_first(&q) == &e[2]);
}

TEST(waits_add_up) {
  struct gw_queue q;
  struct gw_qent e;
  memset(&e, 0, sizeof(e));
  gw_queue_init(&q);
  gw_queue_push(&q, &e, 0, 1000);
  CHECK_INT(gw_queue_remove(&q, &e, 1300), 300);
  /* sent, its instance died, the retry waits again */
  gw_queue_push(&q, &e, 1, 5000);
  CHECK_INT(gw_queue_remove(&q, &e, 5200), 200);
  CHECK_INT(e.waited_ms, 500);
  /* a clock that did not move (or went back) adds nothing */
  gw_queue_push(&q, &e, 0, 6000);
  CHECK_INT(gw_queue_remove(&q, &e, 5999), 0);
  CHECK_INT(e.waited_ms, 500);
}

TEST(admission) {
  uint64_t w;
  CHECK_INT(gw_queue_admit(0, 1024, 2000, 0, &w), GW_QUEUE_OK);
  CHECK_INT(w, 2000);
  /* a retry that waited 1500 ms already: 500 ms left */
  CHECK_INT(gw_queue_admit(0, 1024, 2000, 1500, &w), GW_QUEUE_OK);
  CHECK_INT(w, 500);
  CHECK_INT(gw_queue_admit(0, 1024, 2000, 2000, &w), GW_QUEUE_NO_TIME);
  CHECK_INT(w, 0);
  /* the bound is over the whole gateway */
  CHECK_INT(gw_queue_admit(1023, 1024, 2000, 0, &w), GW_QUEUE_OK);
  CHECK_INT(gw_queue_admit(1024, 1024, 2000, 0, &w), GW_QUEUE_FULL);
  CHECK_INT(gw_queue_admit(5000, 1024, 2000, 0, &w), GW_QUEUE_FULL);
  /* either setting at 0 turns the queue off */
  CHECK_INT(gw_queue_admit(0, 0, 2000, 0, &w), GW_QUEUE_OFF);
  CHECK_INT(gw_queue_admit(0, 1024, 0, 0, &w), GW_QUEUE_OFF);
}

int main(void) {
  RUN(fifo_and_retries_first);
  RUN(leave_from_the_middle);
  RUN(waits_add_up);
  RUN(admission);
  return test_summary();
}
