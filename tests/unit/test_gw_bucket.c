/* Unit tests for gw_bucket: per-client token buckets in a bounded table. */
#include <string.h>
#include <stdio.h>

#include "gw_bucket.h"
#include "test.h"

static struct util_ip ip(const char *text) {
  struct util_ip a;
  if (util_ip_parse(text, strlen(text), &a) != 0)
    memset(&a, 0, sizeof(a));
  return a;
}

static int take(struct gw_buckets *b, const char *client, uint64_t now, uint64_t *retry) {
  struct util_ip a = ip(client);
  return gw_buckets_take(b, &a, now, retry);
}

TEST(burst_then_rate) {
  struct gw_buckets b;
  uint64_t retry = 0;
  CHECK_INT(gw_buckets_init(&b, 16, 2, 3, 1), 0); /* 2 a second, 3 at once */
  for (int i = 0; i < 3; i++)
    CHECK_INT(take(&b, "10.0.0.1", 1000, &retry), 1);
  CHECK_INT(take(&b, "10.0.0.1", 1000, &retry), 0);
  CHECK(retry == 500); /* one token every 500 ms */
  CHECK_INT(take(&b, "10.0.0.1", 1499, &retry), 0);
  CHECK(retry == 1);
  CHECK_INT(take(&b, "10.0.0.1", 1500, &retry), 1);
  CHECK_INT(take(&b, "10.0.0.2", 1500, &retry), 1); /* another client: its own bucket */
  CHECK_INT(take(&b, "10.0.0.1", 1000000, &retry), 1);
  CHECK_INT(take(&b, "10.0.0.1", 1000000, &retry), 1);
  CHECK_INT(take(&b, "10.0.0.1", 1000000, &retry), 1); /* refilled to the burst, no more */
  CHECK_INT(take(&b, "10.0.0.1", 1000000, &retry), 0);
  gw_buckets_free(&b);
}

TEST(slow_rates) {
  struct gw_buckets b;
  uint64_t retry = 0;
  CHECK_INT(gw_buckets_init(&b, 4, 0.5, 1, 1), 0); /* one every 2 s */
  CHECK_INT(take(&b, "::1", 0, &retry), 1);
  CHECK_INT(take(&b, "::1", 100, &retry), 0);
  CHECK(retry == 1900);
  CHECK_INT(take(&b, "::1", 2000, &retry), 1);
  gw_buckets_free(&b);
}

TEST(ipv6_by_slash_64) {
  struct gw_buckets b;
  uint64_t retry = 0;
  CHECK_INT(gw_buckets_init(&b, 64, 1, 2, 7), 0);
  CHECK_INT(take(&b, "2001:db8:1:2::1", 0, &retry), 1);
  CHECK_INT(take(&b, "2001:db8:1:2:ffff::9", 0, &retry), 1); /* the same /64 */
  CHECK_INT(take(&b, "2001:db8:1:2::3", 0, &retry), 0);
  CHECK_INT(take(&b, "2001:db8:1:3::1", 0, &retry), 1); /* the next /64 */
  CHECK_INT(take(&b, "::ffff:10.0.0.1", 0, &retry), 1); /* mapped: the IPv4 client */
  CHECK_INT(take(&b, "10.0.0.1", 0, &retry), 1);
  CHECK_INT(take(&b, "10.0.0.1", 0, &retry), 0);
  gw_buckets_free(&b);
}

TEST(bounded_table_evicts_least_recent) {
  struct gw_buckets b;
  char name[32];
  uint64_t retry = 0;
  CHECK_INT(gw_buckets_init(&b, 8, 1, 1, 3), 0); /* 2 sets of 4 */
  CHECK(b.nsets == 2);
  for (int i = 0; i < 1000; i++) {
    snprintf(name, sizeof(name), "10.1.%d.%d", i / 256, i % 256);
    CHECK_INT(take(&b, name, (uint64_t)i, &retry), 1); /* a new client: a full bucket */
  }
  CHECK(b.evicted == 1000 - 8);
  CHECK_INT(take(&b, "10.1.3.231", 1000, &retry), 0); /* the last one is still known */
  gw_buckets_free(&b);
}

TEST(clock_going_back) {
  struct gw_buckets b;
  uint64_t retry = 0;
  CHECK_INT(gw_buckets_init(&b, 4, 1, 1, 1), 0);
  CHECK_INT(take(&b, "10.0.0.1", 5000, &retry), 1);
  CHECK_INT(take(&b, "10.0.0.1", 1000, &retry), 0); /* no refill from the past */
  CHECK(retry == 1000);
  CHECK_INT(take(&b, "10.0.0.1", 6000, &retry), 1);
  gw_buckets_free(&b);
}

int main(void) {
  RUN(burst_then_rate);
  RUN(slow_rates);
  RUN(ipv6_by_slash_64);
  RUN(bounded_table_evicts_least_recent);
  RUN(clock_going_back);
  return test_summary();
}
