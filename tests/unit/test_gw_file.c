/* Unit tests for gw_file: the path under a static root, Range, HTTP
 * dates, entity tags and content types. */
#include <stdint.h>
#include <string.h>

#include "gw_file.h"
#include "test.h"
#include "util_date.h"

static char out[GW_FILE_PATH_MAX];
static int dir;

static int path(const char *p, int dotfiles) {
  return gw_file_path(p, strlen(p), dotfiles, out, sizeof(out), &dir);
}

TEST(path_plain) {
  CHECK_INT(path("/a/b.html", 0), 0);
  CHECK_STR(out, "a/b.html");
  CHECK_INT(dir, 0);
  CHECK_INT(path("", 0), 0); /* the prefix itself: the root */
  CHECK_STR(out, "");
  CHECK_INT(dir, 0);
  CHECK_INT(path("/", 0), 0);
  CHECK_STR(out, "");
  CHECK_INT(dir, 1);
  CHECK_INT(path("//a///b/", 0), 0); /* empty segments dropped */
  CHECK_STR(out, "a/b");
  CHECK_INT(dir, 1);
}

TEST(path_escapes) {
  CHECK_INT(path("/a%20b/%C3%A9.txt", 0), 0);
  CHECK_STR(out, "a b/\xc3\xa9.txt");
  CHECK_INT(path("/%41%6a", 0), 0);
  CHECK_STR(out, "Aj");
  CHECK_INT(path("/a%2", 0), 400);
  CHECK_INT(path("/a%zz", 0), 400);
  CHECK_INT(path("/a%", 0), 400);
  CHECK_INT(path("/a%00b", 0), 400);      /* an encoded NUL */
  CHECK_INT(path("/a%2fb", 0), 404);      /* an encoded slash names no file */
  CHECK_INT(path("/%2e%2e/etc", 1), 400); /* dot segments made by decoding */
  CHECK_INT(path("/x/%2e", 1), 400);
}

TEST(path_hidden) {
  CHECK_INT(path("/.git/config", 0), 404);
  CHECK_INT(path("/a/.env", 0), 404);
  CHECK_INT(path("/a/%2eenv", 0), 404);
  CHECK_INT(path("/.well-known/x", 1), 0);
  CHECK_STR(out, ".well-known/x");
  CHECK_INT(path("/a.b/c.", 0), 0); /* a dot inside a name is not hidden */
}

TEST(path_too_long) {
  char small[8];
  int d;
  CHECK_INT(gw_file_path("/abcdefg", 8, 0, small, sizeof(small), &d), 0);
  CHECK_STR(small, "abcdefg");
  CHECK_INT(gw_file_path("/abcdefgh", 9, 0, small, sizeof(small), &d), 404);
  CHECK_INT(gw_file_path("/abc/defg", 9, 0, small, sizeof(small), &d), 404);
}

static int range(const char *v, uint64_t size, uint64_t *from, uint64_t *len) {
  return gw_file_range(v, strlen(v), size, from, len);
}

TEST(range_single) {
  uint64_t f = 0, l = 0;
  CHECK_INT(range("bytes=0-99", 1000, &f, &l), 1);
  CHECK(f == 0 && l == 100);
  CHECK_INT(range("bytes=990-", 1000, &f, &l), 1);
  CHECK(f == 990 && l == 10);
  CHECK_INT(range("bytes=900-5000", 1000, &f, &l), 1); /* cut at the end */
  CHECK(f == 900 && l == 100);
  CHECK_INT(range("bytes=-10", 1000, &f, &l), 1);
  CHECK(f == 990 && l == 10);
  CHECK_INT(range("bytes=-5000", 1000, &f, &l), 1); /* the whole file */
  CHECK(f == 0 && l == 1000);
  CHECK_INT(range("Bytes= 5-5 ", 1000, &f, &l), 1);
  CHECK(f == 5 && l == 1);
  CHECK_INT(range("bytes=0-99999999999999999999999", 10, &f, &l), 1); /* saturates */
  CHECK(f == 0 && l == 10);
}

TEST(range_unsatisfiable) {
  uint64_t f, l;
  CHECK_INT(range("bytes=1000-", 1000, &f, &l), -1);
  CHECK_INT(range("bytes=-0", 1000, &f, &l), -1);
  CHECK_INT(range("bytes=0-", 0, &f, &l), -1);
  CHECK_INT(range("bytes=-1", 0, &f, &l), -1);
}

TEST(range_ignored) {
  uint64_t f, l;
  CHECK_INT(range("items=0-1", 1000, &f, &l), 0);
  CHECK_INT(range("bytes=0-1,5-6", 1000, &f, &l), 0); /* several: no multipart */
  CHECK_INT(range("bytes=5-1", 1000, &f, &l), 0);
  CHECK_INT(range("bytes=", 1000, &f, &l), 0);
  CHECK_INT(range("bytes=-", 1000, &f, &l), 0);
  CHECK_INT(range("bytes=a-b", 1000, &f, &l), 0);
  CHECK_INT(range("bytes=1-2x", 1000, &f, &l), 0);
}

TEST(dates) {
  char d[UTIL_HTTP_DATE_LEN + 1];
  int64_t t = 0;
  util_http_date(784111777, d);
  CHECK_STR(d, "Sun, 06 Nov 1994 08:49:37 GMT"); /* RFC 9110's example */
  CHECK_INT(gw_file_parse_date(d, strlen(d), &t), 0);
  CHECK(t == 784111777);
  util_http_date(0, d);
  CHECK_STR(d, "Thu, 01 Jan 1970 00:00:00 GMT");
  util_http_date(951782400, d);
  CHECK_STR(d, "Tue, 29 Feb 2000 00:00:00 GMT");
  const char *bad[] = {"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
                       "Mon, 06 Nov 1994 08:49:37 GMT", /* the wrong day of the week */
                       "Sun, 31 Feb 1994 08:49:37 GMT",  "Sun, 06 Nov 1994 24:00:00 GMT",
                       "Sun, 06 Nov 1994 08:49:37 UTC",  "Sun, 06 Nov 1969 08:49:37 GMT"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    CHECK_INT(gw_file_parse_date(bad[i], strlen(bad[i]), &t), -1);
}

TEST(etags) {
  char e[GW_FILE_ETAG_MAX];
  CHECK_INT((int)gw_file_etag(0x5f5e100, 0x1a, e), 12);
  CHECK_STR(e, "\"5f5e100-1a\"");
  const char *yes[] = {"\"5f5e100-1a\"", "W/\"5f5e100-1a\"", "*", "\"x\", \"5f5e100-1a\"",
                       "\"x\",W/\"5f5e100-1a\""};
  for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
    CHECK_INT(gw_file_etag_match(yes[i], strlen(yes[i]), e), 1);
  const char *no[] = {"\"5f5e100-1b\"", "5f5e100-1a", "\"5f5e100-1a", "", "\"a\" \"b\""};
  for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
    CHECK_INT(gw_file_etag_match(no[i], strlen(no[i]), e), 0);
}

static int accepts(const char *v, const char *coding) {
  return gw_file_accepts(v, strlen(v), coding);
}

TEST(accept_encoding) {
  CHECK_INT(accepts("gzip, deflate, br", "br"), 1);
  CHECK_INT(accepts("gzip, deflate, br", "gzip"), 1);
  CHECK_INT(accepts("GZIP", "gzip"), 1);
  CHECK_INT(accepts("x-gzip", "gzip"), 1);
  CHECK_INT(accepts("deflate", "gzip"), 0);
  CHECK_INT(accepts("", "gzip"), 0);
  CHECK_INT(accepts("br;q=0", "br"), 0);
  CHECK_INT(accepts("br; q=0.000, gzip", "br"), 0);
  CHECK_INT(accepts("br;q=0.001", "br"), 1);
  CHECK_INT(accepts("br;q=1.0", "br"), 1);
  CHECK_INT(accepts("*", "br"), 1);
  CHECK_INT(accepts("*;q=0", "br"), 0);
  CHECK_INT(accepts("br;q=0, *", "br"), 0); /* refused by name */
  CHECK_INT(accepts("identity, *;q=0.5", "gzip"), 1);
  CHECK_INT(accepts("gzipx, brotli", "gzip"), 0);
  CHECK_INT(accepts("brotli", "br"), 0);
}

TEST(types) {
  CHECK_STR(gw_file_type("index.html"), "text/html; charset=utf-8");
  CHECK_STR(gw_file_type("a/b/APP.JS"), "text/javascript; charset=utf-8");
  CHECK_STR(gw_file_type("f.woff2"), "font/woff2");
  CHECK_STR(gw_file_type("x.unknown"), "application/octet-stream");
  CHECK_STR(gw_file_type(".bashrc"), "application/octet-stream"); /* a name, no extension */
  CHECK_STR(gw_file_type("dir.d/README"), "application/octet-stream");
}

int main(void) {
  RUN(path_plain);
  RUN(path_escapes);
  RUN(path_hidden);
  RUN(path_too_long);
  RUN(range_single);
  RUN(range_unsatisfiable);
  RUN(range_ignored);
  RUN(dates);
  RUN(etags);
  RUN(accept_encoding);
  RUN(types);
  return test_summary();
}
