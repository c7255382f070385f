/* ipc_frame — newline-delimited framing of the muster channel (SPEC §3).
 *
 * Pure code, no I/O: bytes go in as they arrive from the socket, complete
 * lines come out through a callback. A line split across reads is kept
 * until its newline arrives; many lines in one read each come out; empty
 * lines (and lines holding only "\r") are skipped; a line longer than the
 * configured maximum is an error that poisons the framer (the peer is
 * broken, SPEC §3). */
#ifndef MUSTER_IPC_FRAME_H
#define MUSTER_IPC_FRAME_H

#include <stddef.h>

#define IPC_FRAME_MAX_DEFAULT ((size_t)64 << 20) /* 64 MiB, SPEC §3 */

/* Called once per complete line, without its "\n" (nor a "\r" before it).
 * It must not feed the same framer. Returning non-zero stops
 * ipc_frame_feed(), which then returns that value. The line is borrowed:
 * valid only during the call. */
typedef int (*ipc_frame_line_cb)(void *ctx, const char *line, size_t len);

struct ipc_frame {
  char *buf;       /* the incomplete tail line, owned */
  size_t len;      /* bytes held in buf */
  size_t cap;      /* allocated size of buf */
  size_t max_line; /* longest line accepted: bytes before its "\n" */
  int err;         /* sticky error once a line was too long, else 0 */
};

/* Prepares f to accept lines of up to max_line bytes (0 = the default). */
void ipc_frame_init(struct ipc_frame *f, size_t max_line);

/* Releases the buffer held by f. */
void ipc_frame_free(struct ipc_frame *f);

/* Feeds n bytes. Calls cb for every line they complete. Returns 0, the
 * callback's non-zero return value, UV_E2BIG when a line exceeds max_line,
 * or UV_ENOMEM. After UV_E2BIG every later call returns UV_E2BIG. */
int ipc_frame_feed(struct ipc_frame *f, const char *data, size_t n, ipc_frame_line_cb cb,
                   void *ctx);

/* Bytes of an incomplete line waiting for their newline. */
size_t ipc_frame_pending(const struct ipc_frame *f);

#endif
