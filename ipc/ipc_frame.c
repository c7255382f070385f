/* ipc_frame — newline framing. See ipc_frame.h. */
#include "ipc_frame.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* A held buffer larger than this is released once its line is out, so a
 * rare huge line does not pin its memory for the channel's lifetime. */
#define KEEP_MAX ((size_t)1 << 20)

void ipc_frame_init(struct ipc_frame *f, size_t max_line) {
  memset(f, 0, sizeof(*f));
  f->max_line = max_line ? max_line : IPC_FRAME_MAX_DEFAULT;
}

void ipc_frame_free(struct ipc_frame *f) {
  size_t cap = f->cap;
  free(f->buf);
  f->buf = NULL;
  f->len = f->cap = 0;
  if (cap > KEEP_MAX)
    malloc_trim(0); /* glibc keeps big freed blocks resident otherwise */
}

size_t ipc_frame_pending(const struct ipc_frame *f) {
  return f->len;
}

/* Hands one line to cb unless it is blank (empty or a lone "\r"). */
static int emit(const char *line, size_t len, ipc_frame_line_cb cb, void *ctx) {
  if (len > 0 && line[len - 1] == '\r')
    len--; /* tolerate CRLF peers; "\r" never ends a JSON text otherwise */
  if (len == 0)
    return 0;
  return cb(ctx, line, len);
}

/* Appends n bytes to the held tail, growing it geometrically. */
static int hold(struct ipc_frame *f, const char *data, size_t n) {
  if (f->len + n > f->cap) {
    size_t cap = f->cap ? f->cap : 4096;
    while (cap < f->len + n)
      cap *= 2;
    if (cap > f->max_line + 1 && f->len + n <= f->max_line + 1)
      cap = f->max_line + 1; /* never more than the longest line allowed */
    char *nb = realloc(f->buf, cap);
    if (nb == NULL)
      return UV_ENOMEM;
    f->buf = nb;
    f->cap = cap;
  }
  memcpy(f->buf + f->len, data, n);
  f->len += n;
  return 0;
}

int ipc_frame_feed(struct ipc_frame *f, const char *data, size_t n, ipc_frame_line_cb cb,
                   void *ctx) {
  if (f->err)
    return f->err;
  while (n > 0) {
    const char *nl = memchr(data, '\n', n);
    size_t part = nl ? (size_t)(nl - data) : n;
    if (f->len + part > f->max_line) {
      ipc_frame_free(f);
      return f->err = UV_E2BIG;
    }
    if (nl == NULL)
      return hold(f, data, n); /* incomplete line: keep it */
    int rc;
    if (f->len == 0) {
      rc = emit(data, part, cb, ctx); /* whole line in this read: no copy */
    } else {
      if ((rc = hold(f, data, part)) != 0)
        return rc;
      size_t total = f->len;
      f->len = 0;
      rc = emit(f->buf, total, cb, ctx);
      if (f->cap > KEEP_MAX)
        ipc_frame_free(f);
    }
    data = nl + 1;
    n -= part + 1;
    if (rc != 0)
      return rc;
  }
  return 0;
}
