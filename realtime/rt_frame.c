/* rt_frame — WebSocket frame parsing and encoding. See rt_frame.h. */
#include "rt_frame.h"

#include <string.h>
#include <uv.h>

#include "util_swar.h"

#define FEED_STOPPED 1

/* ---- UTF-8 ---- */

/* A state is RT_UTF8_ACCEPT, RT_UTF8_REJECT, or (continuation bytes still
 * needed << 8 | the range the next one must be in). The ranges keep out
 * overlong forms, surrogates and code points past U+10FFFF. */
enum { R_ANY = 0, R_E0, R_ED, R_F0, R_F4 };

static const uint8_t range_lo[] = {0x80, 0xA0, 0x80, 0x90, 0x80};
static const uint8_t range_hi[] = {0xBF, 0xBF, 0x9F, 0xBF, 0x8F};

/* The state after lead byte c, or RT_UTF8_REJECT. */
static uint32_t utf8_lead(uint8_t c) {
  if (c < 0xC2)
    return RT_UTF8_REJECT; /* a continuation byte, or an overlong 2-byte lead */
  if (c < 0xE0)
    return 1u << 8 | R_ANY;
  if (c < 0xF0)
    return 2u << 8 | (c == 0xE0 ? R_E0 : c == 0xED ? R_ED : R_ANY);
  if (c < 0xF5)
    return 3u << 8 | (c == 0xF0 ? R_F0 : c == 0xF4 ? R_F4 : R_ANY);
  return RT_UTF8_REJECT;
}

/* Nonzero when one of the 8 bytes at p is not ASCII. */
static uint64_t ascii8(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v & UTIL_SWAR_HIGH;
}

uint32_t rt_utf8_feed(uint32_t st, const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n && st != RT_UTF8_REJECT) {
    if (st == RT_UTF8_ACCEPT) {
      if (n - i >= 8 && !ascii8(p + i)) {
        i += 8;
        continue;
      }
      st = p[i] < 0x80 ? RT_UTF8_ACCEPT : utf8_lead(p[i]);
    } else {
      unsigned need = st >> 8, r = st & 0xff;
      if (p[i] < range_lo[r] || p[i] > range_hi[r])
        return RT_UTF8_REJECT;
      st = need == 1 ? RT_UTF8_ACCEPT : (need - 1) << 8 | R_ANY;
    }
    i++;
  }
  return st;
}

/* ---- Parser ---- */

void rt_frame_init(struct rt_frame_parser *p, uint64_t max_message) {
  memset(p, 0, sizeof(*p));
  p->max_message = max_message;
  p->head_need = 2;
  ipc_buf_init(&p->msg);
  ipc_buf_init(&p->ctl);
}

void rt_frame_free(struct rt_frame_parser *p) {
  ipc_buf_free(&p->msg);
  ipc_buf_free(&p->ctl);
}

static int fail(struct rt_frame_parser *p, uint16_t code, const char *why) {
  p->error = code;
  p->why = why;
  return code;
}

int rt_close_code_valid(unsigned code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
         (code >= 3000 && code <= 4999);
}

static int is_control(uint8_t op) {
  return op >= RT_OP_CLOSE;
}

/* The frame's opcode and bits are known (2 header bytes): checks them. */
static int check_start(struct rt_frame_parser *p) {
  uint8_t b0 = p->head[0], b1 = p->head[1], op = b0 & 0x0f, len7 = b1 & 0x7f;
  if (b0 & 0x70)
    return fail(p, RT_CLOSE_PROTOCOL, "a reserved bit is set (no extension was agreed)");
  if (!(b1 & 0x80))
    return fail(p, RT_CLOSE_PROTOCOL, "a client frame that is not masked");
  if ((op > RT_OP_BINARY && op < RT_OP_CLOSE) || op > RT_OP_PONG)
    return fail(p, RT_CLOSE_PROTOCOL, "an unknown opcode");
  if (is_control(op) && (!(b0 & 0x80) || len7 > 125))
    return fail(p, RT_CLOSE_PROTOCOL, "a control frame fragmented or over 125 bytes");
  if (op == RT_OP_CONT && p->msg_op == 0)
    return fail(p, RT_CLOSE_PROTOCOL, "a continuation frame with no message to continue");
  if ((op == RT_OP_TEXT || op == RT_OP_BINARY) && p->msg_op != 0)
    return fail(p, RT_CLOSE_PROTOCOL, "a new message before the last one ended");
  p->op = op;
  p->fin = b0 >> 7;
  p->head_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
  return 0;
}

/* The whole header is read: the length and the mask. */
static int check_length(struct rt_frame_parser *p) {
  uint8_t len7 = p->head[1] & 0x7f;
  uint64_t len = len7;
  size_t k = 2;
  if (len7 >= 126) {
    size_t n = len7 == 126 ? 2 : 8;
    len = 0;
    for (size_t i = 0; i < n; i++)
      len = len << 8 | p->head[k++];
    if ((len7 == 126 && len < 126) || (len7 == 127 && (len < 65536 || len >> 63)))
      return fail(p, RT_CLOSE_PROTOCOL, "a frame length not in its shortest form");
  }
  memcpy(p->mask, p->head + k, 4);
  if (!is_control(p->op) && p->msg.len + len > p->max_message)
    return fail(p, RT_CLOSE_TOO_BIG, "a message over ws_max_message_bytes");
  if (p->op == RT_OP_TEXT || p->op == RT_OP_BINARY) {
    p->msg_op = p->op;
    p->utf8 = RT_UTF8_ACCEPT;
  }
  if (is_control(p->op)) {
    ipc_buf_reset(&p->ctl);
    p->ctl_utf8 = RT_UTF8_ACCEPT;
  }
  p->left = len;
  p->pos = 0;
  return 0;
}

/* Reads header bytes; returns how many were taken, or -1 on an error. */
static long read_head(struct rt_frame_parser *p, const uint8_t *in, size_t n) {
  size_t take = 0;
  while (take < n && p->head_len < p->head_need) {
    p->head[p->head_len++] = in[take++];
    if (p->head_len == 2 && check_start(p))
      return -1;
    if (p->head_len == p->head_need && check_length(p))
      return -1;
  }
  return (long)take;
}

/* Unmasks n payload bytes into dst. */
static void unmask(struct rt_frame_parser *p, uint8_t *dst, const uint8_t *src, size_t n) {
  for (size_t i = 0; i < n; i++)
    dst[i] = src[i] ^ p->mask[(p->pos + i) & 3];
  p->pos += n;
}

/* Payload bytes of the current frame into the message or the control
 * buffer, UTF-8 checked as they come. Returns 0 or a close code. */
static int take_payload(struct rt_frame_parser *p, const uint8_t *in, size_t n) {
  struct ipc_buf *b = is_control(p->op) ? &p->ctl : &p->msg;
  size_t at = b->len;
  if (ipc_buf_reserve(b, n) != 0)
    return fail(p, RT_CLOSE_INTERNAL, "out of memory");
  uint64_t before = p->pos;
  unmask(p, (uint8_t *)b->data + at, in, n);
  b->len += n;
  p->left -= n;
  if (p->op == RT_OP_CLOSE) {
    /* The reason (after the 2-byte code) must be UTF-8. */
    size_t skip = before >= 2 ? 0 : (size_t)(2 - before);
    if (skip < n)
      p->ctl_utf8 = rt_utf8_feed(p->ctl_utf8, (uint8_t *)b->data + at + skip, n - skip);
    if (p->ctl_utf8 == RT_UTF8_REJECT)
      return fail(p, RT_CLOSE_INVALID_DATA, "a close reason that is not UTF-8");
  } else if (b == &p->msg && p->msg_op == RT_OP_TEXT) {
    p->utf8 = rt_utf8_feed(p->utf8, (uint8_t *)b->data + at, n);
    if (p->utf8 == RT_UTF8_REJECT)
      return fail(p, RT_CLOSE_INVALID_DATA, "a text message that is not UTF-8");
  }
  return 0;
}

/* A control frame is complete: its event. Returns 0 or a close code. */
static int end_control(struct rt_frame_parser *p, struct rt_frame_event *ev) {
  ev->op = (enum rt_op)p->op;
  ev->data = p->ctl.data ? p->ctl.data : "";
  ev->len = p->ctl.len;
  ev->code = 0;
  if (p->op != RT_OP_CLOSE)
    return 0;
  if (p->ctl.len == 1)
    return fail(p, RT_CLOSE_PROTOCOL, "a close frame with a 1-byte payload");
  if (p->ctl.len == 0) {
    ev->code = RT_CLOSE_NO_STATUS;
    return 0;
  }
  if (p->ctl_utf8 != RT_UTF8_ACCEPT)
    return fail(p, RT_CLOSE_INVALID_DATA, "a close reason that is not UTF-8");
  ev->code = (uint16_t)((uint8_t)p->ctl.data[0] << 8 | (uint8_t)p->ctl.data[1]);
  if (!rt_close_code_valid(ev->code))
    return fail(p, RT_CLOSE_PROTOCOL, "a close frame with an invalid code");
  ev->data += 2;
  ev->len -= 2;
  return 0;
}

/* A frame is complete. Fills ev and returns 1 when it ends a message or
 * is a control frame, 0 when a message goes on, or a close code. */
static int end_frame(struct rt_frame_parser *p, struct rt_frame_event *ev) {
  p->head_len = 0;
  p->head_need = 2;
  if (is_control(p->op)) {
    int rc = end_control(p, ev);
    return rc ? rc : 1;
  }
  if (!p->fin)
    return 0;
  if (p->msg_op == RT_OP_TEXT && p->utf8 != RT_UTF8_ACCEPT)
    return fail(p, RT_CLOSE_INVALID_DATA, "a text message that ends inside a character");
  ev->op = (enum rt_op)p->msg_op;
  ev->data = p->msg.data ? p->msg.data : "";
  ev->len = p->msg.len;
  ev->code = 0;
  p->msg_op = 0;
  return 1;
}

/* After a message was handed over: its bytes go. */
static void after_event(struct rt_frame_parser *p, const struct rt_frame_event *ev) {
  if (ev->op == RT_OP_TEXT || ev->op == RT_OP_BINARY) {
    if (p->msg.cap > 65536)
      ipc_buf_free(&p->msg); /* a big message once: its memory goes back */
    else
      ipc_buf_reset(&p->msg);
  }
}

int rt_frame_feed(struct rt_frame_parser *p, const char *data, size_t len, size_t *used,
                  rt_frame_cb cb, void *ctx) {
  const uint8_t *in = (const uint8_t *)data;
  size_t off = 0;
  *used = 0;
  if (p->error)
    return p->error;
  while (off < len || (p->head_len == p->head_need && p->left == 0)) {
    if (p->head_len < p->head_need) {
      long k = read_head(p, in + off, len - off);
      if (k < 0)
        return p->error;
      off += (size_t)k;
      if (p->head_len < p->head_need)
        break;
    }
    size_t n = p->left < len - off ? (size_t)p->left : len - off;
    if (n > 0 && take_payload(p, in + off, n))
      return p->error;
    off += n;
    if (p->left > 0)
      break;
    struct rt_frame_event ev;
    int rc = end_frame(p, &ev);
    if (rc > 1)
      return rc;
    if (rc == 1) {
      int stop = cb(ctx, &ev);
      after_event(p, &ev);
      if (stop) {
        *used = off;
        return FEED_STOPPED;
      }
    }
  }
  *used = off;
  return 0;
}

/* ---- Encoder ---- */

size_t rt_frame_header(uint8_t *out, enum rt_op op, uint64_t len) {
  out[0] = (uint8_t)(0x80 | op);
  if (len < 126) {
    out[1] = (uint8_t)len;
    return 2;
  }
  if (len < 65536) {
    out[1] = 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; i++)
    out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
  return 10;
}

void rt_frame_append(struct ipc_buf *b, enum rt_op op, const void *payload, size_t len) {
  uint8_t h[10];
  size_t n = rt_frame_header(h, op, len);
  ipc_buf_add(b, h, n);
  ipc_buf_add(b, payload, len);
}

void rt_frame_append_close(struct ipc_buf *b, uint16_t code, const char *reason, size_t len) {
  uint8_t payload[125];
  if (len > 123) {
    len = 123;
    while (len > 0 && ((uint8_t)reason[len] & 0xC0) == 0x80)
      len--; /* not inside a character */
  }
  payload[0] = (uint8_t)(code >> 8);
  payload[1] = (uint8_t)code;
  if (len)
    memcpy(payload + 2, reason, len);
  rt_frame_append(b, RT_OP_CLOSE, payload, len + 2);
}
