/* fuzz_cron — the cron expressions of services[].cron_restart
 * (util_cron_parse, util_cron_next), in UTC.
 *
 * Checks: nothing crashes or reads past the text; a parsed expression
 * has at least one value in each field; and util_cron_next agrees with a
 * plain search (util_cron_match on every second, or every minute when
 * only second 0 matches) over the next hours: the first match there is
 * what it returns, and with none there it returns a later time that
 * matches, or -1. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz.h"
#include "util_cron.h"

#define START ((time_t)1796307600) /* 2026-12-03 14:20 UTC, a Thursday */
#define WINDOW_MINUTES (3 * 86400) /* seconds searched a minute at a time */
#define WINDOW_SECONDS (6 * 3600)  /* seconds searched one by one */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int tz_set;
  struct util_cron c;
  char why[200];
  if (!tz_set) {
    setenv("TZ", "UTC", 1);
    tzset();
    tz_set = 1;
  }
  char *text = malloc(size + 1);
  FUZZ_CHECK(text != NULL, "out of memory");
  memcpy(text, data, size);
  text[size] = '\0';
  int rc = util_cron_parse(text, &c, why, sizeof(why));
  free(text);
  if (rc != 0) {
    FUZZ_CHECK(why[0] != '\0', "a refusal without a reason");
    return 0;
  }
  FUZZ_CHECK(c.seconds && c.minutes && c.hours && c.days && c.months && c.weekdays,
             "an empty field");
  FUZZ_CHECK((c.seconds >> 60) == 0 && (c.minutes >> 60) == 0 && (c.hours >> 24) == 0 &&
                 (c.days & 1) == 0 && (c.months & 1) == 0 && (c.months >> 13) == 0 &&
                 (c.weekdays >> 7) == 0,
             "a value out of range");
  time_t after = START + (time_t)(fuzz_hash(data, size) % 86400);
  time_t got = util_cron_next(&c, after), want = (time_t)-1;
  struct tm tm;
  time_t window = c.seconds == 1 ? WINDOW_MINUTES : WINDOW_SECONDS;
  for (time_t t = after + 1; t <= after + window; t += c.seconds == 1 && t % 60 == 0 ? 60 : 1) {
    gmtime_r(&t, &tm);
    if (util_cron_match(&c, &tm)) {
      want = t;
      break;
    }
  }
  if (want != (time_t)-1) {
    FUZZ_CHECK(got == want, "next %lld, the search found %lld", (long long)got, (long long)want);
  } else if (got != (time_t)-1) {
    gmtime_r(&got, &tm);
    FUZZ_CHECK(got > after + window && util_cron_match(&c, &tm),
               "next %lld after %lld does not match", (long long)got, (long long)after);
  }
  return 0;
}
