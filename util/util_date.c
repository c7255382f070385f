/* util_date — the HTTP date. See util_date.h. */
#include "util_date.h"

#include <string.h>

/* n (0..99) as two digits at p. */
static char *put2(char *p, int n) {
  p[0] = (char)('0' + n / 10);
  p[1] = (char)('0' + n % 10);
  return p + 2;
}

int util_http_date(time_t t, char *out) {
  static const char days[] = "SunMonTueWedThuFriSat";
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  struct tm tm;
  out[0] = '\0';
  if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
    return 0;
  char *p = out; /* "Sun, 06 Nov 1994 08:49:37 GMT" */
  memcpy(p, days + 3 * tm.tm_wday, 3);
  p += 3;
  *p++ = ',';
  *p++ = ' ';
  p = put2(p, tm.tm_mday);
  *p++ = ' ';
  memcpy(p, months + 3 * tm.tm_mon, 3);
  p += 3;
  *p++ = ' ';
  p = put2(p, (tm.tm_year + 1900) / 100);
  p = put2(p, (tm.tm_year + 1900) % 100);
  *p++ = ' ';
  p = put2(p, tm.tm_hour);
  *p++ = ':';
  p = put2(p, tm.tm_min);
  *p++ = ':';
  p = put2(p, tm.tm_sec);
  memcpy(p, " GMT", 5);
  return UTIL_HTTP_DATE_LEN;
}
