/* util_cron — crontab(5) expressions. See util_cron.h. */
#include "util_cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NEXT_STEPS 100000 /* field advances before next() gives up (5+ years) */

struct field {
  const char *name;
  int lo, hi;
  const char *const *names; /* value lo + i is names[i], or NULL */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct field fields[6] = {
    {"second", 0, 59, NULL},       {"minute", 0, 59, NULL},       {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL}, {"month", 1, 12, month_names}, {"day of week", 0, 7, day_names}};

static const struct {
  const char *word, *fields;
} macros[] = {{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
              {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
              {"@hourly", "0 * * * *"}};

/* A value of f at *p (a number, or a name), *p moved past it. Returns 0
 * or -1. */
static int value(const struct field *f, const char **p, int *out) {
  const char *s = *p;
  if (isdigit((unsigned char)*s)) {
    long v = 0;
    while (isdigit((unsigned char)*s) && v < 1000)
      v = v * 10 + (*s++ - '0');
    if (v < f->lo || v > f->hi)
      return -1;
    *out = (int)v;
    *p = s;
    return 0;
  }
  for (int i = 0; f->names && f->names[i]; i++) {
    if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
      *out = f->lo + i;
      *p = s + 3;
      return 0;
    }
  }
  return -1;
}

/* One element of a list at *p ("*", "a", "a-b", each maybe "/n") into
 * *bits. Returns 0 or -1. */
static int element(const struct field *f, const char **p, uint64_t *bits, int *star) {
  int a = f->lo, b = f->hi, step = 1;
  if (**p == '*') {
    ++*p;
    *star = **p != '/';
  } else {
    if (value(f, p, &a) != 0)
      return -1;
    b = a;
    if (**p == '-') {
      ++*p;
      if (value(f, p, &b) != 0 || b < a)
        return -1;
    } else if (**p == '/') {
      b = f->hi; /* "a/n": from a to the end */
    }
  }
  if (**p == '/') {
    const char *s = ++*p;
    long n = 0;
    while (isdigit((unsigned char)*s) && n <= f->hi)
      n = n * 10 + (*s++ - '0');
    if (s == *p || n < 1 || n > f->hi)
      return -1;
    step = (int)n;
    *p = s;
  }
  for (int v = a; v <= b; v += step)
    *bits |= (uint64_t)1 << v;
  return 0;
}

/* Field i of the text [s, e) into *bits. Returns 0 or -1 with why. */
static int parse_field(int i, const char *s, const char *e, uint64_t *bits, int *star, char *why,
                       size_t cap) {
  const struct field *f = &fields[i];
  const char *p = s;
  *bits = 0;
  *star = 0;
  for (;;) {
    int elem_star = 0;
    if (element(f, &p, bits, &elem_star) != 0)
      break;
    *star |= elem_star;
    if (p == e)
      return 0;
    if (*p != ',')
      break;
    p++;
  }
  snprintf(why, cap, "%s \"%.*s\": each part must be *, %d-%d%s, a range a-b, a step /n", f->name,
           (int)(e - s), s, f->lo, f->hi, f->names ? " or a name" : "");
  return -1;
}

int util_cron_parse(const char *text, struct util_cron *c, char *why, size_t cap) {
  const char *s = text;
  const char *start[6], *end[6];
  int n = 0;
  memset(c, 0, sizeof(*c));
  for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
    if (strcasecmp(text, macros[i].word) == 0)
      s = macros[i].fields;
  if (s[0] == '@') {
    snprintf(why, cap, "\"%.40s\" is not one of @yearly, @monthly, @weekly, @daily, @hourly", text);
    return -1;
  }
  while (*s) {
    while (*s == ' ' || *s == '\t')
      s++;
    if (*s == '\0')
      break;
    if (n == 6) {
      snprintf(why, cap, "more than six fields ([second] minute hour day month weekday)");
      return -1;
    }
    start[n] = s;
    while (*s && *s != ' ' && *s != '\t')
      s++;
    end[n++] = s;
  }
  if (n < 5) {
    snprintf(why, cap, "%d field%s; five are needed: minute hour day month weekday", n,
             n == 1 ? "" : "s");
    return -1;
  }
  uint64_t bits[6] = {1}; /* five fields: second 0 */
  int star[6], first = n == 6 ? 0 : 1;
  for (int i = first; i < 6; i++)
    if (parse_field(i, start[i - first], end[i - first], &bits[i], &star[i], why, cap) != 0)
      return -1;
  c->seconds = bits[0];
  c->minutes = bits[1];
  c->hours = (uint32_t)bits[2];
  c->days = (uint32_t)bits[3];
  c->months = (uint16_t)bits[4];
  c->weekdays = (uint8_t)((bits[5] | bits[5] >> 7) & 0x7f); /* 7 is Sunday too */
  c->day_star = star[3] != 0;
  c->weekday_star = star[5] != 0;
  return 0;
}

static int day_matches(const struct util_cron *c, const struct tm *tm) {
  int dom = (c->days >> tm->tm_mday) & 1, dow = (c->weekdays >> tm->tm_wday) & 1;
  if (c->day_star || c->weekday_star)
    return dom && dow; /* one of them is "*": it matches every day */
  return dom || dow;
}

int util_cron_match(const struct util_cron *c, const struct tm *tm) {
  return ((c->seconds >> tm->tm_sec) & 1) && ((c->minutes >> tm->tm_min) & 1) &&
         ((c->hours >> tm->tm_hour) & 1) && ((c->months >> (tm->tm_mon + 1)) & 1) &&
         day_matches(c, tm);
}

time_t util_cron_next(const struct util_cron *c, time_t after) {
  struct tm tm;
  time_t t = after + 1;
  if (localtime_r(&t, &tm) == NULL)
    return (time_t)-1;
  for (int i = 0; i < NEXT_STEPS; i++) {
    if (!((c->months >> (tm.tm_mon + 1)) & 1)) {
      tm.tm_mon++, tm.tm_mday = 1, tm.tm_hour = 0, tm.tm_min = 0, tm.tm_sec = 0;
    } else if (!day_matches(c, &tm)) {
      tm.tm_mday++, tm.tm_hour = 0, tm.tm_min = 0, tm.tm_sec = 0;
    } else if (!((c->hours >> tm.tm_hour) & 1)) {
      tm.tm_hour++, tm.tm_min = 0, tm.tm_sec = 0;
    } else if (!((c->minutes >> tm.tm_min) & 1)) {
      tm.tm_min++, tm.tm_sec = 0;
    } else if (!((c->seconds >> tm.tm_sec) & 1) || t <= after) {
      tm.tm_sec++; /* (t <= after: a repeated hour of a DST change led back) */
    } else {
      return t;
    }
    tm.tm_isdst = -1;
    if ((t = mktime(&tm)) == (time_t)-1) /* normalizes tm: day 32, hour 24, DST */
      return (time_t)-1;
  }
  return (time_t)-1;
}
