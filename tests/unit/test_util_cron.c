/* Unit tests for util_cron: crontab(5) fields, their errors, and the next
 * minute that matches (in UTC, then across Berlin's DST changes). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "util_cron.h"

/* The UTC time of "YYYY-MM-DD HH:MM". */
static time_t utc(int y, int mo, int d, int h, int mi) {
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
  return timegm(&tm);
}

static time_t next(const char *expr, time_t after) {
  struct util_cron c;
  char why[200];
  if (util_cron_parse(expr, &c, why, sizeof(why)) != 0) {
    printf("  %s: %s\n", expr, why);
    return (time_t)-2;
  }
  return util_cron_next(&c, after);
}

static const char *error_of(const char *expr) {
  static char why[200];
  struct util_cron c;
  why[0] = '\0';
  return util_cron_parse(expr, &c, why, sizeof(why)) == 0 ? "(parsed)" : why;
}

TEST(next_in_utc) {
  setenv("TZ", "UTC", 1);
  tzset();
  time_t now = utc(2026, 12, 3, 18, 7); /* a Thursday */
  CHECK(next("0 3 * * *", now) == utc(2026, 12, 4, 3, 0));
  CHECK(next("*/15 * * * *", now) == utc(2026, 12, 3, 18, 15));
  CHECK(next("7 18 * * *", now) == utc(2026, 12, 4, 18, 7)); /* strictly after */
  CHECK(next("0 0 29 2 *", now) == utc(2028, 2, 29, 0, 0));
  CHECK(next("0 0 30 2 *", now) == (time_t)-1);             /* never */
  CHECK(next("0 0 13 * 5", now) == utc(2026, 12, 4, 0, 0)); /* the 13th or a Friday */
  CHECK(next("0 0 13 * *", now) == utc(2026, 12, 13, 0, 0));
  CHECK(next("@weekly", now) == utc(2026, 12, 6, 0, 0));   /* Sunday */
  CHECK(next("0 0 * * 7", now) == utc(2026, 12, 6, 0, 0)); /* 7 is Sunday too */
  CHECK(next("@hourly", now) == utc(2026, 12, 3, 19, 0));
  CHECK(next("30 4 1 jan,Jul *", now) == utc(2027, 1, 1, 4, 30));
  CHECK(next("0 9-17/4 * * mon-fri", now) == utc(2026, 12, 4, 9, 0));
  CHECK(next("5/20 * * * *", now) == utc(2026, 12, 3, 18, 25));
  CHECK(next("0 0 31 * *", utc(2026, 11, 15, 0, 0)) == utc(2026, 12, 31, 0, 0));
  /* six fields: the second first, as PM2 takes them */
  CHECK(next("*/2 * * * * *", now) == now + 2);
  CHECK(next("30 0 3 * * *", now) == utc(2026, 12, 4, 3, 0) + 30);
  CHECK(next("0 3 * * *", utc(2026, 12, 4, 3, 0) - 1) == utc(2026, 12, 4, 3, 0));
}

TEST(next_across_dst) {
  if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) != 0) {
    printf("  no /usr/share/zoneinfo/Europe/Berlin (tzdata): the DST cases are left out\n");
    return;
  }
  setenv("TZ", "Europe/Berlin", 1);
  tzset();
  /* 2026-03-29: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day */
  time_t t = next("30 2 * * *", utc(2026, 3, 28, 12, 0));
  CHECK(t == utc(2026, 3, 30, 0, 30)); /* 02:30 CEST of the 30th */
  /* 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 comes twice: once */
  t = next("30 2 * * *", utc(2026, 10, 24, 12, 0));
  CHECK(t == utc(2026, 10, 25, 0, 30)); /* the first, in CEST */
  CHECK(next("30 2 * * *", t) == utc(2026, 10, 26, 1, 30));
  setenv("TZ", "UTC", 1);
  tzset();
}

TEST(errors_name_the_field) {
  CHECK_STR(error_of("* * * *"), "4 fields; five are needed: minute hour day month weekday");
  CHECK_STR(error_of(""), "0 fields; five are needed: minute hour day month weekday");
  CHECK_STR(error_of("* * * * * * *"),
            "more than six fields ([second] minute hour day month weekday)");
  CHECK_STR(error_of("60 * * * * *"),
            "second \"60\": each part must be *, 0-59, a range a-b, a step /n");
  CHECK_STR(error_of("60 * * * *"),
            "minute \"60\": each part must be *, 0-59, a range a-b, a step /n");
  CHECK_STR(error_of("* * 0 * *"),
            "day of month \"0\": each part must be *, 1-31, a range a-b, a step /n");
  CHECK_STR(error_of("* * * foo *"),
            "month \"foo\": each part must be *, 1-12 or a name, a range a-b, a step /n");
  CHECK_STR(error_of("* 5-3 * * *"),
            "hour \"5-3\": each part must be *, 0-23, a range a-b, a step /n");
  CHECK_STR(error_of("*/0 * * * *"),
            "minute \"*/0\": each part must be *, 0-59, a range a-b, a step /n");
  CHECK_STR(error_of("1,,2 * * * *"),
            "minute \"1,,2\": each part must be *, 0-59, a range a-b, a step /n");
  CHECK_STR(error_of("@reboot"),
            "\"@reboot\" is not one of @yearly, @monthly, @weekly, @daily, @hourly");
  CHECK_STR(error_of("  0  3 * * *  "), "(parsed)");
}

TEST(star_with_a_step_restricts) {
  struct util_cron c;
  char why[100];
  /* "*" alone is every day: the weekday decides; "*" with a step does not */
  CHECK(util_cron_parse("0 0 * * 1", &c, why, sizeof(why)) == 0 && c.day_star && !c.weekday_star);
  CHECK(util_cron_parse("0 0 */2 * 1", &c, why, sizeof(why)) == 0 && !c.day_star);
  CHECK(c.days == 0xAAAAAAAAu); /* 1, 3, 5, ... 31 */
  CHECK(c.weekdays == 0x02);
}

int main(void) {
  RUN(next_in_utc);
  RUN(next_across_dst);
  RUN(errors_name_the_field);
  RUN(star_with_a_step_restricts);
  return test_summary();
}
