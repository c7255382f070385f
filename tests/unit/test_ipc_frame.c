/* Unit tests for ipc_frame: split, merged, empty, CRLF and oversized lines. */
#include <stdlib.h>
#include <uv.h>

#include "ipc_frame.h"
#include "test.h"

/* Collects the lines a feed produces, joined with '|'. */
struct sink {
  char out[4096];
  size_t len;
  int lines;
  int stop_after; /* return non-zero after this many lines (0 = never) */
};

static int collect(void *ctx, const char *line, size_t len) {
  struct sink *s = ctx;
  if (s->len)
    s->out[s->len++] = '|';
  memcpy(s->out + s->len, line, len);
  s->len += len;
  s->out[s->len] = '\0';
  s->lines++;
  return (s->stop_after && s->lines >= s->stop_after) ? 42 : 0;
}

static int feed(struct ipc_frame *f, struct sink *s, const char *str) {
  return ipc_frame_feed(f, str, strlen(str), collect, s);
}

TEST(one_line) {
  struct ipc_frame f;
  struct sink s = {0};
  ipc_frame_init(&f, 0);
  CHECK_INT(feed(&f, &s, "{\"a\":1}\n"), 0);
  CHECK_STR(s.out, "{\"a\":1}");
  CHECK_INT(s.lines, 1);
  CHECK_INT(ipc_frame_pending(&f), 0);
  ipc_frame_free(&f);
}

TEST(split_across_reads) {
  struct ipc_frame f;
  struct sink s = {0};
  ipc_frame_init(&f, 0);
  CHECK_INT(feed(&f, &s, "{\"ty"), 0);
  CHECK_INT(s.lines, 0);
  CHECK_INT(ipc_frame_pending(&f), 4);
  CHECK_INT(feed(&f, &s, "pe\":"), 0);
  CHECK_INT(feed(&f, &s, "1}\n{\"b\""), 0);
  CHECK_STR(s.out, "{\"type\":1}");
  CHECK_INT(feed(&f, &s, ":2}\n"), 0);
  CHECK_STR(s.out, "{\"type\":1}|{\"b\":2}");
  CHECK_INT(ipc_frame_pending(&f), 0);
  ipc_frame_free(&f);
}

TEST(byte_by_byte) {
  struct ipc_frame f;
  struct sink s = {0};
  const char *in = "abc\ndef\n";
  ipc_frame_init(&f, 0);
  for (size_t i = 0; i < strlen(in); i++)
    CHECK_INT(ipc_frame_feed(&f, in + i, 1, collect, &s), 0);
  CHECK_STR(s.out, "abc|def");
  ipc_frame_free(&f);
}

TEST(many_lines_one_read) {
  struct ipc_frame f;
  struct sink s = {0};
  ipc_frame_init(&f, 0);
  CHECK_INT(feed(&f, &s, "a\nbb\nccc\ndd"), 0);
  CHECK_STR(s.out, "a|bb|ccc");
  CHECK_INT(s.lines, 3);
  CHECK_INT(ipc_frame_pending(&f), 2);
  ipc_frame_free(&f);
}

TEST(empty_and_crlf_lines) {
  struct ipc_frame f;
  struct sink s = {0};
  ipc_frame_init(&f, 0);
  CHECK_INT(feed(&f, &s, "\n\n\r\nx\r\n\ny\n"), 0);
  CHECK_STR(s.out, "x|y");
  CHECK_INT(s.lines, 2);
  ipc_frame_free(&f);
}

TEST(oversized_line_in_one_read) {
  struct ipc_frame f;
  struct sink s = {0};
  ipc_frame_init(&f, 8);
  CHECK_INT(feed(&f, &s, "12345678\n"), 0); /* exactly the maximum */
  CHECK_INT(feed(&f, &s, "123456789\n"), UV_E2BIG);
  /* Sticky: the framer stays broken. */
  CHECK_INT(feed(&f, &s, "ok\n"), UV_E2BIG);
  CHECK_INT(s.lines, 1);
  ipc_frame_free(&f);
}

TEST(oversized_line_without_newline) {
  struct ipc_frame f;
  struct sink s = {0};
  ipc_frame_init(&f, 8);
  CHECK_INT(feed(&f, &s, "12345"), 0);
  CHECK_INT(feed(&f, &s, "6789"), UV_E2BIG); /* detected before the newline */
  CHECK_INT(ipc_frame_pending(&f), 0);       /* and the memory released */
  ipc_frame_free(&f);
}

TEST(oversized_across_reads_with_newline) {
  struct ipc_frame f;
  struct sink s = {0};
  ipc_frame_init(&f, 8);
  CHECK_INT(feed(&f, &s, "123456"), 0);
  CHECK_INT(feed(&f, &s, "789\nok\n"), UV_E2BIG);
  CHECK_INT(s.lines, 0);
  ipc_frame_free(&f);
}

TEST(callback_stops_feed) {
  struct ipc_frame f;
  struct sink s = {0};
  s.stop_after = 1;
  ipc_frame_init(&f, 0);
  CHECK_INT(feed(&f, &s, "a\nb\n"), 42);
  CHECK_STR(s.out, "a");
  ipc_frame_free(&f);
}

/* Records the length of each line and that every byte is 'x'. */
static int measure(void *ctx, const char *line, size_t len) {
  size_t *got = ctx;
  for (size_t i = 0; i < len; i++)
    if (line[i] != 'x')
      return -1;
  *got = len;
  return 0;
}

TEST(large_line_grows_buffer) {
  struct ipc_frame f;
  size_t n = 1 << 20, got = 0;
  char *big = malloc(n + 1);
  memset(big, 'x', n);
  big[n] = '\n';
  ipc_frame_init(&f, 0);
  /* In uneven pieces, so the tail buffer has to grow several times. */
  for (size_t off = 0, step = 999; off < n + 1; off += step) {
    size_t k = (n + 1 - off < step) ? n + 1 - off : step;
    CHECK_INT(ipc_frame_feed(&f, big + off, k, measure, &got), 0);
  }
  CHECK_INT(got, n);
  CHECK_INT(ipc_frame_pending(&f), 0);
  ipc_frame_free(&f);
  free(big);
}

int main(void) {
  RUN(one_line);
  RUN(split_across_reads);
  RUN(byte_by_byte);
  RUN(many_lines_one_read);
  RUN(empty_and_crlf_lines);
  RUN(oversized_line_in_one_read);
  RUN(oversized_line_without_newline);
  RUN(oversized_across_reads_with_newline);
  RUN(callback_stops_feed);
  RUN(large_line_grows_buffer);
  return test_summary();
}
