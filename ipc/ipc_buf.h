/* ipc_buf — a growable byte buffer with a sticky out-of-memory flag.
 *
 * Appends never fail loudly: on allocation failure the buffer sets `oom`
 * and ignores later appends, so a writer checks once at the end. */
#ifndef MUSTER_IPC_BUF_H
#define MUSTER_IPC_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ipc_buf {
  char *data; /* owned; NULL until the first append */
  size_t len; /* bytes used */
  size_t cap; /* bytes allocated */
  int oom;    /* 1 once an allocation failed */
};

void ipc_buf_init(struct ipc_buf *b);
void ipc_buf_free(struct ipc_buf *b);
/* Empties b but keeps its memory for reuse (and clears `oom`). */
void ipc_buf_reset(struct ipc_buf *b);
/* Grows b to hold n more bytes (the slow path of ipc_buf_reserve). */
int ipc_buf_grow(struct ipc_buf *b, size_t n);
void ipc_buf_addi(struct ipc_buf *b, int64_t v); /* decimal */

/* The appends are inline: the gateway and the services make dozens per
 * message, and a call each was a measurable share of the hot path. */

/* Makes room for n more bytes. Returns 0 or UV_ENOMEM. */
static inline int ipc_buf_reserve(struct ipc_buf *b, size_t n) {
  if (!b->oom && n <= b->cap - b->len)
    return 0;
  return ipc_buf_grow(b, n);
}

static inline void ipc_buf_add(struct ipc_buf *b, const void *p, size_t n) {
  if (n == 0 || ipc_buf_reserve(b, n) != 0)
    return;
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

/* s NUL-terminated */
static inline void ipc_buf_adds(struct ipc_buf *b, const char *s) {
  ipc_buf_add(b, s, strlen(s));
}

static inline void ipc_buf_addc(struct ipc_buf *b, char c) {
  if (ipc_buf_reserve(b, 1) != 0)
    return;
  b->data[b->len++] = c;
}
/* Drops the first n bytes, keeping the rest. */
void ipc_buf_consume(struct ipc_buf *b, size_t n);

#endif
