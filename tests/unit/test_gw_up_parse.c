/* Unit tests of gateway/gw_up_parse.c: an upstream's response read
 * strictly — framing, interim answers, upgrades, what is refused (502),
 * the headers a client is given; every input also fed byte by byte. */
#include "gw_up_parse.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

/* What the callbacks saw. */
struct seen {
  int heads;
  int status;
  int64_t clen;
  char body[4096];
  size_t blen;
};

static int on_head(void *ctx, struct gw_up_parser *p) {
  struct seen *s = ctx;
  s->heads++;
  s->status = gw_up_parse_status(p);
  s->clen = gw_up_parse_clen(p);
  return 0;
}

static int on_body(void *ctx, const char *data, size_t len) {
  struct seen *s = ctx;
  if (s->blen + len < sizeof(s->body)) {
    memcpy(s->body + s->blen, data, len);
    s->blen += len;
  }
  return 0;
}

static const struct gw_up_parse_cbs cbs = {on_head, on_body};

/* Parses in (whole, or one byte per feed when bytewise); then an EOF when
 * eof. Returns the last result; *used: bytes of in that were the response. */
static int run(struct gw_up_parser *p, struct seen *s, const char *in, int bytewise, int head,
               int upgrade, int eof, size_t *used) {
  size_t n = strlen(in), off = 0, u = 0;
  int rc = GW_UP_MORE;
  memset(s, 0, sizeof(*s));
  gw_up_parse_init(p, &cbs, s, 1024);
  gw_up_parse_reset(p, head, upgrade);
  while (off < n && rc == GW_UP_MORE) {
    size_t k = bytewise ? 1 : n - off;
    rc = gw_up_parse_feed(p, in + off, k, &u);
    off += u;
  }
  if (rc == GW_UP_MORE && eof)
    rc = gw_up_parse_eof(p);
  *used = off;
  return rc;
}

/* Checks in gives rc and status/body both whole and byte by byte. */
static int parses_as(const char *in, int head, int upgrade, int eof, int want_rc, int status,
                     const char *body) {
  int ok = 1;
  for (int bytewise = 0; bytewise < 2; bytewise++) {
    struct gw_up_parser p;
    struct seen s;
    size_t used;
    int rc = run(&p, &s, in, bytewise, head, upgrade, eof, &used);
    if (rc != want_rc || (status && s.status != status) ||
        (body && (s.blen != strlen(body) || memcmp(s.body, body, s.blen) != 0))) {
      printf("  %s (bytewise %d): rc %d (want %d), status %d, body \"%.*s\", err %s\n", in,
             bytewise, rc, want_rc, s.status, (int)s.blen, s.body, p.err ? p.err : "-");
      ok = 0;
    }
    gw_up_parse_free(&p);
  }
  return ok;
}

/* Checks in is refused (GW_UP_INVALID) with the reason why (NULL: any). */
static int refused(const char *in, const char *why) {
  struct gw_up_parser p;
  struct seen s;
  size_t used;
  int rc = run(&p, &s, in, 0, 0, 0, 1, &used);
  int ok = rc == GW_UP_INVALID && (why == NULL || (p.err && !strcmp(p.err, why)));
  if (!ok)
    printf("  %s: rc %d, heads %d, err \"%s\" (want \"%s\")\n", in, rc, s.heads,
           p.err ? p.err : "-", why ? why : "any");
  gw_up_parse_free(&p);
  return ok;
}

TEST(framing) {
  CHECK(parses_as("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", 0, 0, 0, GW_UP_DONE, 200,
                  "hello"));
  CHECK(parses_as("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                  "3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
                  0, 0, 0, GW_UP_DONE, 200, "hello"));
  CHECK(parses_as("HTTP/1.1 200 OK\r\n\r\nuntil the close", 0, 0, 1, GW_UP_DONE, 200,
                  "until the close"));
  CHECK(parses_as("HTTP/1.0 200 OK\r\n\r\nold", 0, 0, 1, GW_UP_DONE, 200, "old"));
  CHECK(parses_as("HTTP/1.1 204 No Content\r\n\r\n", 0, 0, 0, GW_UP_DONE, 204, ""));
  CHECK(parses_as("HTTP/1.1 304 Not Modified\r\ncontent-length: 9\r\n\r\n", 0, 0, 0, GW_UP_DONE,
                  304, ""));
  /* a HEAD's answer has its content-length and no body */
  CHECK(parses_as("HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n", 1, 0, 0, GW_UP_DONE, 200, ""));
  /* trailers are read and dropped */
  CHECK(parses_as("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                  "2\r\nok\r\n0\r\nx-trailer: 1\r\n\r\n",
                  0, 0, 0, GW_UP_DONE, 200, "ok"));
  /* a body cut by the close */
  CHECK(parses_as("HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort", 0, 0, 1, GW_UP_INVALID, 200,
                  "short"));
  /* a connection closed before any byte: nothing started */
  CHECK(parses_as("", 0, 0, 1, GW_UP_MORE, 0, ""));
}

TEST(clen_and_keepalive) {
  struct gw_up_parser p;
  struct seen s;
  size_t used;
  const char *two = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n";
  CHECK_INT(run(&p, &s, two, 0, 0, 0, 0, &used), GW_UP_DONE);
  CHECK_INT(used, strlen(two) - strlen("HTTP/1.1 200 OK\r\n")); /* the rest is not its */
  CHECK_INT(s.clen, 2);
  CHECK_INT(gw_up_parse_keepalive(&p), 1);
  gw_up_parse_free(&p);
  CHECK_INT(run(&p, &s, "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n", 0, 0,
                0, 0, &used),
            GW_UP_DONE);
  CHECK_INT(gw_up_parse_keepalive(&p), 0);
  gw_up_parse_free(&p);
  CHECK_INT(run(&p, &s, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", 0, 0, 0,
                0, &used),
            GW_UP_DONE);
  CHECK_INT(s.clen, -1);
  CHECK_INT(gw_up_parse_keepalive(&p), 1);
  gw_up_parse_free(&p);
}

TEST(interim_and_upgrade) {
  /* 100 and 103 before the answer are skipped: one head, the final one */
  struct gw_up_parser p;
  struct seen s;
  size_t used;
  CHECK_INT(run(&p, &s,
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n"
                "HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n",
                1, 0, 0, 0, &used),
            GW_UP_DONE);
  CHECK_INT(s.heads, 1);
  CHECK_INT(s.status, 201);
  gw_up_parse_free(&p);
  /* An interim's framing headers frame nothing: a 1xx has no body, so
   * what follows its head is the next response (the fuzzer found the
   * chunked one's "body" handed on as the final answer's) */
  CHECK_INT(run(&p, &s,
                "HTTP/1.1 100 Continue\r\ntransfer-encoding: chunked\r\n\r\n"
                "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
                0, 0, 0, 0, &used),
            GW_UP_DONE);
  CHECK(s.status == 200 && s.blen == 2 && !memcmp(s.body, "ok", 2));
  gw_up_parse_free(&p);
  CHECK(refused("HTTP/1.1 100 Continue\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                "HTTP/1.1 204 No Content\r\n\r\n",
                NULL)); /* "3" is no status line */
  const char *up = "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n"
                   "connection: Upgrade\r\nsec-websocket-accept: x\r\n\r\n";
  char buf[512];
  snprintf(buf, sizeof(buf), "%s\x81\x02hi", up);
  CHECK_INT(run(&p, &s, buf, 0, 0, 1, 0, &used), GW_UP_UPGRADE);
  CHECK_INT(used, strlen(up)); /* the frame is the tunnel's */
  CHECK_INT(s.status, 101);
  struct ipc_header *h = NULL;
  size_t cap = 0;
  CHECK_INT(gw_up_parse_headers(&p, &h, &cap), 3); /* upgrade and connection pass on a 101 */
  free(h);
  gw_up_parse_free(&p);
  CHECK(refused(up, "101 without an upgrade asked and agreed")); /* none asked */
  CHECK_INT(run(&p, &s, "HTTP/1.1 101 Switching Protocols\r\n\r\n", 0, 0, 1, 0, &used),
            GW_UP_INVALID);
  gw_up_parse_free(&p);
}

TEST(refusals) {
  CHECK(refused("HTTP/1.1 2000 OK\r\n\r\n", NULL));
  CHECK(refused("HTTX/1.1 200 OK\r\n\r\n", NULL));
  CHECK(refused("HTTP/2.0 200 OK\r\n\r\n", NULL));
  CHECK(refused("HTTP/1.1 099 Low\r\n\r\n", "status outside 100..599"));
  CHECK(refused("HTTP/1.1 600 High\r\n\r\n", "status outside 100..599"));
  CHECK(refused("garbage\r\n\r\n", NULL));
  CHECK(refused("HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\nok",
                NULL));
  CHECK(refused("HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok", NULL));
  CHECK(refused("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                "unsupported transfer-encoding"));
  CHECK(refused("HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                "transfer-encoding in an HTTP/1.0 message"));
  CHECK(refused("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",
                "invalid chunked encoding: no CRLF after chunk data"));
  CHECK(refused("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", NULL));
  CHECK(refused("HTTP/1.1 200 OK\r\nbad name: x\r\n\r\n", NULL));
  CHECK(refused("HTTP/1.1 200 OK\r\nx: a\r\n folded\r\n\r\n", NULL));
  CHECK(refused("HTTP/1.1 200 OK\nx: a\r\n\r\n", NULL));
  char big[2048];
  snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nx-big: %01100d\r\n\r\n", 0);
  CHECK(refused(big, "response headers too large"));
}

TEST(headers_for_the_client) {
  struct gw_up_parser p;
  struct seen s;
  size_t used;
  CHECK_INT(run(&p, &s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain \t \r\nConnection: close, X-Hop\r\n"
                "Keep-Alive: timeout=5\r\nX-Hop: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
                "X-Request-Id: theirs\r\nContent-Length: 2\r\nDate: x\r\n\r\nok",
                0, 0, 0, 0, &used),
            GW_UP_DONE);
  struct ipc_header *h = NULL;
  size_t cap = 0;
  int n = gw_up_parse_headers(&p, &h, &cap);
  CHECK_INT(n, 4);
  if (n == 4) {
    CHECK(h[0].name_len == 12 && !memcmp(h[0].name, "content-type", 12));
    CHECK(h[0].value_len == 10 && !memcmp(h[0].value, "text/plain", 10)); /* no trailing OWS */
    CHECK(h[1].name_len == 10 && !memcmp(h[1].name, "set-cookie", 10) && h[1].value[0] == 'a');
    CHECK(h[2].name_len == 10 && !memcmp(h[2].name, "set-cookie", 10) && h[2].value[0] == 'b');
    CHECK(h[3].name_len == 4 && !memcmp(h[3].name, "date", 4));
  }
  free(h);
  gw_up_parse_free(&p);
}

/* A response arriving in two reads, reset and reused (keep-alive). */
TEST(reuse) {
  struct gw_up_parser p;
  struct seen s;
  size_t used;
  memset(&s, 0, sizeof(s));
  gw_up_parse_init(&p, &cbs, &s, 1024);
  for (int i = 0; i < 3; i++) {
    s.blen = 0;
    gw_up_parse_reset(&p, 0, 0);
    const char *a = "HTTP/1.1 200 OK\r\ncontent-len", *b = "gth: 3\r\n\r\nabc";
    CHECK_INT(gw_up_parse_feed(&p, a, strlen(a), &used), GW_UP_MORE);
    CHECK_INT(gw_up_parse_feed(&p, b, strlen(b), &used), GW_UP_DONE);
    CHECK_INT(s.blen, 3);
  }
  CHECK_INT(s.heads, 3);
  gw_up_parse_free(&p);
}

int main(void) {
  RUN(framing);
  RUN(clen_and_keepalive);
  RUN(interim_and_upgrade);
  RUN(refusals);
  RUN(headers_for_the_client);
  RUN(reuse);
  return test_summary();
}
