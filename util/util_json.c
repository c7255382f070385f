/* util_json — exact integers from cJSON numbers. See util_json.h. */
#include "util_json.h"

#include <math.h>
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
