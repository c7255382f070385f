/* ipc_buf — a growable byte buffer with a sticky out-of-memory flag.
 *
 * Appends never fail loudly: on allocation failure the buffer sets `oom`
 * and ignores later appends, so a writer checks once at the end. */
#ifndef MUSTER_IPC_BUF_H
#define MUSTER_IPC_BUF_H

#include <stddef.h>
#include <stdint.h>

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
/* Makes room for n more bytes. Returns 0 or UV_ENOMEM. */
int ipc_buf_reserve(struct ipc_buf *b, size_t n);
void ipc_buf_add(struct ipc_buf *b, const void *p, size_t n);
void ipc_buf_adds(struct ipc_buf *b, const char *s); /* NUL-terminated */
void ipc_buf_addc(struct ipc_buf *b, char c);
void ipc_buf_addi(struct ipc_buf *b, int64_t v);  /* decimal */
/* Drops the first n bytes, keeping the rest. */
void ipc_buf_consume(struct ipc_buf *b, size_t n);

#endif
