/* util_json — exact integers from cJSON numbers; the NUL escape. See util_json.h. */
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
