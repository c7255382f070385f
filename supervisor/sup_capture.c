/* sup_capture — child stdout/stderr lines into a log file. See sup_capture.h. */
#include "sup_capture.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

/* ---- Records ---- */

/* Sets c->stamp to the current UTC time, "2026-11-23T03:02:01.123Z ". One
 * stamp serves every line of a read: they arrived together. */
static void do_stamp(struct sup_capture *c) {
  uv_timeval64_t tv;
  struct tm tm;
  if (uv_gettimeofday(&tv) < 0) {
    tv.tv_sec = (int64_t)time(NULL);
    tv.tv_usec = 0;
  }
  time_t t = (time_t)tv.tv_sec;
  if (gmtime_r(&t, &tm) == NULL)
    memset(&tm, 0, sizeof(tm));
  snprintf(c->stamp, sizeof(c->stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
}

/* Writes the records batched in c->out, with one write(2). A failed
 * write is counted by the logfile; there is nobody here to tell. */
static void out_flush(struct sup_capture *c) {
  if (c->out_len > 0 && c->lf != NULL)
    (void)sup_logfile_write(c->lf, c->out, c->out_len);
  c->out_len = 0;
}

/* Bytes the current log file takes before it rotates (SIZE_MAX: never). */
static size_t file_room(const struct sup_capture *c) {
  const struct sup_logfile *lf = c->lf;
  if (lf->max_bytes == 0)
    return SIZE_MAX;
  return lf->size < lf->max_bytes ? (size_t)(lf->max_bytes - lf->size) : 0;
}

/* Adds one record, "<stamp><label> <stream>: <line>\n", to the batch of
 * this read (written at its end: a program that logs as fast as it can
 * cost muster a system call per line, which starved the gateway), and
 * tells the line hook. The batch goes out first when the record would
 * not fit in it or would take the file past max_bytes, so each file
 * still ends at a record and rotates where it did; a record larger than
 * the batch goes out alone. */
static void do_emit(struct sup_capture *c, const char *line, size_t len, const char *stream) {
  struct iovec v[] = {
      {.iov_base = c->stamp, .iov_len = strlen(c->stamp)},
      {.iov_base = c->label, .iov_len = strlen(c->label)},
      {.iov_base = " ", .iov_len = 1},
      {.iov_base = (char *)stream, .iov_len = strlen(stream)},
      {.iov_base = ": ", .iov_len = 2},
      {.iov_base = (char *)line, .iov_len = len},
      {.iov_base = "\n", .iov_len = 1},
  };
  size_t nv = sizeof(v) / sizeof(v[0]), n = 0;
  for (size_t i = 0; i < nv; i++)
    n += v[i].iov_len;
  if (c->lf != NULL) {
    if (c->out_len > 0 && (c->out_len + n > SUP_CAPTURE_OUT_MAX || c->out_len + n > file_room(c)))
      out_flush(c);
    if (n > SUP_CAPTURE_OUT_MAX) {
      (void)sup_logfile_writev(c->lf, v, (int)nv);
    } else {
      for (size_t i = 0; i < nv; i++) {
        memcpy(c->out + c->out_len, v[i].iov_base, v[i].iov_len);
        c->out_len += v[i].iov_len;
      }
    }
  }
  if (c->on_line != NULL && !c->closing)
    c->on_line(c->ctx, c->label, stream, line, len);
}

/* Writes the end of a line (all of it, unless earlier pieces were written
 * already). An empty end of a split line adds no record: the line was
 * exactly as long as the pieces before. */
static void do_line(struct sup_capture *c, const char *line, size_t len) {
  if (!c->split || len > 0)
    do_emit(c, line, len, c->split ? c->cont : c->stream);
  c->split = 0;
}

/* Writes the held bytes, if any, as a line of their own (EOF or close),
 * and the batch. */
static void do_flush(struct sup_capture *c) {
  if (c->len > 0)
    do_line(c, c->line, c->len);
  c->len = 0;
  c->split = 0;
  out_flush(c);
}

/* ---- Reading ---- */

/* Reads go straight into the free end of the line buffer, so bytes are
 * never copied and memory never grows. There is always room: a full
 * buffer is written out before the read callback returns. */
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  struct sup_capture *c = h->data;
  (void)hint;
  buf->base = c->line + c->len;
  buf->len = SUP_CAPTURE_LINE_MAX - c->len;
}

/* The stream ended or failed: writes what is held and tells the owner. */
static void do_end(struct sup_capture *c) {
  uv_read_stop((uv_stream_t *)&c->pipe);
  uv_timer_stop(&c->resume);
  do_flush(c);
  if (c->eof)
    return;
  c->eof = 1;
  if (c->on_eof != NULL && !c->closing)
    c->on_eof(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* The next loop turn after a pause: reading again. */
static void on_resume(uv_timer_t *t) {
  struct sup_capture *c = t->data;
  c->turn = 0;
  if (!c->closing && !c->eof)
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* Counts n bytes read; past SUP_CAPTURE_TURN_MAX since the last pause,
 * reading stops until the next loop turn. libuv reads a ready pipe up to
 * 32 times in a row: a program logging as fast as it can held the loop,
 * and the gateway's clients waited behind its lines. The child then
 * waits on a full pipe for a turn at most. */
static void take_turn(struct sup_capture *c, size_t n) {
  c->turn += n;
  if (c->turn > SUP_CAPTURE_TURN_MAX && !c->closing && !c->eof) {
    uv_read_stop((uv_stream_t *)&c->pipe);
    uv_timer_start(&c->resume, on_resume, 0, 0);
  }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct sup_capture *c = s->data;
  (void)buf;
  if (nread < 0) {
    do_end(c); /* UV_EOF, or a read error: either way no more lines */
    return;
  }
  if (nread == 0)
    return;
  take_turn(c, (size_t)nread);
  do_stamp(c);
  c->in_read = 1;
  size_t end = c->len + (size_t)nread;
  size_t start = 0;    /* where the current line begins */
  size_t pos = c->len; /* where to look for "\n": the held bytes have none */
  const char *nl;
  while ((nl = memchr(c->line + pos, '\n', end - pos)) != NULL) {
    size_t i = (size_t)(nl - c->line);
    do_line(c, c->line + start, i - start);
    start = pos = i + 1;
  }
  c->len = end - start;
  memmove(c->line, c->line + start, c->len);
  if (c->len == SUP_CAPTURE_LINE_MAX) {
    do_emit(c, c->line, c->len, c->split ? c->cont : c->stream);
    c->split = 1;
    c->len = 0;
  }
  c->in_read = 0;
  if (c->closing)
    do_flush(c); /* sup_capture_close() was called from on_line */
  else
    out_flush(c); /* the records of this read, in one write */
}

/* ---- Life cycle ---- */

int sup_capture_init(struct sup_capture *c, uv_loop_t *loop, struct sup_logfile *lf,
                     const char *label, const char *stream) {
  size_t nlabel = strlen(label) + 1;
  size_t nstream = strlen(stream) + 1;
  memset(c, 0, sizeof(*c));
  c->mem = malloc(SUP_CAPTURE_LINE_MAX + SUP_CAPTURE_OUT_MAX + nlabel + nstream + nstream + 1);
  if (c->mem == NULL)
    return UV_ENOMEM;
  c->line = c->mem;
  c->out = c->line + SUP_CAPTURE_LINE_MAX;
  c->label = c->out + SUP_CAPTURE_OUT_MAX;
  c->stream = c->label + nlabel;
  c->cont = c->stream + nstream;
  memcpy(c->label, label, nlabel);
  memcpy(c->stream, stream, nstream);
  snprintf(c->cont, nstream + 1, "%s+", stream);
  c->lf = lf;
  int rc = uv_pipe_init(loop, &c->pipe, 0);
  if (rc < 0) {
    free(c->mem);
    c->mem = NULL;
    return rc;
  }
  c->pipe.data = c;
  uv_timer_init(loop, &c->resume); /* cannot fail */
  c->resume.data = c;
  return 0;
}

int sup_capture_start(struct sup_capture *c) {
  return uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* The pipe's and the timer's close: the second one frees. */
static void on_closed(uv_handle_t *h) {
  struct sup_capture *c = h->data;
  if (++c->closed < 2)
    return;
  free(c->mem);
  c->mem = c->line = c->out = c->label = c->stream = c->cont = NULL;
  if (c->close_cb != NULL)
    c->close_cb(c);
}

void sup_capture_close(struct sup_capture *c, sup_capture_close_cb cb) {
  if (c->closing)
    return;
  c->closing = 1;
  c->close_cb = cb;
  uv_read_stop((uv_stream_t *)&c->pipe);
  if (!c->in_read)
    do_flush(c); /* else on_read flushes once it has finished the read */
  uv_close((uv_handle_t *)&c->pipe, on_closed);
  uv_close((uv_handle_t *)&c->resume, on_closed);
}
