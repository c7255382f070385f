/* util_cron — the cron expressions of services[].cron_restart (PM2's
 * cron_restart): five fields, minute hour day-of-month month day-of-week,
 * as crontab(5) writes them, or six with the second first, as PM2 takes
 * them; read in muster's local time zone. Pure: unit-tested and fuzzed
 * (fuzz_cron) against a second-by-second search.
 *
 *   field     values      names
 *   second    0-59        (only with six fields; five: second 0)
 *   minute    0-59
 *   hour      0-23
 *   day       1-31
 *   month     1-12        jan..dec
 *   weekday   0-7         sun..sat (0 and 7 are Sunday)
 *
 * Each field is "*", a number, a range "a-b", one of those followed by a
 * step "/n" (every n-th value of it; a number with a step runs from it
 * to the field's end), or a list of those separated by commas.
 * "@yearly" (or "@annually"), "@monthly", "@weekly", "@daily" (or
 * "@midnight") and "@hourly" stand for their usual five fields. As in
 * Vixie cron, when both the day of month and the weekday are restricted
 * (neither is "*"), a day matching either one matches. */
#ifndef MUSTER_UTIL_CRON_H
#define MUSTER_UTIL_CRON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct util_cron {
  uint64_t seconds;          /* bit s: second s (five fields: second 0 only) */
  uint64_t minutes;          /* bit m: minute m */
  uint32_t hours;            /* bit h */
  uint32_t days;             /* bit d: day of month d (1..31) */
  uint16_t months;           /* bit m: month m (1..12) */
  uint8_t weekdays;          /* bit w: weekday w (0 = Sunday .. 6) */
  unsigned day_star : 1;     /* the day of month was "*" */
  unsigned weekday_star : 1; /* the weekday was "*" */
};

/* Parses text into *c. Returns 0, or -1 with why filled (naming the
 * field and what is wrong with it). */
int util_cron_parse(const char *text, struct util_cron *c, char *why, size_t cap);

/* 1 when the local time tm (its second, minute, hour, day, month,
 * weekday) matches c. */
int util_cron_match(const struct util_cron *c, const struct tm *tm);

/* The first second after `after` (local time) that c matches, or
 * (time_t)-1 when none comes within about five years (a February 30th).
 * Around a change of daylight saving time, a time that does not exist is
 * passed over, and one that occurs twice matches at most once. */
time_t util_cron_next(const struct util_cron *c, time_t after);

#endif
