/* ipc_channel — framed channel over a libuv pipe. See ipc_channel.h. */
#include "ipc_channel.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_BUF_SIZE 65536

static void do_close_handles(struct ipc_channel *ch);

/* Reports err to the owner once, and stops all I/O. */
static void do_fail(struct ipc_channel *ch, int err) {
  if (ch->failed)
    return;
  ch->failed = 1;
  uv_read_stop((uv_stream_t *)&ch->pipe);
  if (ch->closing) {
    if (ch->close_when_flushed && !ch->writing)
      do_close_handles(ch);
    return;
  }
  ch->cbs.on_error(ch, err);
}

/* ---- Reading ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  struct ipc_channel *ch = h->data;
  buf->base = ch->rbuf;
  buf->len = READ_BUF_SIZE;
}

static int on_frame_line(void *ctx, const char *line, size_t len) {
  struct ipc_channel *ch = ctx;
  ch->cbs.on_line(ch, line, len);
  return ch->closing || ch->failed; /* the owner may close us mid-read */
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct ipc_channel *ch = s->data;
  if (nread < 0) {
    do_fail(ch, (int)nread);
    return;
  }
  int rc = ipc_frame_feed(&ch->frame, buf->base, (size_t)nread, on_frame_line, ch);
  if (rc < 0)
    do_fail(ch, rc);
}

/* ---- Writing ---- */

size_t ipc_channel_pending(const struct ipc_channel *ch) {
  return ch->out.len + (ch->writing ? ch->wbuf.len : 0);
}

int ipc_channel_writable(const struct ipc_channel *ch) {
  return ipc_channel_pending(ch) < ch->high_water;
}

static void do_write(struct ipc_channel *ch);

static void on_write(uv_write_t *req, int status) {
  struct ipc_channel *ch = req->data;
  ch->writing = 0;
  ipc_buf_reset(&ch->wbuf);
  if (status < 0) {
    ipc_buf_reset(&ch->out);
    do_fail(ch, status);
    return;
  }
  if (ch->out.len > 0) {
    do_write(ch);
  } else if (ch->closing && ch->close_when_flushed) {
    do_close_handles(ch);
    return;
  }
  if (ch->full && ipc_channel_pending(ch) <= ch->high_water / 2) {
    ch->full = 0;
    if (ch->cbs.on_drain && !ch->closing && !ch->failed)
      ch->cbs.on_drain(ch);
  }
}

/* Hands everything queued to libuv as one write. */
static void do_write(struct ipc_channel *ch) {
  struct ipc_buf tmp = ch->wbuf; /* swap: queue becomes the write buffer */
  ch->wbuf = ch->out;
  ch->out = tmp;
  ipc_buf_reset(&ch->out);
  uv_buf_t b = uv_buf_init(ch->wbuf.data, (unsigned)ch->wbuf.len);
  ch->wreq.data = ch;
  int rc = uv_write(&ch->wreq, (uv_stream_t *)&ch->pipe, &b, 1, on_write);
  if (rc < 0) {
    ipc_buf_reset(&ch->wbuf);
    do_fail(ch, rc);
    return;
  }
  ch->writing = 1;
}

static void on_prepare(uv_prepare_t *p) {
  struct ipc_channel *ch = p->data;
  uv_prepare_stop(p);
  if (!ch->writing && ch->out.len > 0 && !ch->failed)
    do_write(ch);
}

struct ipc_buf *ipc_channel_begin(struct ipc_channel *ch) {
  ch->mark = ch->out.len;
  return &ch->out;
}

int ipc_channel_commit(struct ipc_channel *ch) {
  int rc = 0;
  if (ch->out.oom)
    rc = UV_ENOMEM;
  else if (ch->failed || ch->closing)
    rc = UV_EPIPE;
  else if (ipc_channel_pending(ch) > ch->max_queue)
    rc = UV_ENOBUFS;
  if (rc != 0) {
    ch->out.len = ch->mark; /* drop the partial or refused line */
    ch->out.oom = 0;
    return rc;
  }
  if (ch->out.len > ch->mark && !ch->writing)
    uv_prepare_start(&ch->flusher, on_prepare);
  if (!ch->full && ipc_channel_pending(ch) >= ch->high_water)
    ch->full = 1;
  return 0;
}

int ipc_channel_send(struct ipc_channel *ch, const char *line, size_t len) {
  ipc_buf_add(ipc_channel_begin(ch), line, len);
  return ipc_channel_commit(ch);
}

/* ---- Life cycle ---- */

/* Initialises everything but the socket itself. Returns 0 or UV_ENOMEM;
 * either way both handles are initialised (the owner closes). */
static int channel_init(struct ipc_channel *ch, uv_loop_t *loop, size_t max_line,
                        const struct ipc_channel_cbs *cbs, void *data) {
  memset(ch, 0, sizeof(*ch));
  ch->cbs = *cbs;
  ch->data = data;
  ch->high_water = IPC_CHANNEL_HIGH_WATER;
  ch->max_queue = IPC_CHANNEL_MAX_QUEUE;
  ipc_frame_init(&ch->frame, max_line);
  ipc_buf_init(&ch->out);
  ipc_buf_init(&ch->wbuf);
  uv_pipe_init(loop, &ch->pipe, 0); /* cannot fail */
  uv_prepare_init(loop, &ch->flusher);
  ch->pipe.data = ch;
  ch->flusher.data = ch;
  ch->open_handles = 2;
  ch->failed = 1; /* until reading has started */
  ch->rbuf = malloc(READ_BUF_SIZE);
  return ch->rbuf ? 0 : UV_ENOMEM;
}

static int channel_start(struct ipc_channel *ch) {
  int rc = uv_read_start((uv_stream_t *)&ch->pipe, on_alloc, on_read);
  if (rc == 0)
    ch->failed = 0;
  return rc;
}

int ipc_channel_open(struct ipc_channel *ch, uv_loop_t *loop, int fd, size_t max_line,
                     const struct ipc_channel_cbs *cbs, void *data) {
  int rc = channel_init(ch, loop, max_line, cbs, data);
  if (rc == 0)
    rc = uv_pipe_open(&ch->pipe, fd);
  if (rc < 0) {
    close(fd); /* the handle did not take it */
    return rc;
  }
  return channel_start(ch);
}

int ipc_channel_accept(struct ipc_channel *ch, uv_stream_t *server, size_t max_line,
                       const struct ipc_channel_cbs *cbs, void *data) {
  int rc = channel_init(ch, server->loop, max_line, cbs, data);
  if (rc == 0)
    rc = uv_accept(server, (uv_stream_t *)&ch->pipe);
  return rc < 0 ? rc : channel_start(ch);
}

static void on_handle_closed(uv_handle_t *h) {
  struct ipc_channel *ch = h->data;
  if (--ch->open_handles > 0)
    return;
  ipc_frame_free(&ch->frame);
  ipc_buf_free(&ch->out);
  ipc_buf_free(&ch->wbuf);
  free(ch->rbuf);
  ch->rbuf = NULL;
  if (ch->close_cb)
    ch->close_cb(ch);
}

static void do_close_handles(struct ipc_channel *ch) {
  if (uv_is_closing((uv_handle_t *)&ch->pipe))
    return;
  uv_close((uv_handle_t *)&ch->pipe, on_handle_closed);
  uv_close((uv_handle_t *)&ch->flusher, on_handle_closed);
}

void ipc_channel_close(struct ipc_channel *ch, int flush, ipc_channel_close_cb cb) {
  if (ch->closing)
    return;
  ch->closing = 1;
  ch->close_cb = cb;
  uv_read_stop((uv_stream_t *)&ch->pipe);
  if (flush && !ch->failed && (ch->writing || ch->out.len > 0)) {
    ch->close_when_flushed = 1;
    if (!ch->writing)
      do_write(ch);
    if (ch->writing)
      return; /* on_write closes once the queue is empty */
  }
  do_close_handles(ch);
}
