/* Unit tests for gw_encode: when an answer is gzipped on the fly, and its
 * head then. */
#include <string.h>

#include "gw_encode.h"
#include "test.h"

static char *types[] = {"text/html", "application/json", "text/*"};
static const struct cfg_compression on = {1, 5, 100, types, 3};

#define H(n, v)                                                                                    \
  { n, sizeof(n) - 1, v, sizeof(v) - 1 }

static int wanted(const char *accept, int status, int64_t clen, const struct ipc_header *h,
                  size_t nh) {
  struct gw_encode_in in = {accept, accept ? strlen(accept) : 0, 0, status, clen, h, nh};
  return gw_encode_wanted(&on, &in);
}

TEST(wanted_for_text_that_gains) {
  struct ipc_header json[] = {H("content-type", "application/json; charset=utf-8")};
  struct ipc_header css[] = {H("Content-Type", "TEXT/CSS")};
  CHECK_INT(wanted("gzip, br", 200, 5000, json, 1), 1);
  CHECK_INT(wanted("gzip", 200, -1, css, 1), 1); /* text/ and a star; length unknown */
  CHECK_INT(wanted("gzip", 404, 5000, json, 1), 1);
  CHECK_INT(wanted("*", 200, 5000, json, 1), 1);
}

TEST(not_wanted) {
  struct ipc_header json[] = {H("content-type", "application/json")};
  struct ipc_header png[] = {H("content-type", "image/png")};
  struct ipc_header sse[] = {H("content-type", "text/event-stream")};
  struct ipc_header enc[] = {H("content-type", "text/html"), H("content-encoding", "br")};
  struct ipc_header ident[] = {H("content-type", "text/html"), H("content-encoding", "identity")};
  struct ipc_header range[] = {H("content-type", "text/html"), H("content-range", "bytes 0-1/9")};
  struct ipc_header nt[] = {H("content-type", "text/html"),
                            H("cache-control", "public, no-transform")};
  CHECK_INT(wanted(NULL, 200, 5000, json, 1), 0);
  CHECK_INT(wanted("br", 200, 5000, json, 1), 0);
  CHECK_INT(wanted("gzip;q=0", 200, 5000, json, 1), 0);
  CHECK_INT(wanted("gzip", 200, 99, json, 1), 0); /* under min_bytes */
  CHECK_INT(wanted("gzip", 200, 5000, png, 1), 0);
  CHECK_INT(wanted("gzip", 200, 5000, sse, 1), 0); /* text/ and a star, but events */
  CHECK_INT(wanted("gzip", 200, 5000, enc, 2), 0);
  CHECK_INT(wanted("gzip", 200, 5000, ident, 2), 1);
  CHECK_INT(wanted("gzip", 200, 5000, range, 2), 0);
  CHECK_INT(wanted("gzip", 200, 5000, nt, 2), 0);
  CHECK_INT(wanted("gzip", 200, 5000, NULL, 0), 0); /* no content-type */
  for (int s = 100; s < 600; s++)
    if (s == 204 || s == 206 || s == 304 || s < 200 || (s >= 300 && s < 400))
      CHECK_INT(wanted("gzip", s, 5000, json, 1), 0);
  struct gw_encode_in head = {"gzip", 4, 1, 200, 5000, json, 1};
  CHECK_INT(gw_encode_wanted(&on, &head), 0);
  struct cfg_compression off = on;
  off.enabled = 0;
  struct gw_encode_in in = {"gzip", 4, 0, 200, 5000, json, 1};
  CHECK_INT(gw_encode_wanted(&off, &in), 0);
}

TEST(types) {
  CHECK_INT(gw_encode_type_ok(types, 3, "text/html;charset=utf-8", 23), 1);
  CHECK_INT(gw_encode_type_ok(types, 3, "text/htmlx", 10), 1); /* text/ and a star */
  CHECK_INT(gw_encode_type_ok(types, 2, "text/htmlx", 10), 0);
  CHECK_INT(gw_encode_type_ok(types, 3, "text/", 5), 0);
  CHECK_INT(gw_encode_type_ok(types, 3, "application/jsonp", 17), 0);
  CHECK_INT(gw_encode_type_ok(types, 3, "", 0), 0);
}

TEST(head) {
  struct ipc_header h[] = {H("content-type", "text/html"), H("content-length", "5000"),
                           H("ETag", "\"abc\""), H("Vary", "origin"), H("x-a", "b")};
  struct ipc_header out[5 + GW_ENCODE_HEAD_EXTRA];
  char buf[512];
  size_t n = gw_encode_head(h, 5, out, buf, sizeof(buf));
  CHECK_INT((int)n, 5);
  CHECK(out[0].value_len == 9 && memcmp(out[0].value, "text/html", 9) == 0);
  CHECK(out[1].value_len == 7 && memcmp(out[1].value, "W/\"abc\"", 7) == 0);
  CHECK(out[2].value_len == 23 && memcmp(out[2].value, "origin, accept-encoding", 23) == 0);
  CHECK(out[3].name_len == 3);
  CHECK(out[4].name_len == 16 && memcmp(out[4].value, "gzip", 4) == 0);
  struct ipc_header weak[] = {H("etag", "W/\"x\""), H("vary", "Accept-Encoding")};
  n = gw_encode_head(weak, 2, out, buf, sizeof(buf));
  CHECK_INT((int)n, 3); /* no second vary */
  CHECK(out[0].value_len == 5 && memcmp(out[0].value, "W/\"x\"", 5) == 0);
  CHECK(out[1].value_len == 15);
  n = gw_encode_head(NULL, 0, out, buf, sizeof(buf));
  CHECK_INT((int)n, 2);
  CHECK(out[0].name_len == 4 && out[1].name_len == 16);
}

int main(void) {
  RUN(wanted_for_text_that_gains);
  RUN(not_wanted);
  RUN(types);
  RUN(head);
  return test_summary();
}
