/* util_date — the HTTP date (RFC 9110 §5.6.7 IMF-fixdate), as a `date`
 * header carries it: "Sun, 06 Nov 1994 08:49:37 GMT". Written by hand,
 * not by strftime, whose day and month names follow the locale. */
#ifndef MUSTER_UTIL_DATE_H
#define MUSTER_UTIL_DATE_H

#include <time.h>

#define UTIL_HTTP_DATE_LEN 29 /* the text's length, without its NUL */

/* Writes t as an IMF-fixdate into out (UTIL_HTTP_DATE_LEN + 1 bytes, NUL
 * included). Returns UTIL_HTTP_DATE_LEN, or 0 when t cannot be broken down
 * (out is then ""). */
int util_http_date(time_t t, char *out);

#endif
