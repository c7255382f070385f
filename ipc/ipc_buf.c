/* ipc_buf — growable buffer. See ipc_buf.h. */
#include "ipc_buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

void ipc_buf_init(struct ipc_buf *b) {
  memset(b, 0, sizeof(*b));
}

void ipc_buf_free(struct ipc_buf *b) {
  free(b->data);
  ipc_buf_init(b);
}

void ipc_buf_reset(struct ipc_buf *b) {
  b->len = 0;
  b->oom = 0;
}

int ipc_buf_grow(struct ipc_buf *b, size_t n) {
  if (b->oom)
    return UV_ENOMEM;
  if (n > SIZE_MAX - b->len) {
    b->oom = 1;
    return UV_ENOMEM;
  }
  if (b->len + n <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + n) {
    if (cap > SIZE_MAX / 2) {
      b->oom = 1;
      return UV_ENOMEM;
    }
    cap *= 2;
  }
  char *nd = realloc(b->data, cap);
  if (nd == NULL) {
    b->oom = 1;
    return UV_ENOMEM;
  }
  b->data = nd;
  b->cap = cap;
  return 0;
}

void ipc_buf_addi(struct ipc_buf *b, int64_t v) {
  char tmp[24], *p = tmp + sizeof(tmp);
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do { /* by hand: printf is a measurable share of the gateway's time */
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0)
    *--p = '-';
  ipc_buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

void ipc_buf_consume(struct ipc_buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}
