/* util_json — exact integers from cJSON numbers; the NUL and lone surrogate
 * escapes. See util_json.h. */
#include "util_json.h"

#include <math.h>
#include <string.h>
#include <uv.h>

int util_json_int(const cJSON *v, int64_t *out) {
  if (!cJSON_IsNumber(v))
    return UV_EINVAL;
  double d = v->valuedouble;
  if (d != floor(d)) /* also NaN; cJSON never makes infinities */
    return UV_EINVAL;
  if (fabs(d) > (double)UTIL_JSON_INT_MAX)
    return UV_ERANGE;
  *out = (int64_t)d;
  return 0;
}

size_t util_json_nul_escape(const char *t, size_t n) {
  for (size_t i = 0; i + 6 <= n; i++) {
    if (t[i] != '\\')
      continue;
    if (memcmp(t + i, "\\u0000", 6) == 0)
      return i;
    i++; /* the escaped byte: "\\\\u0000" is a backslash, then text */
  }
  return n;
}

/* The value of the 4 hex digits at h, or -1. */
static long hex4(const char *h) {
  long v = 0;
  for (int k = 0; k < 4; k++) {
    char c = h[k];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0)
      return -1;
    v = v * 16 + d;
  }
  return v;
}

/* The surrogate escaped at t[i..] ("\uD800".."\uDFFF"), or -1. */
static long surrogate_at(const char *t, size_t n, size_t i) {
  if (i + 6 > n || t[i] != '\\' || t[i + 1] != 'u')
    return -1;
  long u = hex4(t + i + 2);
  return u >= 0xD800 && u <= 0xDFFF ? u : -1;
}

size_t util_json_lone_surrogates(const char *t, size_t n, char *out) {
  size_t lone = 0;
  if (out)
    memcpy(out, t, n);
  for (size_t i = 0; i + 6 <= n; i++) {
    if (t[i] != '\\')
      continue;
    long u = surrogate_at(t, n, i);
    if (u < 0) {
      i++; /* the escaped byte: "\\\\ud800" is a backslash, then text */
      continue;
    }
    long lo = u <= 0xDBFF ? surrogate_at(t, n, i + 6) : -1;
    if (lo >= 0xDC00) {
      i += 11; /* a pair: both escapes */
      continue;
    }
    lone++;
    if (out)
      memcpy(out + i, "\\ufffd", 6);
    i += 5;
  }
  return lone;
}
