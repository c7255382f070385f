/* fuzz_ws — WebSocket frames (rt_frame), checked against Debian's wslay.
 *
 * The input is what a client sends (masked frames). It goes to rt_frame
 * (the server's side, messages of at most 4096 bytes, 200 for one input
 * in four so that 1009 comes with small inputs too) and to a wslay server
 * context (wslay_event_context_server_init, the same max_recv_msg_length,
 * a recv callback serving the bytes), each twice: whole, and cut into
 * pieces (sizes 1 to 17, now and then up to 200, from a hash of the
 * input; rt_frame's callback then also stops the feed after every event,
 * and the rest is fed again). wslay is the oracle only: it is linked into
 * this driver and its replay binary, never into muster.
 *
 * Each side's outcome is the messages it reported (opcode and bytes; a
 * close frame's code and reason), the frames it answered with (a pong for
 * each ping, then the close: the client's echoed, or the error's code)
 * and how it ended: still open, closed by the client, or failed with a
 * code (1002, 1007, 1009). rt_frame's answers are made with
 * rt_frame_append and rt_frame_append_close, so the bytes on the wire are
 * compared too. Both sides must agree, but for these differences, which
 * are intended and encoded here (expect_of, pad_of, close_cuts):
 * - A close frame with a 1-byte payload: wslay takes it as a close without
 *   a code (and answers one); rt_frame fails it with 1002 (RFC 6455
 *   §5.5.1: a body starts with a 2-byte code).
 * - A protocol error wslay finds in a frame header (a control frame
 *   fragmented or over 125 bytes, a length not in its shortest form or
 *   with the top bit set) makes wslay_event_recv fail and send a close
 *   with no code at all; rt_frame sends 1002, as for every other protocol
 *   error (wslay too sends 1002 for the ones it finds later).
 * - When a frame is judged: rt_frame checks bits, opcode and the order of
 *   frames at a header's 2nd byte and the length (shortest form, the
 *   limit) once the header with its mask is complete; wslay checks the
 *   shortest form at the end of the length (4 bytes earlier), everything
 *   else only at the frame's first payload byte (or its end when empty).
 *   So when the input ends inside the deciding frame, one side may have
 *   failed while the other is still open: the open one is then given the
 *   rest of that frame's header and one payload byte (pad_of: bytes that
 *   cannot themselves make the header invalid), and must fail alike.
 * - wslay 1.1.1 checks a close reason's UTF-8 from the 3rd byte of every
 *   chunk it reads (lib/wslay_event.c: `i = 2` for each iocb), not of the
 *   payload, so a close frame cut between reads is judged on the wrong
 *   bytes. The wslay runs get the first close frame's payload in one read
 *   (close_cuts; only it counts: a close ends both parsers); rt_frame gets
 *   it cut like the rest.
 * - wslay drops pongs still queued when it queues a close; the driver
 *   sends wslay's pong as soon as its ping is reported, so every ping is
 *   answered on both sides.
 * (Close codes agree: rt_close_code_valid allows 1000-1003, 1007-1011 and
 * 3000-4999, as wslay_event_is_valid_status_code does; so does the UTF-8
 * check: both refuse overlongs, surrogates and code points past U+10FFFF
 * at the first byte that cannot be part of a valid form.)
 *
 * rt_frame's own invariants: whole and in pieces it reports the same; no
 * message is over the limit and no control payload over 125 bytes; text
 * and close reasons are UTF-8; a failure has its code in p->error and a
 * sentence in p->why and stays: any later feed returns it, takes nothing
 * and reports nothing. Round trip: the reported messages encoded as server
 * frames (rt_frame_append, rt_frame_append_close), read by a wslay client
 * context, and masked and fed to a new rt_frame parser, are the same
 * messages. */
#include <string.h>
#include <wslay/wslay.h>

#include "fuzz.h"
#include "ipc_buf.h"
#include "ipc_text.h"
#include "rt_frame.h"

#define MAX_PAD 15 /* the longest header (2 + 8 + 4) and one payload byte */

enum { OPEN = 0, CLOSED, FAILED };

static const char *const state_names[] = {"open", "closed by the client", "failed"};

/* What one parser made of the input. */
struct outcome {
  struct ipc_buf log; /* a record per message: op (1 byte), code (2), length (4), bytes */
  size_t last;        /* where the last record starts */
  struct ipc_buf out; /* the frames it answered with */
  int state;          /* OPEN, CLOSED or FAILED */
  unsigned code;      /* CLOSED: the client's code (1005: none); FAILED: its own */
};

static void outcome_init(struct outcome *o) {
  memset(o, 0, sizeof(*o));
  ipc_buf_init(&o->log);
  ipc_buf_init(&o->out);
}

static void outcome_free(struct outcome *o) {
  ipc_buf_free(&o->log);
  ipc_buf_free(&o->out);
}

static void outcome_copy(struct outcome *dst, const struct outcome *src) {
  outcome_init(dst);
  ipc_buf_add(&dst->log, src->log.data, src->log.len);
  ipc_buf_add(&dst->out, src->out.data, src->out.len);
  dst->last = src->last;
  dst->state = src->state;
  dst->code = src->code;
}

static void record(struct outcome *o, unsigned op, unsigned code, const void *p, size_t n) {
  uint8_t h[7] = {(uint8_t)op, (uint8_t)(code >> 8), (uint8_t)code};
  for (int i = 0; i < 4; i++)
    h[3 + i] = (uint8_t)(n >> (24 - 8 * i));
  o->last = o->log.len;
  ipc_buf_add(&o->log, h, sizeof(h));
  ipc_buf_add(&o->log, p, n);
}

/* Reads the record at *off: 1 with its fields, 0 at the end. */
static int next_record(const struct ipc_buf *log, size_t *off, unsigned *op, unsigned *code,
                       const char **p, size_t *n) {
  if (*off + 7 > log->len)
    return 0; /* (log->data may be NULL: nothing was logged) */
  const uint8_t *h = (const uint8_t *)log->data + *off;
  *op = h[0];
  *code = (unsigned)h[1] << 8 | h[2];
  *n = (size_t)h[3] << 24 | (size_t)h[4] << 16 | (size_t)h[5] << 8 | h[6];
  *p = log->data + *off + 7;
  *off += 7 + *n;
  return 1;
}

/* 1 when p[0..n) is UTF-8. ipc_utf8_valid refuses NUL (a cJSON string
 * cannot hold one) where WebSocket text may have U+0000; a NUL is never
 * inside a character, so the parts between NULs are checked. */
static int utf8_ok(const char *p, size_t n) {
  while (n > 0) {
    const char *z = memchr(p, '\0', n);
    size_t k = z ? (size_t)(z - p) : n;
    if (k > 0 && !ipc_utf8_valid(p, k))
      return 0;
    p += k + (z != NULL);
    n -= k + (z != NULL);
  }
  return 1;
}

/* ---- Printing an outcome (when a check fails) ---- */

static const char *op_name(unsigned op) {
  switch (op) {
  case RT_OP_TEXT:
    return "text";
  case RT_OP_BINARY:
    return "binary";
  case RT_OP_CLOSE:
    return "close";
  case RT_OP_PING:
    return "ping";
  case RT_OP_PONG:
    return "pong";
  default:
    return "?";
  }
}

static void print_bytes(const char *p, size_t n) {
  for (size_t i = 0; i < n && i < 48; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 0x20 && c < 0x7f && c != '\\')
      fputc(c, stderr);
    else
      fprintf(stderr, "\\x%02x", c);
  }
  fprintf(stderr, "%s", n > 48 ? "..." : "");
}

static void print_outcome(const char *name, const struct outcome *o) {
  size_t off = 0, n;
  unsigned op, code;
  const char *p;
  fprintf(stderr, "%s: %s", name, state_names[o->state]);
  if (o->state != OPEN)
    fprintf(stderr, " (%u)", o->code);
  fprintf(stderr, "\n");
  while (next_record(&o->log, &off, &op, &code, &p, &n)) {
    fprintf(stderr, "  %s", op_name(op));
    if (op == RT_OP_CLOSE)
      fprintf(stderr, " %u", code);
    fprintf(stderr, " [%zu] ", n);
    print_bytes(p, n);
    fprintf(stderr, "\n");
  }
  fprintf(stderr, "  answered [%zu]: ", o->out.len);
  print_bytes(o->out.data, o->out.len);
  fprintf(stderr, "\n");
}

static int same_buf(const struct ipc_buf *a, const struct ipc_buf *b) {
  return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Fails unless a and b are the same outcome. */
static void check_same(const char *what, const struct outcome *a, const char *an,
                       const struct outcome *b, const char *bn) {
  int same = a->state == b->state && a->code == b->code && same_buf(&a->log, &b->log) &&
             same_buf(&a->out, &b->out);
  if (!same) {
    print_outcome(an, a);
    print_outcome(bn, b);
  }
  FUZZ_CHECK(same, "%s: %s and %s disagree (above)", what, an, bn);
}

/* ---- The frames of the input, walked over their headers ---- */

/* The header of the frame at p[0..n) (n >= 2): its size, and its payload
 * length once the header is all there (else *len is not set). */
static size_t header_size(const uint8_t *p, size_t n, uint64_t *len) {
  uint8_t len7 = p[1] & 0x7f;
  size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0, size = 2 + ext + (p[1] & 0x80 ? 4 : 0);
  if (n >= size) {
    *len = len7;
    if (ext) {
      *len = 0;
      for (size_t i = 0; i < ext; i++)
        *len = *len << 8 | p[2 + i];
    }
  }
  return size;
}

/* Walks the input frame by frame, with no check (the frames before the
 * deciding one are the same for every parser): *last is where the last
 * frame starts (== size when the input ends at a frame's end); *close_at
 * and *close_end the first close frame's payload in the input (both size
 * when no close frame header is complete). */
static void walk(const uint8_t *data, size_t size, size_t *last, size_t *close_at,
                 size_t *close_end) {
  size_t s = 0;
  *close_at = *close_end = size;
  while (size - s >= 2) {
    uint64_t len = 0;
    size_t h = header_size(data + s, size - s, &len);
    if (size - s < h)
      break;
    if ((data[s] & 0x0f) == RT_OP_CLOSE && *close_at == size) {
      *close_at = s + h;
      *close_end = len < size - *close_at ? *close_at + (size_t)len : size;
    }
    if (len > size - s - h)
      break;
    s += h + (size_t)len;
  }
  *last = s;
}

/* The bytes a side still open is given when the other one failed inside
 * the last frame (see the top): the rest of its header, then one payload
 * byte unless it is empty. The length bytes added keep the length in
 * its shortest form whenever the bytes already there allow it (all 0xff,
 * the top bit clear), so only the input can make the header invalid.
 * Returns their count (0 when the input ends at a frame's end). */
static size_t pad_of(const uint8_t *data, size_t size, uint8_t *pad) {
  size_t last, ca, ce, n = 0;
  walk(data, size, &last, &ca, &ce);
  size_t have = size - last;
  if (have < 2)
    return 0;
  uint8_t h[14];
  uint64_t len = 0;
  size_t hs = header_size(data + last, have, &len), ext = hs - 2 - (data[last + 1] & 0x80 ? 4 : 0);
  memcpy(h, data + last, have < hs ? have : hs);
  for (size_t i = have; i < hs; i++) {
    h[i] = i >= 2 + ext ? 0x00 : ext == 8 && i == 2 ? 0x7f : 0xff;
    pad[n++] = h[i];
  }
  header_size(h, hs, &len);
  if (len > 0 && have <= hs)
    pad[n++] = 'x';
  return n;
}

/* ---- rt_frame's side ---- */

struct rt_run {
  struct rt_frame_parser p;
  struct outcome o;
  uint64_t max;
  int stop_each; /* the callback stops the feed after every event */
  int forbid;    /* an event now is a bug (after a failure) */
};

static int on_rt_event(void *ctx, const struct rt_frame_event *ev) {
  struct rt_run *r = ctx;
  FUZZ_CHECK(!r->forbid, "an event (op %d) after a failure", (int)ev->op);
  FUZZ_CHECK(ev->data != NULL, "an event without data (op %d)", (int)ev->op);
  switch (ev->op) {
  case RT_OP_TEXT:
    FUZZ_CHECK(utf8_ok(ev->data, ev->len), "a text message that is not UTF-8");
    /* FALLTHROUGH */
  case RT_OP_BINARY:
    FUZZ_CHECK(ev->len <= r->max, "a message of %zu bytes, over the limit %llu", ev->len,
               (unsigned long long)r->max);
    break;
  case RT_OP_PING:
  case RT_OP_PONG:
    FUZZ_CHECK(ev->len <= 125, "a control payload of %zu bytes", ev->len);
    break;
  case RT_OP_CLOSE:
    if (ev->code == RT_CLOSE_NO_STATUS)
      FUZZ_CHECK(ev->len == 0, "a close without a code but with a reason");
    else
      FUZZ_CHECK(rt_close_code_valid(ev->code) && ev->len <= 123 && utf8_ok(ev->data, ev->len),
                 "a close with code %u and a reason of %zu bytes", (unsigned)ev->code, ev->len);
    break;
  default:
    FUZZ_CHECK(0, "an event with opcode %d", (int)ev->op);
  }
  record(&r->o, ev->op, ev->op == RT_OP_CLOSE ? ev->code : 0, ev->data, ev->len);
  if (ev->op == RT_OP_PING)
    rt_frame_append(&r->o.out, RT_OP_PONG, ev->data, ev->len);
  if (ev->op == RT_OP_CLOSE) {
    if (ev->code == RT_CLOSE_NO_STATUS)
      rt_frame_append(&r->o.out, RT_OP_CLOSE, NULL, 0);
    else
      rt_frame_append_close(&r->o.out, ev->code, ev->data, ev->len);
    r->o.state = CLOSED;
    r->o.code = ev->code;
    return 1; /* nothing after a close */
  }
  return r->stop_each;
}

static void rt_run_init(struct rt_run *r, uint64_t max, int stop_each) {
  rt_frame_init(&r->p, max);
  outcome_init(&r->o);
  r->max = max;
  r->stop_each = stop_each;
  r->forbid = 0;
}

static void rt_run_free(struct rt_run *r) {
  rt_frame_free(&r->p);
  outcome_free(&r->o);
}

/* Feeds n bytes (all of them, unless it closes or fails). */
static void rt_run_feed(struct rt_run *r, const uint8_t *p, size_t n) {
  while (r->o.state == OPEN) {
    size_t used = (size_t)-1;
    int rc = rt_frame_feed(&r->p, (const char *)p, n, &used, on_rt_event, r);
    if (rc == 0) {
      FUZZ_CHECK(used == n, "rt_frame_feed returned 0 having taken %zu of %zu bytes", used, n);
      return;
    }
    if (rc == 1) {
      FUZZ_CHECK(used > 0 && used <= n, "stopped having taken %zu of %zu bytes", used, n);
      p += used;
      n -= used;
      if (n == 0)
        return;
      continue;
    }
    FUZZ_CHECK(rc == RT_CLOSE_PROTOCOL || rc == RT_CLOSE_INVALID_DATA || rc == RT_CLOSE_TOO_BIG,
               "rt_frame_feed returned %d", rc);
    FUZZ_CHECK(r->p.error == rc && r->p.why != NULL, "failed with %d, but error %u, why %s", rc,
               (unsigned)r->p.error, r->p.why ? r->p.why : "(none)");
    r->o.state = FAILED;
    r->o.code = (unsigned)rc;
    rt_frame_append_close(&r->o.out, (uint16_t)rc, NULL, 0);
  }
}

/* ---- wslay's side ---- */

struct ws_run {
  wslay_event_context_ptr ctx;
  struct outcome o;
  const uint8_t *at, *end; /* what the recv callback still has */
  int client;              /* a client context (reading server frames) */
  int frame_error;         /* wslay_event_recv failed: a header it refused */
  int close_len1;          /* the client's close had a 1-byte payload */
};

static ssize_t on_ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *user) {
  struct ws_run *w = user;
  size_t n = (size_t)(w->end - w->at);
  if (n == 0) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  if (n > len)
    n = len;
  memcpy(buf, w->at, n);
  w->at += n;
  return (ssize_t)n;
}

static ssize_t on_ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                          void *user) {
  struct ws_run *w = user;
  ipc_buf_add(&w->o.out, data, len);
  return (ssize_t)len;
}

static void on_ws_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user) {
  struct ws_run *w = user;
  if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
    w->close_len1 = arg->msg_length == 1;
    record(&w->o, arg->opcode, arg->status_code ? arg->status_code : RT_CLOSE_NO_STATUS,
           arg->msg_length >= 2 ? arg->msg + 2 : NULL,
           arg->msg_length >= 2 ? arg->msg_length - 2 : 0);
  } else {
    record(&w->o, arg->opcode, 0, arg->msg, arg->msg_length);
  }
  if (arg->opcode == WSLAY_PING && !w->client)
    FUZZ_CHECK(wslay_event_send(ctx) == 0, "wslay_event_send failed"); /* its pong, now */
}

static void ws_run_init(struct ws_run *w, uint64_t max, int client) {
  struct wslay_event_callbacks cb = {
      .recv_callback = on_ws_recv, .send_callback = on_ws_send, .on_msg_recv_callback = on_ws_msg};
  memset(w, 0, sizeof(*w));
  outcome_init(&w->o);
  w->client = client;
  int rc = client ? wslay_event_context_client_init(&w->ctx, &cb, w)
                  : wslay_event_context_server_init(&w->ctx, &cb, w);
  FUZZ_CHECK(rc == 0, "wslay_event_context_*_init: %d", rc);
  wslay_event_config_set_max_recv_msg_length(w->ctx, max);
}

static void ws_run_free(struct ws_run *w) {
  wslay_event_context_free(w->ctx);
  outcome_free(&w->o);
}

/* Gives wslay n more bytes (it reads them all unless it stops reading). */
static void ws_run_feed(struct ws_run *w, const uint8_t *p, size_t n) {
  if (w->o.state != OPEN)
    return;
  w->at = p;
  w->end = n ? p + n : p; /* p may be NULL with n 0 */
  int rc = wslay_event_recv(w->ctx);
  FUZZ_CHECK(rc == 0 || rc == WSLAY_ERR_CALLBACK_FAILURE, "wslay_event_recv: %d", rc);
  if (!w->client)
    FUZZ_CHECK(wslay_event_send(w->ctx) == 0, "wslay_event_send failed");
  if (rc == WSLAY_ERR_CALLBACK_FAILURE) {
    w->frame_error = 1;
    w->o.state = FAILED;
    w->o.code = wslay_event_get_status_code_sent(w->ctx); /* 1005: none */
  } else if (!wslay_event_get_read_enabled(w->ctx)) {
    w->o.state = wslay_event_get_close_received(w->ctx) ? CLOSED : FAILED;
    w->o.code = w->o.state == CLOSED ? wslay_event_get_status_code_received(w->ctx)
                                     : wslay_event_get_status_code_sent(w->ctx);
  } else {
    FUZZ_CHECK(w->at == w->end, "wslay left %zu bytes unread", (size_t)(w->end - w->at));
  }
}

/* Where the last frame of server frames b starts (b->len when empty). */
static size_t last_frame(const struct ipc_buf *b) {
  size_t off = 0, last = b->len;
  const uint8_t *p = (const uint8_t *)b->data;
  while (b->len - off >= 2) {
    uint64_t len = 0;
    size_t h = header_size(p + off, b->len - off, &len);
    FUZZ_CHECK(b->len - off >= h && len <= b->len - off - h, "a server frame cut short");
    last = off;
    off += h + (size_t)len;
  }
  FUZZ_CHECK(off == b->len, "a byte after the server frames");
  return last;
}

/* What rt_frame must make of the input, given what wslay made of it: the
 * differences in the outcome (see the top). Fills e (outcome_free it). */
static void expect_of(const struct ws_run *w, struct outcome *e) {
  outcome_copy(e, &w->o);
  if (w->frame_error || (w->o.state == CLOSED && w->close_len1)) {
    /* wslay answered with a close without a code; rt_frame fails 1002 */
    size_t k = last_frame(&e->out);
    FUZZ_CHECK(e->out.len - k == 2 && (uint8_t)e->out.data[k] == 0x88 && e->out.data[k + 1] == 0,
               "wslay did not answer with an empty close");
    e->out.len = k;
    rt_frame_append_close(&e->out, RT_CLOSE_PROTOCOL, NULL, 0);
    if (!w->frame_error)
      e->log.len = w->o.last; /* the 1-byte close is not a message */
    e->state = FAILED;
    e->code = RT_CLOSE_PROTOCOL;
  }
}

/* ---- Runs ---- */

/* Feeds data to r (or w) in the pieces between cuts[0..n). */
static void rt_feed_cut(struct rt_run *r, const uint8_t *data, size_t size, const size_t *cuts,
                        size_t n) {
  size_t off = 0;
  for (size_t i = 0; i <= n; i++) {
    size_t end = i < n ? cuts[i] : size;
    rt_run_feed(r, data + off, end - off);
    off = end;
  }
}

static void ws_feed_cut(struct ws_run *w, const uint8_t *data, size_t size, const size_t *cuts,
                        size_t n) {
  size_t off = 0;
  for (size_t i = 0; i <= n; i++) {
    size_t end = i < n ? cuts[i] : size;
    ws_run_feed(w, data + off, end - off);
    off = end;
  }
}

/* Cut points for the pieces, from the hash h: 1 to 17 bytes, one piece
 * in eight up to 200, at most about 256 pieces. Returns their count. */
static size_t make_cuts(size_t size, uint32_t h, size_t *cuts) {
  size_t n = 0, min = size / 256 + 1, off = 0;
  for (;;) {
    h = h * 1103515245u + 12345u;
    size_t piece = (h >> 16) % 8 == 0 ? (h >> 19) % 200 + 1 : (h >> 19) % 17 + 1;
    off += piece < min ? min : piece;
    if (off >= size)
      return n;
    cuts[n++] = off;
  }
}

/* wslay's cuts: cuts without those inside the first close frame's payload,
 * with one where it starts (see the top). Returns their count. */
static size_t close_cuts(const size_t *cuts, size_t n, size_t close_at, size_t close_end,
                         size_t size, size_t *out) {
  size_t k = 0, i = 0;
  for (; i < n && cuts[i] < close_at; i++)
    out[k++] = cuts[i];
  if (close_at > 0 && close_at < size)
    out[k++] = close_at;
  for (; i < n; i++)
    if (cuts[i] >= close_end && cuts[i] > close_at)
      out[k++] = cuts[i];
  return k;
}

/* Compares rt_frame with wslay on one way of cutting the input, after
 * giving the side still open the padding when the other one failed. */
static void check_against_wslay(const char *how, struct rt_run *r, struct ws_run *w,
                                const uint8_t *pad, size_t npad) {
  if (r->o.state == FAILED && w->o.state == OPEN)
    ws_run_feed(w, pad, npad);
  else if (w->o.state == FAILED && r->o.state == OPEN)
    rt_run_feed(r, pad, npad);
  struct outcome e;
  expect_of(w, &e);
  check_same(how, &r->o, "rt_frame", &e, "wslay (as rt_frame should see it)");
  outcome_free(&e);
}

/* A failed parser stays failed: any feed returns its code, takes nothing
 * and reports nothing. */
static void check_sticky(struct rt_run *r, const uint8_t *data, size_t size) {
  static const char valid[] = "\x81\x80\0\0\0\0"; /* an empty text message */
  size_t used = 1;
  r->forbid = 1;
  int rc = rt_frame_feed(&r->p, valid, sizeof(valid) - 1, &used, on_rt_event, r);
  FUZZ_CHECK(rc == (int)r->o.code && used == 0, "after %u: %d, %zu bytes taken", r->o.code, rc,
             used);
  used = 1;
  rc = rt_frame_feed(&r->p, (const char *)data, size, &used, on_rt_event, r);
  FUZZ_CHECK(rc == (int)r->o.code && used == 0, "after %u: %d, %zu bytes taken", r->o.code, rc,
             used);
}

/* The reported messages as server frames (rt_frame_append) read by a
 * wslay client, and masked (key from h) and read by a new rt_frame: the
 * same messages. */
static void check_roundtrip(const struct outcome *o, uint64_t max, uint32_t h) {
  struct ipc_buf srv, cli;
  size_t off = 0, n;
  unsigned op, code;
  const char *p;
  ipc_buf_init(&srv);
  ipc_buf_init(&cli);
  while (next_record(&o->log, &off, &op, &code, &p, &n)) {
    if (op == RT_OP_CLOSE && code != RT_CLOSE_NO_STATUS)
      rt_frame_append_close(&srv, (uint16_t)code, p, n);
    else
      rt_frame_append(&srv, (enum rt_op)op, p, n);
  }
  FUZZ_CHECK(!srv.oom, "out of memory");
  /* Masked: the mask bit, a key after the length, the payload XORed. */
  uint8_t key[4] = {(uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h};
  for (size_t s = 0; s < srv.len;) {
    uint64_t len = 0;
    const uint8_t *f = (const uint8_t *)srv.data + s;
    size_t hs = header_size(f, srv.len - s, &len);
    FUZZ_CHECK(!(f[1] & 0x80) && srv.len - s >= hs + len, "rt_frame_append made a bad frame");
    ipc_buf_addc(&cli, (char)f[0]);
    ipc_buf_addc(&cli, (char)(f[1] | 0x80));
    ipc_buf_add(&cli, f + 2, hs - 2);
    ipc_buf_add(&cli, key, 4);
    for (uint64_t i = 0; i < len; i++)
      ipc_buf_addc(&cli, (char)(f[hs + i] ^ key[i & 3]));
    s += hs + (size_t)len;
  }
  FUZZ_CHECK(!cli.oom, "out of memory");
  int state = o->state == CLOSED ? CLOSED : OPEN;
  struct rt_run r;
  rt_run_init(&r, max, 0);
  rt_run_feed(&r, (const uint8_t *)cli.data, cli.len);
  FUZZ_CHECK(r.o.state == state, "round trip: %s, not %s", state_names[r.o.state],
             state_names[state]);
  if (!same_buf(&r.o.log, &o->log)) {
    print_outcome("rt_frame", o);
    print_outcome("rt_frame again", &r.o);
    FUZZ_CHECK(0, "round trip through rt_frame changed the messages");
  }
  rt_run_free(&r);
  struct ws_run w;
  ws_run_init(&w, max, 1);
  ws_run_feed(&w, (const uint8_t *)srv.data, srv.len);
  FUZZ_CHECK(w.o.state == state, "server frames read by wslay: %s, not %s", state_names[w.o.state],
             state_names[state]);
  if (!same_buf(&w.o.log, &o->log)) {
    print_outcome("rt_frame", o);
    print_outcome("wslay client", &w.o);
    FUZZ_CHECK(0, "wslay reads the frames rt_frame_append made as other messages");
  }
  ws_run_free(&w);
  ipc_buf_free(&srv);
  ipc_buf_free(&cli);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint32_t h = fuzz_hash(data, size);
  uint64_t max = (h & 3) == 0 ? 200 : 4096;
  size_t *cuts = malloc((size + 1) * sizeof(*cuts)), *wcuts = malloc((size + 2) * sizeof(*cuts));
  size_t last, close_at, close_end, ncuts = make_cuts(size, h, cuts);
  uint8_t pad[MAX_PAD];
  size_t npad = pad_of(data, size, pad);
  walk(data, size, &last, &close_at, &close_end);

  /* rt_frame: whole (one call), then in pieces: the same. */
  struct rt_run whole, split;
  rt_run_init(&whole, max, 0);
  rt_run_feed(&whole, data, size);
  rt_run_init(&split, max, (h >> 8) & 1);
  rt_feed_cut(&split, data, size, cuts, ncuts);
  check_same("whole and in pieces", &whole.o, "rt_frame whole", &split.o, "rt_frame in pieces");
  if (whole.o.state == FAILED)
    check_sticky(&whole, data, size);
  check_roundtrip(&whole.o, max, h);

  /* wslay, the same ways. */
  struct ws_run ws_whole, ws_split;
  size_t nw = close_cuts(NULL, 0, close_at, close_end, size, wcuts);
  ws_run_init(&ws_whole, max, 0);
  ws_feed_cut(&ws_whole, data, size, wcuts, nw);
  check_against_wslay("whole", &whole, &ws_whole, pad, npad);
  nw = close_cuts(cuts, ncuts, close_at, close_end, size, wcuts);
  ws_run_init(&ws_split, max, 0);
  ws_feed_cut(&ws_split, data, size, wcuts, nw);
  check_against_wslay("in pieces", &split, &ws_split, pad, npad);

  ws_run_free(&ws_whole);
  ws_run_free(&ws_split);
  rt_run_free(&whole);
  rt_run_free(&split);
  free(cuts);
  free(wcuts);
  return 0;
}
