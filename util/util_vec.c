/* util_vec — array growth. See util_vec.h. */
#include "util_vec.h"

#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

int util_vec_grow(void **base, size_t *cap, size_t need, size_t elem) {
  size_t n = *cap ? *cap : 8;
  if (need <= *cap)
    return 0;
  while (n < need) {
    if (n > SIZE_MAX / 2)
      return UV_ENOMEM;
    n *= 2;
  }
  if (elem != 0 && n > SIZE_MAX / elem)
    return UV_ENOMEM;
  void *p = realloc(*base, n * elem);
  if (p == NULL)
    return UV_ENOMEM;
  *base = p;
  *cap = n;
  return 0;
}
