/* rt_buf — a reference-counted byte buffer: a publication is encoded once
 * and the same bytes are queued to every receiver, each holding a
 * reference until its socket took them. Single-threaded (the loop's). */
#ifndef MUSTER_RT_BUF_H
#define MUSTER_RT_BUF_H

#include <stddef.h>

struct rt_buf {
  unsigned refs; /* holders; freed at 0 */
  size_t len;    /* bytes in data */
  char data[];
};

/* A buffer holding a copy of p[0 .. len) (p may be NULL: uninitialised),
 * with one reference. NULL on out of memory. */
struct rt_buf *rt_buf_new(const void *p, size_t len);

/* Takes a reference; returns b. */
static inline struct rt_buf *rt_buf_ref(struct rt_buf *b) {
  b->refs++;
  return b;
}

/* Drops a reference (NULL is fine); frees at the last. */
void rt_buf_unref(struct rt_buf *b);

#endif
