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

int util_json_hex4(const char *p, const char *end, unsigned *out) {
  unsigned v = 0;
  if (end - p < 4)
    return UV_EINVAL;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return UV_EINVAL;
  }
  *out = v;
  return 0;
}

/* The surrogate escaped at t[i..] ("\uD800".."\uDFFF"), or -1. */
static long surrogate_at(const char *t, size_t n, size_t i) {
  unsigned u;
  if (i + 6 > n || t[i] != '\\' || t[i + 1] != 'u' || util_json_hex4(t + i + 2, t + n, &u) != 0)
    return -1;
  return u >= 0xD800 && u <= 0xDFFF ? (long)u : -1;
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
