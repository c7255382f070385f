/* Unit tests for rt_frame: one test per rule of rt_frame.h's comment (the
 * messages and control frames reported, each close code and its cause,
 * UTF-8 checked as it arrives, the limit known from the header), the
 * encoder's length forms and rt_frame_append_close's cut.
 *
 * Client frames are built by hand (struct wire) and masked with a key
 * that is not zero, so an unmasking bug shows. */
#include <stdlib.h>
#include <uv.h>

#include "rt_frame.h"
#include "test.h"

/* ---- Building client frames ---- */

struct wire {
  uint8_t b[140000];
  size_t len;
};

static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Appends a masked frame: b0 is FIN, RSV and opcode; the length in its
 * shortest form unless form is 16 or 64. */
static void frame_form(struct wire *w, uint8_t b0, const void *payload, size_t n, int form) {
  const uint8_t *p = payload;
  w->b[w->len++] = b0;
  if (form == 0)
    form = n < 126 ? 7 : n < 65536 ? 16 : 64;
  if (form == 7) {
    w->b[w->len++] = (uint8_t)(0x80 | n);
  } else if (form == 16) {
    w->b[w->len++] = 0x80 | 126;
    w->b[w->len++] = (uint8_t)(n >> 8);
    w->b[w->len++] = (uint8_t)n;
  } else {
    w->b[w->len++] = 0x80 | 127;
    for (int i = 0; i < 8; i++)
      w->b[w->len++] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
  }
  memcpy(w->b + w->len, key, 4);
  w->len += 4;
  for (size_t i = 0; i < n; i++)
    w->b[w->len++] = p[i] ^ key[i & 3];
}

static void frame(struct wire *w, uint8_t b0, const char *s) {
  frame_form(w, b0, s, strlen(s), 0);
}

/* A close frame with code and reason. */
static void close_frame(struct wire *w, unsigned code, const char *reason) {
  uint8_t p[130] = {(uint8_t)(code >> 8), (uint8_t)code};
  size_t n = strlen(reason);
  memcpy(p + 2, reason, n);
  frame_form(w, 0x88, p, n + 2, 0);
}

/* ---- What the parser reports ---- */

struct sink {
  char out[150000]; /* events as "op:bytes|...", a close as "close:CODE:reason" */
  size_t len;
  int events;
  int stop_after; /* the callback stops the feed after this many events (0: never) */
};

static int collect(void *ctx, const struct rt_frame_event *ev) {
  struct sink *s = ctx;
  static const char *names[16] = {[RT_OP_TEXT] = "text",
                                  [RT_OP_BINARY] = "binary",
                                  [RT_OP_CLOSE] = "close",
                                  [RT_OP_PING] = "ping",
                                  [RT_OP_PONG] = "pong"};
  if (s->len)
    s->out[s->len++] = '|';
  s->len += (size_t)sprintf(s->out + s->len, "%s:", names[ev->op] ? names[ev->op] : "?");
  if (ev->op == RT_OP_CLOSE)
    s->len += (size_t)sprintf(s->out + s->len, "%u:", (unsigned)ev->code);
  memcpy(s->out + s->len, ev->data, ev->len);
  s->len += ev->len;
  s->out[s->len] = '\0';
  s->events++;
  return s->stop_after && s->events >= s->stop_after;
}

/* Feeds w whole to p. Returns rt_frame_feed's result. */
static int feed(struct rt_frame_parser *p, struct sink *s, const struct wire *w) {
  size_t used;
  return rt_frame_feed(p, (const char *)w->b, w->len, &used, collect, s);
}

/* Feeds w to a new parser (limit max) whole and byte by byte: both must
 * report the same. Fills s from the whole feed; returns its result. */
static int parse(const struct wire *w, uint64_t max, struct sink *s) {
  struct rt_frame_parser p, q;
  struct sink bytes = {0};
  int rc = 0, rc1 = 0;
  size_t used;
  memset(s, 0, sizeof(*s));
  rt_frame_init(&p, max);
  rc = feed(&p, s, w);
  rt_frame_init(&q, max);
  for (size_t i = 0; i < w->len && rc1 == 0; i++)
    rc1 = rt_frame_feed(&q, (const char *)w->b + i, 1, &used, collect, &bytes);
  CHECK_INT(rc1, rc);
  CHECK_STR(bytes.out, s->out);
  rt_frame_free(&p);
  rt_frame_free(&q);
  return rc;
}

/* ---- Messages and control frames ---- */

TEST(rfc_example_hello) {
  /* RFC 6455 §5.7: a single-frame masked text message "Hello". */
  static const uint8_t hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  struct wire w = {.len = sizeof(hello)};
  struct sink s;
  memcpy(w.b, hello, sizeof(hello));
  CHECK_INT(parse(&w, 4096, &s), 0);
  CHECK_STR(s.out, "text:Hello");
}

TEST(binary_and_empty_messages) {
  struct wire w = {0};
  struct sink s;
  frame_form(&w, 0x82, "\x00\xff\x01", 3, 0);
  frame(&w, 0x81, "");
  frame(&w, 0x82, "");
  CHECK_INT(parse(&w, 4096, &s), 0);
  CHECK_INT(s.events, 3);
  CHECK_INT(s.len, strlen("binary:") + 3 + strlen("|text:|binary:"));
  CHECK(memcmp(s.out, "binary:\x00\xff\x01|text:|binary:", s.len) == 0);
}

TEST(pieces_of_any_size) {
  struct wire w = {0};
  struct sink whole, piece;
  frame(&w, 0x81, "first");
  char mid[130];
  for (size_t i = 0; i < sizeof(mid); i++)
    mid[i] = (char)('a' + i % 26);
  frame_form(&w, 0x82, mid, sizeof(mid), 0); /* the 16-bit length form */
  frame(&w, 0x89, "pinged");
  CHECK_INT(parse(&w, 4096, &whole), 0);
  for (size_t k = 2; k <= 17; k++) {
    struct rt_frame_parser p;
    size_t used;
    memset(&piece, 0, sizeof(piece));
    rt_frame_init(&p, 4096);
    for (size_t off = 0; off < w.len; off += k) {
      size_t n = w.len - off < k ? w.len - off : k;
      CHECK_INT(rt_frame_feed(&p, (const char *)w.b + off, n, &used, collect, &piece), 0);
      CHECK_INT(used, n);
    }
    CHECK_STR(piece.out, whole.out);
    rt_frame_free(&p);
  }
}

TEST(fragments_joined) {
  struct wire w = {0};
  struct sink s;
  frame(&w, 0x01, "Hel");
  frame(&w, 0x00, "");
  frame(&w, 0x00, "l");
  frame(&w, 0x80, "o");
  frame(&w, 0x02, "bi");
  frame(&w, 0x80, "nary");
  CHECK_INT(parse(&w, 4096, &s), 0);
  CHECK_STR(s.out, "text:Hello|binary:binary");
}

TEST(control_frames_reported) {
  struct wire w = {0};
  struct sink s;
  frame(&w, 0x89, "are you there");
  frame(&w, 0x8A, "");
  close_frame(&w, 1000, "bye");
  CHECK_INT(parse(&w, 4096, &s), 0);
  CHECK_STR(s.out, "ping:are you there|pong:|close:1000:bye");
}

TEST(close_without_code) {
  struct wire w = {0};
  struct sink s;
  frame(&w, 0x88, "");
  CHECK_INT(parse(&w, 4096, &s), 0);
  CHECK_STR(s.out, "close:1005:");
}

TEST(control_frames_between_fragments) {
  struct wire w = {0};
  struct sink s;
  frame(&w, 0x01, "Hel");
  frame(&w, 0x89, "p1");
  frame(&w, 0x00, "l");
  frame(&w, 0x8A, "p2");
  frame(&w, 0x80, "o");
  frame(&w, 0x02, "x");
  close_frame(&w, 1001, "going");
  CHECK_INT(parse(&w, 4096, &s), 0);
  CHECK_STR(s.out, "ping:p1|pong:p2|text:Hello|close:1001:going");
}

TEST(control_frame_of_125_bytes) {
  char p[126];
  struct wire w = {0};
  struct sink s;
  memset(p, 'p', 125);
  p[125] = '\0';
  frame(&w, 0x89, p);
  CHECK_INT(parse(&w, 10, &s), 0); /* the message limit is not for control frames */
  CHECK_INT(s.events, 1);
  CHECK_INT(s.len, 5 + 125);
}

/* ---- 1002: protocol errors ---- */

/* Parses w alone: its result, with no event reported. */
static int refused(const struct wire *w) {
  struct sink s;
  int rc = parse(w, 4096, &s);
  CHECK_INT(s.events, 0);
  return rc;
}

TEST(reserved_bits) {
  for (int bit = 0x10; bit <= 0x40; bit <<= 1) {
    struct wire w = {0};
    frame(&w, (uint8_t)(0x81 | bit), "x");
    CHECK_INT(refused(&w), RT_CLOSE_PROTOCOL);
  }
}

TEST(unknown_opcodes) {
  static const uint8_t ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
  for (size_t i = 0; i < sizeof(ops); i++) {
    struct wire w = {0};
    frame(&w, (uint8_t)(0x80 | ops[i]), "");
    CHECK_INT(refused(&w), RT_CLOSE_PROTOCOL);
  }
}

TEST(unmasked_frame) {
  struct wire w = {.b = {0x81, 0x02, 'h', 'i'}, .len = 4};
  CHECK_INT(refused(&w), RT_CLOSE_PROTOCOL);
}

TEST(control_fragmented) {
  static const uint8_t ops[] = {0x08, 0x09, 0x0A};
  for (size_t i = 0; i < sizeof(ops); i++) {
    struct wire w = {0};
    frame(&w, ops[i], "");
    CHECK_INT(refused(&w), RT_CLOSE_PROTOCOL);
  }
}

TEST(control_over_125_bytes) {
  char p[127];
  memset(p, 'p', 126);
  p[126] = '\0';
  struct wire w = {0};
  frame(&w, 0x89, p);
  CHECK_INT(refused(&w), RT_CLOSE_PROTOCOL);
  w.len = 0;
  frame_form(&w, 0x8A, "x", 1, 16); /* even in the 16-bit form with a small length */
  CHECK_INT(refused(&w), RT_CLOSE_PROTOCOL);
}

TEST(continuation_without_message) {
  struct wire w = {0};
  frame(&w, 0x80, "orphan");
  CHECK_INT(refused(&w), RT_CLOSE_PROTOCOL);
  /* nor after a message that ended */
  struct sink s;
  w.len = 0;
  frame(&w, 0x81, "done");
  frame(&w, 0x00, "more");
  CHECK_INT(parse(&w, 4096, &s), RT_CLOSE_PROTOCOL);
  CHECK_STR(s.out, "text:done");
}

TEST(new_message_inside_one) {
  struct wire w = {0};
  struct sink s;
  frame(&w, 0x01, "a");
  frame(&w, 0x81, "b");
  CHECK_INT(parse(&w, 4096, &s), RT_CLOSE_PROTOCOL);
  w.len = 0;
  frame(&w, 0x01, "a");
  frame(&w, 0x82, "b");
  CHECK_INT(parse(&w, 4096, &s), RT_CLOSE_PROTOCOL);
  CHECK_INT(s.events, 0);
}

TEST(length_not_in_shortest_form) {
  struct wire w = {0};
  frame_form(&w, 0x82, "short", 5, 16);
  CHECK_INT(refused(&w), RT_CLOSE_PROTOCOL);
  static char big[65536];
  w.len = 0;
  frame_form(&w, 0x82, big, 125, 16); /* 125 in 16 bits */
  CHECK_INT(refused(&w), RT_CLOSE_PROTOCOL);
  w.len = 0;
  frame_form(&w, 0x82, big, 65535, 64); /* 65535 in 64 bits */
  CHECK_INT(refused(&w), RT_CLOSE_PROTOCOL);
  /* the shortest forms themselves are fine */
  struct sink s;
  w.len = 0;
  frame_form(&w, 0x82, big, 126, 16);
  frame_form(&w, 0x82, big, 65536, 64);
  CHECK_INT(parse(&w, 70000, &s), 0);
  CHECK_INT(s.events, 2);
}

TEST(length_with_top_bit) {
  struct wire w = {.b = {0x82, 0xff, 0x80, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, .len = 14};
  CHECK_INT(refused(&w), RT_CLOSE_PROTOCOL);
}

TEST(close_of_one_byte) {
  struct wire w = {0};
  frame_form(&w, 0x88, "\x03", 1, 0);
  CHECK_INT(refused(&w), RT_CLOSE_PROTOCOL);
}

TEST(close_with_invalid_code) {
  static const unsigned bad[] = {0, 999, 1004, 1005, 1006, 1012, 1015, 2000, 2999, 5000, 65535};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct wire w = {0};
    close_frame(&w, bad[i], "");
    CHECK_INT(refused(&w), RT_CLOSE_PROTOCOL);
  }
  static const unsigned good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    struct wire w = {0};
    struct sink s;
    char want[32];
    close_frame(&w, good[i], "r");
    CHECK_INT(parse(&w, 4096, &s), 0);
    snprintf(want, sizeof(want), "close:%u:r", good[i]);
    CHECK_STR(s.out, want);
  }
}

TEST(close_code_valid_ranges) {
  int n = 0;
  for (unsigned c = 0; c < 70000; c++)
    n += rt_close_code_valid(c);
  CHECK_INT(n, 4 + 5 + 2000);
  CHECK(rt_close_code_valid(1003) && !rt_close_code_valid(1004) && rt_close_code_valid(1007));
  CHECK(rt_close_code_valid(1011) && !rt_close_code_valid(1012));
  CHECK(!rt_close_code_valid(2999) && rt_close_code_valid(3000) && rt_close_code_valid(4999));
  CHECK(!rt_close_code_valid(5000));
}

/* ---- 1007: not UTF-8 ---- */

TEST(text_not_utf8) {
  struct wire w = {0};
  frame(&w, 0x81, "ok\xff");
  CHECK_INT(refused(&w), RT_CLOSE_INVALID_DATA);
}

TEST(utf8_fails_at_first_bad_byte_of_a_fragment) {
  /* The bad byte arrives in a fragment whose frame is not complete and
   * whose message has no end yet: the parser fails there already. */
  struct wire w = {0};
  struct rt_frame_parser p;
  struct sink s = {0};
  size_t used;
  frame(&w, 0x01, "fine");
  frame(&w, 0x00, "ab\xc0more bytes to come");
  rt_frame_init(&p, 4096);
  size_t upto = 10 + 6 + 3; /* the first frame, the second's header, "ab\xc0" */
  CHECK_INT(rt_frame_feed(&p, (const char *)w.b, upto - 1, &used, collect, &s), 0);
  CHECK_INT(rt_frame_feed(&p, (const char *)w.b + upto - 1, 1, &used, collect, &s),
            RT_CLOSE_INVALID_DATA);
  CHECK_INT(p.error, RT_CLOSE_INVALID_DATA);
  CHECK(p.why != NULL);
  CHECK_INT(s.events, 0);
  rt_frame_free(&p);
}

TEST(close_reason_fails_at_first_bad_byte) {
  /* A close frame announcing more bytes than came: its reason is refused
   * at the bad byte, not when the frame is complete. */
  struct wire w = {0};
  struct rt_frame_parser p;
  struct sink s = {0};
  size_t used;
  close_frame(&w, 1000, "ok \xff and more to come");
  rt_frame_init(&p, 4096);
  size_t upto = 6 + 2 + 4; /* the header, the code, "ok \xff" */
  CHECK_INT(rt_frame_feed(&p, (const char *)w.b, upto - 1, &used, collect, &s), 0);
  CHECK_INT(rt_frame_feed(&p, (const char *)w.b + upto - 1, 1, &used, collect, &s),
            RT_CLOSE_INVALID_DATA);
  CHECK_INT(s.events, 0);
  rt_frame_free(&p);
}

TEST(utf8_split_across_fragments) {
  struct wire w = {0};
  struct sink s;
  frame(&w, 0x01, "caf\xc3");
  frame(&w, 0x00, "\xa9 \xe2");
  frame(&w, 0x89, "");
  frame(&w, 0x00, "\x82");
  frame(&w, 0x00, "\xac \xf0\x9f");
  frame(&w, 0x80, "\x98\x80");
  CHECK_INT(parse(&w, 4096, &s), 0);
  CHECK_STR(s.out, "ping:|text:caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST(utf8_ends_inside_a_character) {
  struct wire w = {0};
  frame(&w, 0x01, "euro \xe2\x82");
  frame(&w, 0x80, "");
  CHECK_INT(refused(&w), RT_CLOSE_INVALID_DATA);
}

/* Parses a one-frame text message holding s (n bytes). */
static int text_of(const char *s, size_t n) {
  struct wire w = {0};
  struct sink k;
  frame_form(&w, 0x81, s, n, 0);
  return parse(&w, 4096, &k);
}

TEST(utf8_overlongs_surrogates_and_beyond_refused) {
  static const char *bad[] = {
      "\xc0\x80",
      "\xc0\xaf",
      "\xc1\xbf", /* overlong 2-byte */
      "\xe0\x80\x80",
      "\xe0\x9f\xbf", /* overlong 3-byte */
      "\xf0\x80\x80\x80",
      "\xf0\x8f\xbf\xbf", /* overlong 4-byte */
      "\xed\xa0\x80",
      "\xed\xbf\xbf",
      "\xed\xaf\xbf", /* surrogates */
      "\xf4\x90\x80\x80",
      "\xf7\xbf\xbf\xbf", /* past U+10FFFF */
      "\xf5\x80\x80\x80",
      "\xf8\x88\x80\x80\x80",
      "\xfe",
      "\xff", /* never lead bytes */
      "\x80",
      "\xbf",
      "\xc3\x28", /* lone or bad continuations */
      "\xe2\x28\xa1",
      "\xf0\x28\x8c\xbc",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = text_of(bad[i], strlen(bad[i]));
    if (rc != RT_CLOSE_INVALID_DATA)
      printf("  accepted bad UTF-8 #%zu\n", i);
    CHECK_INT(rc, RT_CLOSE_INVALID_DATA);
  }
}

TEST(utf8_boundaries_accepted) {
  static const char *good[] = {
      "\xc2\x80",     "\xdf\xbf",         "\xe0\xa0\x80",     "\xed\x9f\xbf", "\xee\x80\x80",
      "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\x7f",         "plain ASCII, long",
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    int rc = text_of(good[i], strlen(good[i]));
    if (rc != 0)
      printf("  refused good UTF-8 #%zu\n", i);
    CHECK_INT(rc, 0);
  }
  CHECK_INT(text_of("a\0b", 3), 0); /* U+0000 is a character */
}

TEST(utf8_incremental_states) {
  const uint8_t euro[] = {0xe2, 0x82, 0xac};
  uint32_t st = rt_utf8_feed(RT_UTF8_ACCEPT, euro, 1);
  CHECK(st != RT_UTF8_ACCEPT && st != RT_UTF8_REJECT);
  st = rt_utf8_feed(st, euro + 1, 1);
  CHECK(st != RT_UTF8_ACCEPT && st != RT_UTF8_REJECT);
  CHECK_INT(rt_utf8_feed(st, euro + 2, 1), RT_UTF8_ACCEPT);
  CHECK_INT(rt_utf8_feed(st, (const uint8_t *)"A", 1), RT_UTF8_REJECT);
  CHECK_INT(rt_utf8_feed(RT_UTF8_REJECT, (const uint8_t *)"A", 1), RT_UTF8_REJECT);
  /* a bad byte after 8 ASCII ones (the fast path) and before */
  CHECK_INT(rt_utf8_feed(RT_UTF8_ACCEPT, (const uint8_t *)"12345678\xff", 9), RT_UTF8_REJECT);
  CHECK_INT(rt_utf8_feed(RT_UTF8_ACCEPT,
                         (const uint8_t *)"\xff"
                                          "12345678",
                         9),
            RT_UTF8_REJECT);
  CHECK_INT(rt_utf8_feed(RT_UTF8_ACCEPT, (const uint8_t *)"1234567\xc3\xa9", 9), RT_UTF8_ACCEPT);
}

TEST(close_reason_not_utf8) {
  struct wire w = {0};
  close_frame(&w, 1000, "bad \xc3(");
  CHECK_INT(refused(&w), RT_CLOSE_INVALID_DATA);
  w.len = 0;
  close_frame(&w, 1000, "ends \xe2\x82");
  CHECK_INT(refused(&w), RT_CLOSE_INVALID_DATA);
  /* the code's bytes are not text: 0xE8 is half of 1000 */
  struct sink s;
  w.len = 0;
  close_frame(&w, 1000, "d\xc3\xa9j\xc3\xa0");
  CHECK_INT(parse(&w, 4096, &s), 0);
  CHECK_STR(s.out, "close:1000:d\xc3\xa9j\xc3\xa0");
}

/* ---- 1009: too big ---- */

TEST(too_big_known_from_the_header) {
  /* Only the header of a frame announcing 4097 bytes: refused at once. */
  struct wire w = {.b = {0x82, 0xfe, 0x10, 0x01, 1, 2, 3, 4}, .len = 8};
  struct rt_frame_parser p;
  struct sink s = {0};
  size_t used;
  rt_frame_init(&p, 4096);
  CHECK_INT(rt_frame_feed(&p, (const char *)w.b, w.len, &used, collect, &s), RT_CLOSE_TOO_BIG);
  CHECK_INT(p.msg.cap, 0); /* nothing was buffered */
  rt_frame_free(&p);
  /* and 2^62 bytes */
  struct wire h = {.b = {0x81, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, .len = 14};
  CHECK_INT(refused(&h), RT_CLOSE_TOO_BIG);
}

TEST(too_big_over_fragments) {
  static char a[3000], b[1097];
  struct wire w = {0};
  struct sink s;
  memset(a, 'a', sizeof(a));
  memset(b, 'b', sizeof(b));
  frame_form(&w, 0x02, a, sizeof(a), 0);
  frame_form(&w, 0x80, b, sizeof(b) - 1, 0); /* 4096: at the limit */
  CHECK_INT(parse(&w, 4096, &s), 0);
  CHECK_INT(s.events, 1);
  w.len = 0;
  frame_form(&w, 0x02, a, sizeof(a), 0);
  frame_form(&w, 0x00, b, sizeof(b), 0); /* 4097 */
  CHECK_INT(refused(&w), RT_CLOSE_TOO_BIG);
}

TEST(big_message_memory_given_back) {
  static char big[70000];
  struct wire w = {0};
  struct rt_frame_parser p;
  struct sink s = {0};
  frame_form(&w, 0x82, big, sizeof(big), 0);
  rt_frame_init(&p, sizeof(big));
  CHECK_INT(feed(&p, &s, &w), 0);
  CHECK_INT(s.events, 1);
  CHECK(p.msg.data == NULL);
  w.len = 0;
  frame(&w, 0x81, "small");
  CHECK_INT(feed(&p, &s, &w), 0);
  CHECK(p.msg.data != NULL); /* a small one keeps its buffer */
  rt_frame_free(&p);
}

/* ---- After an error; stopping ---- */

TEST(nothing_after_an_error) {
  struct wire w = {0}, ok = {0};
  struct rt_frame_parser p;
  struct sink s = {0};
  size_t used = 99;
  frame(&w, 0xC1, "rsv");
  frame(&ok, 0x81, "fine");
  rt_frame_init(&p, 4096);
  CHECK_INT(feed(&p, &s, &w), RT_CLOSE_PROTOCOL);
  const char *why = p.why;
  CHECK(why != NULL);
  for (int i = 0; i < 3; i++) {
    CHECK_INT(rt_frame_feed(&p, (const char *)ok.b, ok.len, &used, collect, &s), RT_CLOSE_PROTOCOL);
    CHECK_INT(used, 0);
  }
  CHECK_INT(s.events, 0);
  CHECK(p.why == why);
  rt_frame_free(&p);
}

TEST(callback_stops_the_feed) {
  struct wire w = {0};
  struct rt_frame_parser p;
  struct sink s = {.stop_after = 1};
  size_t used;
  frame(&w, 0x81, "one");
  size_t first = w.len;
  frame(&w, 0x89, "two");
  frame(&w, 0x82, "three");
  rt_frame_init(&p, 4096);
  CHECK_INT(rt_frame_feed(&p, (const char *)w.b, w.len, &used, collect, &s), 1);
  CHECK_INT(used, first);
  CHECK_STR(s.out, "text:one");
  s.stop_after = 0;
  CHECK_INT(rt_frame_feed(&p, (const char *)w.b + used, w.len - used, &used, collect, &s), 0);
  CHECK_INT(used, w.len - first);
  CHECK_STR(s.out, "text:one|ping:two|binary:three");
  rt_frame_free(&p);
}

/* ---- The encoder ---- */

TEST(header_three_length_forms) {
  uint8_t h[10];
  CHECK_INT(rt_frame_header(h, RT_OP_TEXT, 0), 2);
  CHECK(h[0] == 0x81 && h[1] == 0);
  CHECK_INT(rt_frame_header(h, RT_OP_BINARY, 125), 2);
  CHECK(h[0] == 0x82 && h[1] == 125);
  CHECK_INT(rt_frame_header(h, RT_OP_TEXT, 126), 4);
  CHECK(h[1] == 126 && h[2] == 0 && h[3] == 126);
  CHECK_INT(rt_frame_header(h, RT_OP_TEXT, 65535), 4);
  CHECK(h[1] == 126 && h[2] == 0xff && h[3] == 0xff);
  CHECK_INT(rt_frame_header(h, RT_OP_PONG, 65536), 10);
  static const uint8_t want[10] = {0x8A, 127, 0, 0, 0, 0, 0, 1, 0, 0};
  CHECK(memcmp(h, want, 10) == 0);
  CHECK_INT(rt_frame_header(h, RT_OP_BINARY, 0x0102030405060708ULL), 10);
  static const uint8_t want2[10] = {0x82, 127, 1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(memcmp(h, want2, 10) == 0);
}

/* Masks server frames b (rt_frame_append's) as a client's into w. */
static void as_client(const struct ipc_buf *b, struct wire *w) {
  const uint8_t *p = (const uint8_t *)b->data;
  for (size_t off = 0; off < b->len;) {
    uint8_t len7 = p[off + 1] & 0x7f;
    size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    uint64_t n = len7;
    if (ext) {
      n = 0;
      for (size_t i = 0; i < ext; i++)
        n = n << 8 | p[off + 2 + i];
    }
    CHECK((p[off + 1] & 0x80) == 0); /* server frames are not masked */
    CHECK((p[off] & 0xf0) == 0x80);  /* FIN, no reserved bit */
    frame_form(w, p[off], p + off + 2 + ext, (size_t)n, ext == 0 ? 7 : ext == 2 ? 16 : 64);
    off += 2 + ext + (size_t)n;
  }
}

TEST(append_round_trip) {
  static char big[70000];
  struct ipc_buf b;
  struct wire w = {0};
  struct sink s;
  memset(big, 'z', sizeof(big));
  ipc_buf_init(&b);
  rt_frame_append(&b, RT_OP_TEXT, "hi", 2);
  rt_frame_append(&b, RT_OP_BINARY, big, 300);
  rt_frame_append(&b, RT_OP_BINARY, big, sizeof(big));
  rt_frame_append(&b, RT_OP_PING, "", 0);
  CHECK_INT(b.len, (2 + 2) + (4 + 300) + (10 + sizeof(big)) + 2);
  as_client(&b, &w);
  CHECK_INT(parse(&w, sizeof(big), &s), 0);
  CHECK_INT(s.events, 4);
  CHECK(strncmp(s.out, "text:hi|binary:zzz", 18) == 0);
  ipc_buf_free(&b);
}

TEST(append_close) {
  struct ipc_buf b;
  ipc_buf_init(&b);
  rt_frame_append_close(&b, 1001, "bye", 3);
  CHECK_INT(b.len, 7);
  CHECK(memcmp(b.data,
               "\x88\x05\x03\xe9"
               "bye",
               7) == 0);
  ipc_buf_reset(&b);
  rt_frame_append_close(&b, 4000, "", 0);
  CHECK_INT(b.len, 4);
  CHECK(memcmp(b.data, "\x88\x02\x0f\xa0", 4) == 0);
  ipc_buf_free(&b);
}

/* The reason rt_frame_append_close keeps of r (its frame parsed back). */
static size_t close_cut(const char *r, size_t n, char *kept) {
  struct ipc_buf b;
  ipc_buf_init(&b);
  rt_frame_append_close(&b, 1000, r, n);
  CHECK(b.len >= 4 && b.len <= 127);
  CHECK((uint8_t)b.data[1] == b.len - 2);
  size_t k = b.len - 4;
  memcpy(kept, b.data + 4, k);
  ipc_buf_free(&b);
  return k;
}

TEST(append_close_cuts_on_a_character_boundary) {
  char r[200], kept[200];
  memset(r, 'a', sizeof(r));
  CHECK_INT(close_cut(r, 123, kept), 123); /* fits */
  CHECK_INT(close_cut(r, 200, kept), 123); /* ASCII: cut at 123 */
  /* "é" at bytes 122-123: it would be cut in two, so it goes */
  memcpy(r + 122, "\xc3\xa9", 2);
  CHECK_INT(close_cut(r, 124, kept), 122);
  /* "é" at bytes 121-122 ends at 123: kept */
  memset(r, 'a', sizeof(r));
  memcpy(r + 121, "\xc3\xa9", 2);
  CHECK_INT(close_cut(r, 130, kept), 123);
  /* "€" at 121-123 and "😀" at 120-123: both go whole */
  memset(r, 'a', sizeof(r));
  memcpy(r + 121, "\xe2\x82\xac", 3);
  CHECK_INT(close_cut(r, 124, kept), 121);
  memset(r, 'a', sizeof(r));
  memcpy(r + 120, "\xf0\x9f\x98\x80", 4);
  CHECK_INT(close_cut(r, 124, kept), 120);
  /* the reason kept is still UTF-8 and parses back */
  struct ipc_buf b;
  struct wire w = {0};
  struct sink s;
  ipc_buf_init(&b);
  rt_frame_append_close(&b, 1000, r, 124);
  as_client(&b, &w);
  CHECK_INT(parse(&w, 4096, &s), 0);
  CHECK_INT(s.len, strlen("close:1000:") + 120);
  ipc_buf_free(&b);
}

int main(void) {
  RUN(rfc_example_hello);
  RUN(binary_and_empty_messages);
  RUN(pieces_of_any_size);
  RUN(fragments_joined);
  RUN(control_frames_reported);
  RUN(close_without_code);
  RUN(control_frames_between_fragments);
  RUN(control_frame_of_125_bytes);
  RUN(reserved_bits);
  RUN(unknown_opcodes);
  RUN(unmasked_frame);
  RUN(control_fragmented);
  RUN(control_over_125_bytes);
  RUN(continuation_without_message);
  RUN(new_message_inside_one);
  RUN(length_not_in_shortest_form);
  RUN(length_with_top_bit);
  RUN(close_of_one_byte);
  RUN(close_with_invalid_code);
  RUN(close_code_valid_ranges);
  RUN(text_not_utf8);
  RUN(utf8_fails_at_first_bad_byte_of_a_fragment);
  RUN(close_reason_fails_at_first_bad_byte);
  RUN(utf8_split_across_fragments);
  RUN(utf8_ends_inside_a_character);
  RUN(utf8_overlongs_surrogates_and_beyond_refused);
  RUN(utf8_boundaries_accepted);
  RUN(utf8_incremental_states);
  RUN(close_reason_not_utf8);
  RUN(too_big_known_from_the_header);
  RUN(too_big_over_fragments);
  RUN(big_message_memory_given_back);
  RUN(nothing_after_an_error);
  RUN(callback_stops_the_feed);
  RUN(header_three_length_forms);
  RUN(append_round_trip);
  RUN(append_close);
  RUN(append_close_cuts_on_a_character_boundary);
  return test_summary();
}
