/* rt_buf — shared buffers. See rt_buf.h. */
#include "rt_buf.h"

#include <stdlib.h>
#include <string.h>

struct rt_buf *rt_buf_new(const void *p, size_t len) {
  struct rt_buf *b = malloc(sizeof(*b) + len + 1);
  if (b == NULL)
    return NULL;
  b->refs = 1;
  b->len = len;
  if (p && len)
    memcpy(b->data, p, len);
  b->data[len] = '\0'; /* text payloads can be read as strings */
  return b;
}

void rt_buf_unref(struct rt_buf *b) {
  if (b && --b->refs == 0)
    free(b);
}
