/* rt_frame — WebSocket frames (RFC 6455 §5), the server's side. Pure: bytes
 * in, messages out, no I/O (as ipc_frame is for the channel), so it is
 * unit-tested and fuzzed against Debian's wslay (tests/fuzz/fuzz_ws.c).
 *
 * The parser takes what a client sends, in pieces of any size, and
 * reports whole messages (fragments joined) and control frames, or the
 * close code the connection must end with:
 *   1002 protocol error: a reserved bit set (no extension is negotiated),
 *        an unknown opcode, an unmasked frame, a control frame that is
 *        fragmented or over 125 bytes, a continuation with no message or a
 *        new message inside one, a length not in its shortest form or with
 *        the top bit set, a close payload of 1 byte or with an invalid code;
 *   1007 a text message or close reason that is not UTF-8 (checked as the
 *        bytes arrive: it fails at the first bad byte, not at the end);
 *   1009 a message over the limit (known from the frame header, so the
 *        bytes are never buffered).
 * Control frames may come between the fragments of a message. After an
 * error the parser takes nothing more.
 *
 * The encoder writes server frame headers (unmasked). */
#ifndef MUSTER_RT_FRAME_H
#define MUSTER_RT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "ipc_buf.h"

/* Opcodes. */
enum rt_op {
  RT_OP_CONT = 0x0,
  RT_OP_TEXT = 0x1,
  RT_OP_BINARY = 0x2,
  RT_OP_CLOSE = 0x8,
  RT_OP_PING = 0x9,
  RT_OP_PONG = 0xA
};

/* Close codes muster uses. */
enum rt_close_code {
  RT_CLOSE_NORMAL = 1000,
  RT_CLOSE_GOING_AWAY = 1001, /* shutdown */
  RT_CLOSE_PROTOCOL = 1002,
  RT_CLOSE_NO_STATUS = 1005,    /* a close frame without a code (never sent) */
  RT_CLOSE_ABNORMAL = 1006,     /* no close frame at all (never sent) */
  RT_CLOSE_INVALID_DATA = 1007, /* not UTF-8 */
  RT_CLOSE_POLICY = 1008,       /* too slow a consumer */
  RT_CLOSE_TOO_BIG = 1009,
  RT_CLOSE_INTERNAL = 1011,
  RT_CLOSE_TRY_AGAIN = 1013 /* no instance to hear it within hold_ms */
};

/* What the parser found. data/len: the message (text, binary), the
 * payload (ping, pong) or the reason (close); borrowed until the next
 * call. code: the close frame's code, RT_CLOSE_NO_STATUS when it had none. */
struct rt_frame_event {
  enum rt_op op;
  const char *data;
  size_t len;
  uint16_t code;
};

/* Called for each message and control frame; return 0 to go on, or
 * nonzero to stop the feed there (rt_frame_feed then returns). */
typedef int (*rt_frame_cb)(void *ctx, const struct rt_frame_event *ev);

struct rt_frame_parser {
  uint64_t max_message; /* bigger messages: 1009 */
  /* the frame being read */
  uint8_t head[14];  /* its header so far */
  uint8_t head_len;  /* bytes of it read */
  uint8_t head_need; /* bytes it has in all (2 until the length is known) */
  uint8_t op;        /* its opcode */
  uint8_t fin;
  uint8_t mask[4];
  uint64_t left; /* payload bytes still to come */
  uint64_t pos;  /* payload bytes read (for the mask) */
  /* the message being assembled (data frames) */
  uint8_t msg_op;     /* RT_OP_TEXT or RT_OP_BINARY, 0 when none */
  uint32_t utf8;      /* UTF-8 decoder state of the text so far */
  struct ipc_buf msg; /* its bytes */
  struct ipc_buf ctl; /* a control frame's payload (at most 125 bytes) */
  uint32_t ctl_utf8;  /* the close reason's UTF-8 state */
  uint16_t error;     /* the close code once it failed, else 0 */
  const char *why;    /* a sentence for the log */
};

/* Prepares a parser; max_message: the largest message accepted. */
void rt_frame_init(struct rt_frame_parser *p, uint64_t max_message);
void rt_frame_free(struct rt_frame_parser *p);

/* Parses len bytes, calling cb for each complete message and control
 * frame. Returns 0 when every byte was taken, 1 when cb stopped it (the
 * rest of the bytes untaken: *used says how many were), or the close
 * code (1002, 1007, 1009; also p->error, with p->why) once the input is
 * invalid. An out-of-memory is 1011. */
int rt_frame_feed(struct rt_frame_parser *p, const char *data, size_t len, size_t *used,
                  rt_frame_cb cb, void *ctx);

/* Writes the header of a server frame (FIN set, unmasked) of opcode op
 * and payload length len into out (at least 10 bytes). Returns its size. */
size_t rt_frame_header(uint8_t *out, enum rt_op op, uint64_t len);

/* Appends a whole server frame to b. */
void rt_frame_append(struct ipc_buf *b, enum rt_op op, const void *payload, size_t len);

/* Appends a close frame: code (network order) and reason, the reason cut
 * at 123 bytes (on a UTF-8 boundary). */
void rt_frame_append_close(struct ipc_buf *b, uint16_t code, const char *reason, size_t len);

/* 1 when a client may send code in a close frame (1000-1003, 1007-1011,
 * 3000-4999: what RFC 6455 and the IANA registry allow on the wire). */
int rt_close_code_valid(unsigned code);

/* UTF-8, incrementally: feed bytes to a state (start at RT_UTF8_ACCEPT);
 * the result is RT_UTF8_REJECT once invalid (overlongs, surrogates and
 * code points past U+10FFFF included), RT_UTF8_ACCEPT at a character
 * boundary, something else inside a character. */
#define RT_UTF8_ACCEPT 0
#define RT_UTF8_REJECT 1
uint32_t rt_utf8_feed(uint32_t state, const uint8_t *p, size_t n);

#endif
