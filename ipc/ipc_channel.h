/* ipc_channel — one end of a muster channel over a libuv pipe.
 *
 * Both sides use it: muster on its end of each instance's socketpair, a
 * service on the inherited fd 3. Reading runs bytes through ipc_frame and
 * hands out complete lines. Writing appends lines to a queue that is
 * flushed once per loop turn (a uv_prepare handle, run just before the
 * loop blocks), so many messages issued in one turn cost one write(2).
 * Backpressure: ipc_channel_pending() tells how much is queued; past the
 * high-water mark the owner should stop producing until on_drain. */
#ifndef MUSTER_IPC_CHANNEL_H
#define MUSTER_IPC_CHANNEL_H

#include <stddef.h>
#include <uv.h>

#include "ipc_buf.h"
#include "ipc_frame.h"

struct ipc_channel;

/* A complete line arrived (borrowed for the call). */
typedef void (*ipc_channel_line_cb)(struct ipc_channel *ch, const char *line, size_t len);
/* The channel failed: UV_EOF (peer closed), UV_E2BIG (line too long), or a
 * read/write error. Reported once; the owner should then close it. */
typedef void (*ipc_channel_error_cb)(struct ipc_channel *ch, int err);
/* The write queue fell below the low-water mark after passing high water. */
typedef void (*ipc_channel_drain_cb)(struct ipc_channel *ch);
/* The channel is closed; its memory may now be freed by the owner. */
typedef void (*ipc_channel_close_cb)(struct ipc_channel *ch);

struct ipc_channel_cbs {
  ipc_channel_line_cb on_line;
  ipc_channel_error_cb on_error;
  ipc_channel_drain_cb on_drain; /* optional */
};

struct ipc_channel {
  uv_pipe_t pipe;         /* the socket; handle lives here */
  uv_prepare_t flusher;   /* flushes `out` once per loop turn */
  uv_write_t wreq;        /* the write in flight, if `writing` */
  struct ipc_frame frame; /* incoming line assembly */
  struct ipc_buf out;     /* queued lines not yet handed to libuv */
  struct ipc_buf wbuf;    /* the bytes of the write in flight */
  size_t mark;            /* out.len at ipc_channel_begin() */
  size_t high_water;      /* pending bytes that make the channel "full" */
  size_t max_queue;       /* pending bytes past which sends are refused */
  char *rbuf;             /* read buffer, owned */
  struct ipc_channel_cbs cbs;
  ipc_channel_close_cb close_cb;
  void *data;           /* the owner's pointer */
  unsigned writing : 1; /* wreq is in flight */
  unsigned full : 1;    /* passed high water; on_drain owed */
  unsigned failed : 1;  /* on_error was reported */
  unsigned closing : 1; /* ipc_channel_close() was called */
  unsigned close_when_flushed : 1;
  int open_handles; /* handles still to be closed */
};

#define IPC_CHANNEL_HIGH_WATER ((size_t)1 << 20)  /* 1 MiB */
#define IPC_CHANNEL_MAX_QUEUE ((size_t)256 << 20) /* 256 MiB */

/* Opens a channel on fd (a connected stream socket) and starts reading.
 * max_line: longest accepted line (0 = 64 MiB). Returns 0 or a negative
 * libuv error. The channel owns fd from now on, even on error (it is then
 * closed). Either way the owner ends it with ipc_channel_close(). */
int ipc_channel_open(struct ipc_channel *ch, uv_loop_t *loop, int fd, size_t max_line,
                     const struct ipc_channel_cbs *cbs, void *data);

/* Like ipc_channel_open(), for a connection waiting on a listening pipe
 * (the control socket): accepts it. The owner ends it with
 * ipc_channel_close() whatever this returns. */
int ipc_channel_accept(struct ipc_channel *ch, uv_stream_t *server, size_t max_line,
                       const struct ipc_channel_cbs *cbs, void *data);

/* Returns the queue to append complete lines to (with ipc_enc_*), then
 * call ipc_channel_commit(). */
struct ipc_buf *ipc_channel_begin(struct ipc_channel *ch);

/* Queues what was appended since ipc_channel_begin(). Returns 0, UV_EPIPE
 * (closed or failed; dropped), UV_ENOBUFS (queue past max_queue; dropped)
 * or UV_ENOMEM (dropped). */
int ipc_channel_commit(struct ipc_channel *ch);

/* Queues one complete line (must end in "\n"). Same returns as commit. */
int ipc_channel_send(struct ipc_channel *ch, const char *line, size_t len);

/* Bytes queued or being written. */
size_t ipc_channel_pending(const struct ipc_channel *ch);

/* 1 while pending is under the high-water mark. */
int ipc_channel_writable(const struct ipc_channel *ch);

/* Closes the channel. With flush, queued lines are written first (as far
 * as the peer reads them). cb runs once everything is released. */
void ipc_channel_close(struct ipc_channel *ch, int flush, ipc_channel_close_cb cb);

#endif
