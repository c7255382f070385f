/* Unit tests for gw_balance: least in-flight, round-robin among ties,
 * unusable and full instances skipped; ip_hash's rendezvous hashing. */
#include <stdint.h>
#include <stdio.h>

#include "gw_balance.h"
#include "test.h"

#define MAX 10

static size_t pick(const struct gw_cand *c, size_t n, size_t *cursor, int *full) {
  *full = -1; /* it must always be set */
  return gw_balance_pick(c, n, MAX, cursor, full);
}

TEST(least_inflight_wins) {
  struct gw_cand c[] = {{3, 1}, {1, 1}, {2, 1}, {5, 1}};
  size_t cursor = 0;
  int full;
  CHECK_INT(pick(c, 4, &cursor, &full), 1);
  CHECK_INT(full, 0);
  CHECK_INT(cursor, 2); /* just past the one picked */
  /* Wherever the search starts. */
  for (size_t start = 0; start < 4; start++) {
    cursor = start;
    CHECK_INT(pick(c, 4, &cursor, &full), 1);
  }
}

TEST(ties_rotate) {
  struct gw_cand c[] = {{2, 1}, {2, 1}, {2, 1}};
  size_t cursor = 0;
  int full;
  CHECK_INT(pick(c, 3, &cursor, &full), 0);
  CHECK_INT(pick(c, 3, &cursor, &full), 1);
  CHECK_INT(pick(c, 3, &cursor, &full), 2);
  CHECK_INT(pick(c, 3, &cursor, &full), 0);
}

TEST(ties_rotate_over_every_usable) {
  /* Equal loads, some unusable: n picks in a row visit each usable once. */
  struct gw_cand c[7] = {{0, 1}, {0, 0}, {0, 1}, {0, 1}, {0, 0}, {0, 0}, {0, 1}};
  size_t cursor = 5;
  int seen[7] = {0}, full;
  for (int k = 0; k < 4; k++) {
    size_t i = pick(c, 7, &cursor, &full);
    CHECK(i < 7);
    if (i < 7)
      seen[i]++;
  }
  for (int i = 0; i < 7; i++)
    CHECK_INT(seen[i], c[i].usable);
}

TEST(ties_among_the_least_only) {
  /* The two at 1 alternate; the one at 0 is always picked while it is. */
  struct gw_cand c[] = {{1, 1}, {4, 1}, {1, 1}};
  size_t cursor = 0;
  int full;
  CHECK_INT(pick(c, 3, &cursor, &full), 0);
  CHECK_INT(pick(c, 3, &cursor, &full), 2);
  CHECK_INT(pick(c, 3, &cursor, &full), 0);
  c[1].inflight = 0;
  CHECK_INT(pick(c, 3, &cursor, &full), 1);
  CHECK_INT(pick(c, 3, &cursor, &full), 1);
}

TEST(as_requests_arrive) {
  /* Each pick takes a request: loads stay level across the instances. */
  struct gw_cand c[4] = {{0, 1}, {0, 1}, {0, 1}, {0, 1}};
  size_t cursor = 0;
  int full;
  for (int k = 0; k < 40; k++) {
    size_t i = pick(c, 4, &cursor, &full);
    CHECK(i < 4);
    if (i < 4)
      c[i].inflight++;
  }
  for (int i = 0; i < 4; i++)
    CHECK_INT(c[i].inflight, 10);
  /* Every one at max now: none, and it says why. */
  CHECK(pick(c, 4, &cursor, &full) == GW_BALANCE_NONE);
  CHECK_INT(full, 1);
}

TEST(unusable_skipped) {
  struct gw_cand c[] = {{0, 0}, {5, 1}, {0, 0}};
  size_t cursor = 0;
  int full;
  CHECK_INT(pick(c, 3, &cursor, &full), 1);
  CHECK_INT(pick(c, 3, &cursor, &full), 1);
  CHECK_INT(full, 0);
}

TEST(max_inflight_is_none_and_full) {
  struct gw_cand c[] = {{MAX, 1}, {MAX + 3, 1}};
  size_t cursor = 1;
  int full;
  CHECK(pick(c, 2, &cursor, &full) == GW_BALANCE_NONE);
  CHECK_INT(full, 1);
  CHECK_INT(cursor, 1); /* untouched when none */
  /* One below max is still taken. */
  c[1].inflight = MAX - 1;
  CHECK_INT(pick(c, 2, &cursor, &full), 1);
}

TEST(full_only_counts_usable) {
  /* At max but unusable (draining): not "full", just nothing to pick. */
  struct gw_cand c[] = {{MAX, 0}, {0, 0}};
  size_t cursor = 0;
  int full;
  CHECK(pick(c, 2, &cursor, &full) == GW_BALANCE_NONE);
  CHECK_INT(full, 0);
}

TEST(none_usable_is_not_full) {
  struct gw_cand c[] = {{0, 0}, {0, 0}, {0, 0}};
  size_t cursor = 2;
  int full;
  CHECK(pick(c, 3, &cursor, &full) == GW_BALANCE_NONE);
  CHECK_INT(full, 0);
  CHECK_INT(cursor, 2);
  CHECK(pick(c, 0, &cursor, &full) == GW_BALANCE_NONE); /* no instances at all */
  CHECK_INT(full, 0);
}

TEST(max_zero_takes_nothing) {
  struct gw_cand c[] = {{0, 1}};
  size_t cursor = 0;
  int full;
  CHECK(gw_balance_pick(c, 1, 0, &cursor, &full) == GW_BALANCE_NONE);
  CHECK_INT(full, 1);
}

TEST(cursor_beyond_n) {
  /* Instances were removed since the cursor moved: it wraps. */
  struct gw_cand c[] = {{0, 1}, {0, 1}, {0, 1}};
  size_t cursor = 7; /* 7 % 3 = 1 */
  int full;
  CHECK_INT(pick(c, 3, &cursor, &full), 1);
  CHECK_INT(cursor, 2);
  cursor = 3; /* just past the last: where a pick of the last leaves it */
  CHECK_INT(pick(c, 3, &cursor, &full), 0);
  c[0].usable = 0;
  cursor = 30; /* 30 % 3 = 0, unusable: on to 1 */
  CHECK_INT(pick(c, 3, &cursor, &full), 1);
}

TEST(ip_hash_keeps_a_client_on_its_instance) {
  /* One key, one instance, whatever the load; 1,000 keys spread over four
   * instances; an instance that goes takes only its own keys elsewhere,
   * and they come back when it does. */
  struct gw_cand c[4] = {{0, 1}, {0, 1}, {0, 1}, {0, 1}};
  size_t home[1000], per[4] = {0};
  int full;
  char addr[32];
  for (size_t k = 0; k < 1000; k++) {
    snprintf(addr, sizeof(addr), "10.0.%zu.%zu", k / 250, k % 250);
    home[k] = gw_balance_pick_hash(c, 4, 100000, gw_balance_key(addr), &full);
    CHECK(home[k] < 4 && !full);
    per[home[k]]++;
    c[home[k]].inflight += 7; /* load does not move it */
    CHECK_INT(gw_balance_pick_hash(c, 4, 100000, gw_balance_key(addr), &full), home[k]);
  }
  for (size_t i = 0; i < 4; i++)
    CHECK(per[i] > 180 && per[i] < 320); /* about 250 each */
  for (size_t i = 0; i < 4; i++)
    c[i].inflight = 0;
  c[2].usable = 0;
  for (size_t k = 0; k < 1000; k++) {
    snprintf(addr, sizeof(addr), "10.0.%zu.%zu", k / 250, k % 250);
    size_t now = gw_balance_pick_hash(c, 4, 100, gw_balance_key(addr), &full);
    CHECK(home[k] == 2 ? now != 2 && now < 4 : now == home[k]);
  }
  c[2].usable = 1;
  CHECK_INT(gw_balance_pick_hash(c, 4, 100, gw_balance_key("10.0.0.0"), &full), home[0]);
}

TEST(ip_hash_waits_for_a_full_instance) {
  /* Its instance at max: none (the request waits for it), full said. */
  struct gw_cand c[2] = {{0, 1}, {0, 1}};
  int full;
  uint64_t key = gw_balance_key("127.0.0.1");
  size_t home = gw_balance_pick_hash(c, 2, 4, key, &full);
  CHECK(home < 2);
  c[home].inflight = 4;
  CHECK(gw_balance_pick_hash(c, 2, 4, key, &full) == GW_BALANCE_NONE && full);
  c[0].usable = c[1].usable = 0;
  CHECK(gw_balance_pick_hash(c, 2, 4, key, &full) == GW_BALANCE_NONE && !full);
  CHECK(gw_balance_pick_hash(c, 0, 4, key, &full) == GW_BALANCE_NONE && !full);
  CHECK(gw_balance_key("127.0.0.1") != gw_balance_key("127.0.0.2"));
}

int main(void) {
  RUN(least_inflight_wins);
  RUN(ties_rotate);
  RUN(ties_rotate_over_every_usable);
  RUN(ties_among_the_least_only);
  RUN(as_requests_arrive);
  RUN(unusable_skipped);
  RUN(max_inflight_is_none_and_full);
  RUN(full_only_counts_usable);
  RUN(none_usable_is_not_full);
  RUN(max_zero_takes_nothing);
  RUN(cursor_beyond_n);
  RUN(ip_hash_keeps_a_client_on_its_instance);
  RUN(ip_hash_waits_for_a_full_instance);
  return test_summary();
}
