/* sup_capture — one child stream (stdout or stderr) into a log file.
 *
 * Reads the stream through a libuv pipe and writes each line to a
 * sup_logfile, prefixed with the time (UTC, milliseconds), the instance's
 * label and the stream's name:
 *
 *   2026-11-23T03:02:01.123Z dummy[1] out: the line
 *
 * Memory is fixed: bytes are read straight into one SUP_CAPTURE_LINE_MAX
 * buffer allocated at init, and the records of a read are batched in one
 * of SUP_CAPTURE_OUT_MAX. A longer line is written in pieces of that
 * size, each prefixed, the pieces after the first marked by a "+" after
 * the stream name ("out+"). A line of exactly SUP_CAPTURE_LINE_MAX bytes
 * gives one record. An unfinished last line is written at EOF or close
 * (not on a timer: a prompt without "\n" waits for its line to end).
 * Reading pauses only until the loop's next turn, after
 * SUP_CAPTURE_TURN_MAX bytes in a row, so that a flood cannot hold the
 * loop (the gateway's clients wait otherwise) while a child blocks on a
 * full pipe for a turn at most; a flood costs one write(2) per read (or
 * per batch), not one per line.
 *
 * Use:
 *   sup_capture_init(&cap, loop, lf, "dummy[1]", "out");
 *   stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;  (the child writes)
 *   stdio[1].data.stream = (uv_stream_t *)&cap.pipe;
 *   uv_spawn(...) then sup_capture_start(&cap); on failure or when done,
 *   sup_capture_close(&cap, cb) and free cap's owner in cb.
 * (UV_WRITABLE_PIPE is from the child's view; with only UV_READABLE_PIPE
 * libuv opens muster's end write-only and reading fails with ENOTCONN.)
 *
 * The logfile is borrowed and may be shared by all the captures of a
 * service (the label tells instances apart); it must stay open until every
 * capture using it is closed. With no logfile (NULL) records only go to
 * on_line (the event hooks' output, into muster's own log). */
#ifndef MUSTER_SUP_CAPTURE_H
#define MUSTER_SUP_CAPTURE_H

#include <stddef.h>
#include <uv.h>

#include "sup_logfile.h"

#define SUP_CAPTURE_LINE_MAX 16384 /* longest piece of a line in one record */
#define SUP_CAPTURE_OUT_MAX 16384  /* records of one read written together, at most */
#define SUP_CAPTURE_TURN_MAX 65536 /* bytes read in a row before the loop's next turn */

struct sup_capture;

/* A record was written: line (borrowed for the call, without prefix or
 * "\n") from stream ("out", or "out+" for a continuation piece). */
typedef void (*sup_capture_line_cb)(void *ctx, const char *label, const char *stream,
                                    const char *line, size_t len);
/* The child closed its end (or reading failed): no more lines will come. */
typedef void (*sup_capture_eof_cb)(struct sup_capture *c);
/* The capture is closed; its memory may now be freed by the owner. */
typedef void (*sup_capture_close_cb)(struct sup_capture *c);

struct sup_capture {
  uv_pipe_t pipe;              /* muster's end of the child's stream */
  uv_timer_t resume;           /* reading again on the loop's next turn (take_turn) */
  size_t turn;                 /* bytes read since reading last resumed */
  int closed;                  /* handles closed of the two (pipe, resume) */
  struct sup_logfile *lf;      /* where records go, borrowed */
  char *label;                 /* e.g. "dummy[1]", owned (in `mem`) */
  char *stream;                /* e.g. "out", owned (in `mem`) */
  char *cont;                  /* stream + "+", owned (in `mem`) */
  char *line;                  /* SUP_CAPTURE_LINE_MAX bytes of unfinished line */
  size_t len;                  /* bytes held in `line` (never a "\n") */
  char *out;                   /* SUP_CAPTURE_OUT_MAX bytes: this read's records */
  size_t out_len;              /* bytes of records in `out`, not yet written */
  char *mem;                   /* the one allocation holding the above */
  char stamp[64];              /* "2026-11-23T03:02:01.123Z " of this read */
  sup_capture_line_cb on_line; /* optional, called with ctx */
  void *ctx;
  sup_capture_eof_cb on_eof; /* optional */
  sup_capture_close_cb close_cb;
  void *data;           /* the owner's pointer */
  unsigned split : 1;   /* the held bytes continue a written piece */
  unsigned in_read : 1; /* inside on_read: the buffer is in use */
  unsigned eof : 1;     /* the stream ended; on_eof was reported */
  unsigned closing : 1; /* sup_capture_close() was called */
};

/* Prepares c to capture one stream of a child: allocates its buffer and
 * initialises c->pipe (not opened: pass it to uv_spawn). label and stream
 * are copied; on_line, ctx, on_eof and data may be set afterwards.
 * Returns 0, or a negative libuv error (UV_ENOMEM) and then nothing needs
 * closing. After success, end it with sup_capture_close(). */
int sup_capture_init(struct sup_capture *c, uv_loop_t *loop, struct sup_logfile *lf,
                     const char *label, const char *stream);

/* Starts reading, once uv_spawn() has opened c->pipe. Returns 0 or a
 * negative libuv error. */
int sup_capture_start(struct sup_capture *c);

/* Writes the unfinished line, if any, stops reading and closes the pipe;
 * cb (may be NULL) runs once c's memory is released, from the loop. Safe
 * to call from on_line or on_eof; later calls do nothing. */
void sup_capture_close(struct sup_capture *c, sup_capture_close_cb cb);

#endif
