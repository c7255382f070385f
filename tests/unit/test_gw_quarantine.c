/* Unit tests for gw_quarantine: keys (method and path, any length),
 * deaths and answers recorded, quarantines made, extended, listed and
 * lifted when they end, entries forgotten after GW_QUAR_TRACK_MS, the
 * bound of GW_QUAR_MAX entries (the oldest death goes), and clearing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_quarantine.h"
#include "test.h"

#define T0 UINT64_C(5000000)

#define P(s) s, strlen(s) /* a path and its length */

TEST(empty_table_answers_nothing) {
  struct gw_quar q;
  gw_quar_init(&q);
  CHECK_INT(gw_quar_left(&q, "GET", P("/x"), T0), 0);
  CHECK(gw_quar_find(&q, "GET", P("/x")) == NULL);
  CHECK(!gw_quar_answered_since(&q, "GET", P("/x"), 0));
  gw_quar_answered(&q, "GET", P("/x"), T0); /* no entry: nothing made */
  CHECK_INT(q.n, 0);
  CHECK(gw_quar_next(&q, NULL) == NULL);
  gw_quar_free(&q);
}

TEST(deaths_and_answers) {
  struct gw_quar q;
  gw_quar_init(&q);
  CHECK_INT(gw_quar_died(&q, "GET", P("/dummy/sleep"), T0), 0);
  CHECK_INT(q.n, 1);
  CHECK_INT(q.nquar, 0);
  /* not answered yet */
  CHECK(!gw_quar_answered_since(&q, "GET", P("/dummy/sleep"), T0));
  gw_quar_answered(&q, "GET", P("/dummy/sleep"), T0 + 3);
  CHECK(gw_quar_answered_since(&q, "GET", P("/dummy/sleep"), T0));
  CHECK(gw_quar_answered_since(&q, "GET", P("/dummy/sleep"), T0 + 3));
  CHECK(!gw_quar_answered_since(&q, "GET", P("/dummy/sleep"), T0 + 4));
  /* the key is method and path: another method, a prefix, a longer path */
  CHECK(!gw_quar_answered_since(&q, "HEAD", P("/dummy/sleep"), 0));
  CHECK(!gw_quar_answered_since(&q, "GET", P("/dummy/slee"), 0));
  CHECK(!gw_quar_answered_since(&q, "GET", P("/dummy/sleep/"), 0));
  CHECK(!gw_quar_answered_since(&q, "GETX", P("/dummy/sleep"), 0));
  /* a second death of the same path: still one entry */
  gw_quar_died(&q, "GET", P("/dummy/sleep"), T0 + 10);
  CHECK_INT(q.n, 1);
  CHECK_INT(gw_quar_find(&q, "GET", P("/dummy/sleep"))->died_ms, T0 + 10);
  gw_quar_free(&q);
}

TEST(quarantine_made_extended_listed_lifted) {
  struct gw_quar q;
  gw_quar_init(&q);
  gw_quar_died(&q, "GET", P("/crash"), T0);
  CHECK_INT(gw_quar_add(&q, "GET", P("/crash"), T0, T0 + 30000), 1);
  CHECK_INT(q.nquar, 1);
  CHECK_INT(gw_quar_left(&q, "GET", P("/crash"), T0 + 1000), 29000);
  CHECK_INT(gw_quar_left(&q, "POST", P("/crash"), T0 + 1000), 0);
  /* extended: not a new one */
  CHECK_INT(gw_quar_add(&q, "GET", P("/crash"), T0 + 5000, T0 + 35000), 0);
  CHECK_INT(q.nquar, 1);
  CHECK_INT(gw_quar_left(&q, "GET", P("/crash"), T0 + 5000), 30000);
  /* a second one, made without a death first */
  CHECK_INT(gw_quar_add(&q, "DELETE", P("/hang"), T0, T0 + 10000), 1);
  CHECK_INT(q.n, 2);
  int listed = 0;
  for (const struct gw_quar_entry *e = NULL; (e = gw_quar_next(&q, e)) != NULL;)
    listed++;
  CHECK_INT(listed, 2);
  /* at its end the shorter one is lifted, the other stays */
  CHECK_INT(gw_quar_left(&q, "DELETE", P("/hang"), T0 + 10000), 0);
  CHECK_INT(q.nquar, 1);
  CHECK_INT(q.n, 2); /* still watched */
  CHECK_INT(gw_quar_left(&q, "GET", P("/crash"), T0 + 10000), 25000);
  const struct gw_quar_entry *e = gw_quar_next(&q, NULL);
  CHECK(e != NULL && gw_quar_next(&q, e) == NULL);
  CHECK_STR(e->key, "GET");
  CHECK_STR(e->key + e->mlen + 1, "/crash");
  /* another path's lookup lifts what ended too */
  CHECK_INT(gw_quar_left(&q, "GET", P("/other"), T0 + 35000), 0);
  CHECK_INT(q.nquar, 0);
  CHECK(gw_quar_next(&q, NULL) == NULL);
  gw_quar_free(&q);
}

TEST(expire_lifts_every_ended_one) {
  struct gw_quar q;
  gw_quar_init(&q);
  gw_quar_add(&q, "GET", P("/a"), T0, T0 + 100);
  gw_quar_add(&q, "GET", P("/b"), T0, T0 + 300);
  gw_quar_add(&q, "GET", P("/c"), T0, T0 + 200);
  CHECK_INT(q.next_expiry, T0 + 100);
  gw_quar_expire(&q, T0 + 250);
  CHECK_INT(q.nquar, 1);
  CHECK_INT(q.next_expiry, T0 + 300);
  CHECK(gw_quar_left(&q, "GET", P("/b"), T0 + 250) == 50);
  gw_quar_free(&q);
}

TEST(forgotten_after_the_track_time) {
  struct gw_quar q;
  gw_quar_init(&q);
  gw_quar_died(&q, "GET", P("/old"), T0);
  gw_quar_died(&q, "GET", P("/kept"), T0 + 1000);
  gw_quar_add(&q, "GET", P("/quarantined"), T0, T0 + 10 * GW_QUAR_TRACK_MS);
  /* A new entry sweeps those past GW_QUAR_TRACK_MS since their death,
   * unless quarantined. */
  gw_quar_died(&q, "GET", P("/new"), T0 + GW_QUAR_TRACK_MS + 500);
  CHECK(gw_quar_find(&q, "GET", P("/old")) == NULL);
  CHECK(gw_quar_find(&q, "GET", P("/kept")) != NULL);
  CHECK(gw_quar_find(&q, "GET", P("/quarantined")) != NULL);
  CHECK_INT(q.n, 3);
  gw_quar_free(&q);
}

TEST(bounded_oldest_death_goes) {
  struct gw_quar q;
  char path[32];
  gw_quar_init(&q);
  for (int i = 0; i < GW_QUAR_MAX + 5; i++) {
    snprintf(path, sizeof(path), "/p%d", i);
    CHECK_INT(gw_quar_died(&q, "GET", P(path), T0 + (uint64_t)i), 0);
    if (i == 2)
      gw_quar_died(&q, "GET", P("/p0"), T0 + 3); /* /p0 died again: now recent */
  }
  /* Five went, by last death: /p1, /p2, /p0 (refreshed after /p2), /p3, /p4. */
  CHECK_INT(q.n, GW_QUAR_MAX);
  CHECK(gw_quar_find(&q, "GET", P("/p0")) == NULL);
  CHECK(gw_quar_find(&q, "GET", P("/p1")) == NULL);
  CHECK(gw_quar_find(&q, "GET", P("/p4")) == NULL);
  CHECK(gw_quar_find(&q, "GET", P("/p5")) != NULL);
  snprintf(path, sizeof(path), "/p%d", GW_QUAR_MAX + 4);
  CHECK(gw_quar_find(&q, "GET", P(path)) != NULL);
  gw_quar_free(&q);
}

TEST(recent_death_outlives_older_ones) {
  struct gw_quar q;
  char path[32];
  gw_quar_init(&q);
  gw_quar_died(&q, "GET", P("/first"), T0);
  for (int i = 0; i < GW_QUAR_MAX - 1; i++) {
    snprintf(path, sizeof(path), "/q%d", i);
    gw_quar_died(&q, "GET", P(path), T0 + 1);
  }
  gw_quar_died(&q, "GET", P("/first"), T0 + 2); /* refreshed: the newest */
  gw_quar_died(&q, "GET", P("/one-more"), T0 + 3);
  CHECK_INT(q.n, GW_QUAR_MAX);
  CHECK(gw_quar_find(&q, "GET", P("/first")) != NULL);
  CHECK(gw_quar_find(&q, "GET", P("/q0")) == NULL);
  gw_quar_free(&q);
}

TEST(long_paths_and_clear) {
  struct gw_quar q;
  size_t n = 16384;
  char *a = malloc(n), *b = malloc(n);
  memset(a, 'a', n);
  memcpy(b, a, n);
  b[n - 1] = 'b';
  gw_quar_init(&q);
  gw_quar_add(&q, "GET", a, n, T0, T0 + 1000);
  CHECK(gw_quar_left(&q, "GET", a, n, T0) == 1000);
  CHECK(gw_quar_left(&q, "GET", b, n, T0) == 0);
  CHECK(gw_quar_left(&q, "GET", a, n - 1, T0) == 0);
  gw_quar_clear(&q);
  CHECK_INT(q.n, 0);
  CHECK_INT(q.nquar, 0);
  CHECK(gw_quar_left(&q, "GET", a, n, T0) == 0);
  /* usable again after a clear */
  gw_quar_add(&q, "GET", b, n, T0, T0 + 1000);
  CHECK(gw_quar_left(&q, "GET", b, n, T0 + 1) == 999);
  gw_quar_free(&q);
  free(a);
  free(b);
}

int main(void) {
  RUN(empty_table_answers_nothing);
  RUN(deaths_and_answers);
  RUN(quarantine_made_extended_listed_lifted);
  RUN(expire_lifts_every_ended_one);
  RUN(forgotten_after_the_track_time);
  RUN(bounded_oldest_death_goes);
  RUN(recent_death_outlives_older_ones);
  RUN(long_paths_and_clear);
  return test_summary();
}
