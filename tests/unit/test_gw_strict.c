/* Unit tests for gw_strict: each rule a strict edge adds to llhttp's. */
#include <stdint.h>
#include <stdlib.h>

#include "gw_strict.h"
#include "test.h"

#define OK(x) CHECK((x) == NULL)
#define REFUSED(x, why) CHECK_STR((x), why)

/* ---- The request line and line starts ---- */

TEST(target_after_one_space) {
  OK(gw_strict_target_start(' ', 'T'));  /* "GET /" */
  OK(gw_strict_target_start(' ', '\0')); /* the method's last byte unknown */
  OK(gw_strict_target_start('\0', '\0'));
}

TEST(target_after_two_spaces) {
  REFUSED(gw_strict_target_start(' ', ' '), "malformed request line"); /* "GET  /" */
}

TEST(header_line_after_crlf) {
  OK(gw_strict_line_start('\n', '\r'));
  OK(gw_strict_line_start('\0', '\0')); /* nothing known before it */
}

TEST(header_line_after_bare_lf) {
  REFUSED(gw_strict_line_start('\n', '1'), "bare LF in the request head"); /* "HTTP/1.1\nA:" */
  REFUSED(gw_strict_line_start('\n', 'x'), "bare LF in the request head"); /* "a: x\nB:" */
  REFUSED(gw_strict_line_start('\n', '\n'), "bare LF in the request head");
  REFUSED(gw_strict_line_start('\r', '\r'), "bare LF in the request head");
}

/* ---- Header names and values ---- */

TEST(names_of_token_bytes) {
  OK(gw_strict_name("Content-Length", 14));
  OK(gw_strict_name("x!#$%&'*+-.^_`|~9", 17));
  OK(gw_strict_name("a b", 1)); /* only n bytes are looked at */
}

TEST(names_with_other_bytes) {
  const char *bad[] = {"Name ", "Na me", "a:b", "a\tb", "\"q\"", "a(b)", "a/b",  "a@b",   "a[b]",
                       "a{b}",  "a,b",   "a;b", "a=b",  "a?b",   "a\\b", "\x7f", "\x80x", "\xff"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
    REFUSED(gw_strict_name(bad[i], strlen(bad[i])), "invalid header name");
  REFUSED(gw_strict_name("a\0b", 3), "invalid header name");
}

TEST(values_plain) {
  OK(gw_strict_value("text/html; q=0.9", 16, ' '));
  OK(gw_strict_value("a\tb \x80\xff", 6, ':')); /* HTAB, SP and obs-text are fine */
  OK(gw_strict_value("", 0, ':'));
  OK(gw_strict_value("x", 1, '\0')); /* a later piece of the value */
}

TEST(values_with_nul_cr_lf) {
  REFUSED(gw_strict_value("a\0b", 3, ' '), "invalid character in a header value");
  REFUSED(gw_strict_value("a\rb", 3, ' '), "invalid character in a header value");
  REFUSED(gw_strict_value("a\nb", 3, ' '), "invalid character in a header value");
  REFUSED(gw_strict_value("ab\r", 3, ' '), "invalid character in a header value");
  REFUSED(gw_strict_value("\nab", 3, ' '), "invalid character in a header value");
  OK(gw_strict_value("ab\r\n", 2, ' ')); /* the line's end is not part of it */
}

TEST(values_obs_fold) {
  /* "a: x\r\n  y": llhttp hands " y" as a value piece that starts a line;
   * "a:\r\n y" hands "y" after the fold's blank. */
  REFUSED(gw_strict_value("y", 1, '\n'), "obsolete line folding in a header");
  REFUSED(gw_strict_value(" y", 2, '\n'), "obsolete line folding in a header");
}

TEST(values_empty) {
  /* "a:\r\nb: 1": llhttp tells a's empty value as an empty piece at the
   * start of the next line (curl -H 'a;' sends it): no fold */
  OK(gw_strict_value("", 0, '\n'));
  OK(gw_strict_value("", 0, ':'));
}

TEST(nonws_before) {
  const char *in = "a:\r\n \t y";
  const char *y = in + 7;
  CHECK_INT(gw_strict_nonws_before(y, in, 'x'), '\n');
  CHECK_INT(gw_strict_nonws_before(y, in + 5, 'x'), 'x');  /* blanks back to start: carried */
  CHECK_INT(gw_strict_nonws_before(y, y, 'x'), 'x');       /* nothing before in this read */
  CHECK_INT(gw_strict_nonws_before(in + 2, in, 'x'), ':'); /* no blank between */
  CHECK_INT(gw_strict_nonws_last(in, 7, 'x'), '\n');       /* "a:\r\n \t " */
  CHECK_INT(gw_strict_nonws_last(in + 4, 3, 'x'), 'x');    /* " \t ": carried on */
  CHECK_INT(gw_strict_nonws_last(in, 0, 'x'), 'x');
}

/* ---- Framing headers ---- */

/* A head built by hand: "name\0value\0" pairs laid out in buf. */
struct head {
  char buf[512];
  size_t len;
  struct gw_hdr h[16];
  size_t n;
};

static void add(struct head *hd, const char *name, const char *value) {
  struct gw_hdr *h = &hd->h[hd->n++];
  h->name = (uint32_t)hd->len;
  h->nlen = (uint32_t)strlen(name);
  memcpy(hd->buf + hd->len, name, h->nlen);
  hd->len += h->nlen;
  h->value = (uint32_t)hd->len;
  h->vlen = (uint32_t)strlen(value);
  memcpy(hd->buf + hd->len, value, h->vlen);
  hd->len += h->vlen;
}

static const char *framing(struct head *hd) {
  return gw_strict_framing(hd->buf, hd->h, hd->n, 1);
}

TEST(framing_none_or_one) {
  struct head a = {0}, b = {0}, c = {0};
  OK(framing(&a));
  add(&b, "host", "x");
  add(&b, "content-length", "5");
  OK(framing(&b));
  add(&c, "transfer-encoding", "chunked");
  add(&c, "accept", "*/*");
  OK(framing(&c));
}

TEST(framing_content_length_twice) {
  struct head a = {0}, b = {0};
  add(&a, "content-length", "5");
  add(&a, "content-length", "5"); /* even equal ones */
  REFUSED(framing(&a), "more than one content-length");
  add(&b, "content-length", "5");
  add(&b, "host", "x");
  add(&b, "content-length", "6");
  REFUSED(framing(&b), "more than one content-length");
}

TEST(framing_transfer_encoding_chunked_only) {
  const char *ok[] = {"chunked", "CHUNKED", "Chunked", "cHuNkEd"};
  const char *bad[] = {"gzip",     "gzip, chunked", "chunked, gzip", "chunked ",
                       " chunked", "chunke",        "chunkedx",      "",
                       "identity", "chunked;q=1"};
  for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
    struct head hd = {0};
    add(&hd, "transfer-encoding", ok[i]);
    OK(framing(&hd));
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    struct head hd = {0};
    add(&hd, "transfer-encoding", bad[i]);
    REFUSED(framing(&hd), "unsupported transfer-encoding");
  }
}

TEST(framing_transfer_encoding_twice) {
  struct head hd = {0};
  add(&hd, "transfer-encoding", "chunked");
  add(&hd, "transfer-encoding", "chunked");
  REFUSED(framing(&hd), "more than one transfer-encoding");
}

TEST(framing_cl_and_te) {
  struct head a = {0}, b = {0};
  add(&a, "content-length", "5");
  add(&a, "transfer-encoding", "chunked");
  REFUSED(framing(&a), "both content-length and transfer-encoding");
  add(&b, "transfer-encoding", "chunked");
  add(&b, "content-length", "0");
  REFUSED(framing(&b), "both content-length and transfer-encoding");
}

TEST(framing_transfer_encoding_in_http10) {
  struct head a = {0}, b = {0};
  add(&a, "transfer-encoding", "chunked");
  REFUSED(gw_strict_framing(a.buf, a.h, a.n, 0), "transfer-encoding in an HTTP/1.0 message");
  OK(gw_strict_framing(a.buf, a.h, a.n, 1));
  add(&b, "content-length", "5");
  OK(gw_strict_framing(b.buf, b.h, b.n, 0));
}

TEST(framing_names_exact) {
  /* Names are lower-cased before the check; look-alikes are other headers. */
  struct head hd = {0};
  add(&hd, "content-length", "5");
  add(&hd, "content-lengthx", "6");
  add(&hd, "content-lengt", "7");
  add(&hd, "transfer-encodings", "gzip");
  add(&hd, "x-transfer-encoding", "gzip");
  OK(framing(&hd));
}

/* ---- The CRLF after chunk data ---- */

static const char *crlf(uint8_t *need, const char *s) {
  return gw_strict_chunk_crlf(need, s, s + strlen(s));
}

TEST(chunk_crlf_whole) {
  uint8_t need = 2;
  OK(crlf(&need, "\r\n"));
  CHECK_INT(need, 0);
  need = 2;
  OK(crlf(&need, "\r\n5\r\nhello")); /* the rest is not its business */
  CHECK_INT(need, 0);
}

TEST(chunk_crlf_split_every_way) {
  /* 2 -> 1 -> 0: "\r" then "\n". */
  uint8_t need = 2;
  OK(crlf(&need, "\r"));
  CHECK_INT(need, 1);
  OK(crlf(&need, "\n0\r\n"));
  CHECK_INT(need, 0);
  /* 2 -> 2 -> 0: an empty input changes nothing. */
  need = 2;
  OK(crlf(&need, ""));
  CHECK_INT(need, 2);
  OK(crlf(&need, "\r\n"));
  CHECK_INT(need, 0);
  /* 2 -> 1 -> 1 -> 0 */
  need = 2;
  OK(crlf(&need, "\r"));
  OK(crlf(&need, ""));
  CHECK_INT(need, 1);
  OK(crlf(&need, "\n"));
  CHECK_INT(need, 0);
  /* 0: nothing owed, any byte passes */
  OK(crlf(&need, "xyz"));
  CHECK_INT(need, 0);
}

TEST(chunk_crlf_wrong_bytes) {
  const char *why = "invalid chunked encoding: no CRLF after chunk data";
  uint8_t need = 2;
  REFUSED(crlf(&need, "xy"), why);
  need = 2;
  REFUSED(crlf(&need, "\n\r"), why);
  need = 2;
  REFUSED(crlf(&need, "\rx"), why);
  need = 2;
  REFUSED(crlf(&need, "\n"), why); /* a bare LF */
  need = 2;
  REFUSED(crlf(&need, "\r\r"), why);
  /* Split: the first byte right, the second wrong in the next input. */
  need = 2;
  OK(crlf(&need, "\r"));
  REFUSED(crlf(&need, "\r"), why);
  need = 1;
  REFUSED(crlf(&need, "x"), why);
  need = 1;
  REFUSED(crlf(&need, "\r"), why); /* 1 owed means the LF */
  need = 2;
  const char nul[] = {'\0', '\n'};
  REFUSED(gw_strict_chunk_crlf(&need, nul, nul + 2), why);
}

/* ---- The target's form (RFC 9112 §3.2) ---- */

TEST(target_forms_taken) {
  OK(gw_strict_target("GET", "/", 1));
  OK(gw_strict_target("GET", "//x", 3));
  OK(gw_strict_target("OPTIONS", "*", 1));
  OK(gw_strict_target("GET", "http://a/x", 10));
  OK(gw_strict_target("POST", "HTTPS://a", 9));
  OK(gw_strict_target("GET", "http://a.b:8080/x?y", 19));
  OK(gw_strict_target("GET", "http://[::1]:80?y", 17));
  OK(gw_strict_target("GET", "http://a:/x", 11)); /* an empty port, as in a host header */
  OK(gw_strict_target("CONNECT", "a.b:443", 7));  /* left to the routes */
  OK(gw_strict_target("GET", "", 0));
}

TEST(target_forms_refused) {
  REFUSED(gw_strict_target("GET", "*", 1), "\"*\" is a target for OPTIONS only");
  REFUSED(gw_strict_target("DELETE", "*", 1), "\"*\" is a target for OPTIONS only");
  const char *bad[] = {"ftp://a/x", "ws://a/x", "httpx://a", "http:/a", "http://", "*x", "a/b"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
    REFUSED(gw_strict_target("GET", bad[i], strlen(bad[i])),
            "a request target in absolute form must be http:// or https://");
  const char *auth[] = {"http:///x",        "https://?q",    "http://u@a/x",
                        "http://u:p@a:80/", "http://a b/",   "http://a:8x",
                        "http://::1/",      "http://[::1/x", "http://#f"};
  for (size_t i = 0; i < sizeof(auth) / sizeof(*auth); i++)
    REFUSED(gw_strict_target("GET", auth[i], strlen(auth[i])),
            "invalid authority in the request target");
}

/* ---- The target's bytes: fragments and percent-escapes ---- */

TEST(target_bytes_taken) {
  const char *ok[] = {"/",      "/a%20b", "/%7e%7E",      "/x?q=100%", "/x?%zz&%00",
                      "/x?a=%", "/%41",   "http://a/%2F", "*",         "a.b:443"};
  for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++)
    OK(gw_strict_path(ok[i], strlen(ok[i])));
  OK(gw_strict_path("/a%4", 2)); /* only n bytes are looked at */
  OK(gw_strict_path("", 0));
}

TEST(target_fragment_refused) {
  const char *bad[] = {"/#", "/a#b", "/a?q#f", "#", "http://a/x#y"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
    REFUSED(gw_strict_path(bad[i], strlen(bad[i])), "a fragment (#) in the request target");
}

TEST(target_bad_escapes_refused) {
  const char *bad[] = {"/%", "/a%4", "/a%4?x", "/%zz", "/%g0", "/%0g", "/a%%41", "/%?41", "/% 1"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
    REFUSED(gw_strict_path(bad[i], strlen(bad[i])),
            "a malformed percent-escape in the request path");
  REFUSED(gw_strict_path("/a%00b", 6), "an escaped NUL (%00) in the request path");
  REFUSED(gw_strict_path("/a%00?x", 7), "an escaped NUL (%00) in the request path");
}

/* ---- Dot segments (RFC 3986 §5.2.4) ---- */

/* gw_strict_dots of in as a string ("-1" when it climbs above "/", the
 * bytes then untouched). */
static const char *dots(const char *in, char *out) {
  size_t n = strlen(in);
  memcpy(out, in, n);
  long k = gw_strict_dots(out, n);
  if (k < 0)
    return memcmp(out, in, n) == 0 ? "-1" : "-1, the path rewritten";
  out[k] = '\0';
  return out;
}

TEST(dot_segments_resolved) {
  static const char *cases[][2] = {
      {"/a/b/c/./../../g", "/a/g"}, /* RFC 3986 §5.2.4's own */
      {"/a/../b/x", "/b/x"},
      {"/a/./x", "/a/x"},
      {"/a/.", "/a/"},
      {"/a/b/..", "/a/"},
      {"/a/..", "/"},
      {"/.", "/"},
      {"/./", "/"},
      {"/a//..", "/a/"}, /* an empty segment is one */
      {"/a/%2e%2e/b", "/b"},
      {"/a/%2E/b", "/a/b"},
      {"/a/.%2e/b", "/b"},
      {"/a/%2e./b", "/b"},
      {"/a/.../b", "/a/.../b"}, /* three dots: a name */
      {"/a/..b/c", "/a/..b/c"},
      {"/a/b../c", "/a/b../c"},
      {"/a/.b", "/a/.b"},
      {"/a/%2ex", "/a/%2ex"},
      {"/a/%2f../b", "/a/%2f../b"}, /* %2f is no separator */
      {"/a/%2", "/a/%2"},
      {"/a/%2e%2", "/a/%2e%2"},
      {"/a/b/c", "/a/b/c"},
      {"//a/x", "//a/x"},
      {"/", "/"},
      {"*", "*"},
      {"", ""},
      {"/..", "-1"},
      {"/../x", "-1"},
      {"/a/../..", "-1"},
      {"/a/../../b", "-1"},
      {"/%2e%2e/x", "-1"},
      {"/./../x", "-1"},
      {"/x/y/../../../z", "-1"}, /* after segments that moved */
      {"/x/./y/../../a/../../z", "-1"},
  };
  char out[64];
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    const char *got = dots(cases[i][0], out);
    if (strcmp(got, cases[i][1]) != 0) {
      printf("  \"%s\": \"%s\", expected \"%s\"\n", cases[i][0], got, cases[i][1]);
      test_cur_failed = 1;
    }
  }
}

/* RFC 3986 §5.2.4 written as the RFC words it, on strings: the oracle,
 * with "climbed" set where a ".." would take the output above "/". */
static void rfc_remove_dots(const char *in, char *out, int *climbed) {
  char buf[64];
  size_t o = 0;
  strcpy(buf, in);
  char *p = buf;
  *climbed = 0;
  while (*p) {
    if (!strncmp(p, "../", 3))
      p += 3;
    else if (!strncmp(p, "./", 2))
      p += 2;
    else if (!strncmp(p, "/./", 3))
      p += 2;
    else if (!strcmp(p, "/."))
      p[1] = '\0';
    else if (!strncmp(p, "/../", 4) || !strcmp(p, "/..")) {
      if (o == 0)
        *climbed = 1;
      if (p[3] == '/')
        p += 3;
      else
        p[1] = '\0', p[2] = '\0';
      while (o > 0 && out[--o] != '/')
        ;
    } else if (!strcmp(p, ".") || !strcmp(p, ".."))
      p[0] = '\0';
    else {
      size_t k = 1;
      while (p[k] && p[k] != '/')
        k++;
      memcpy(out + o, p, k);
      o += k;
      p += k;
    }
  }
  out[o] = '\0';
}

TEST(dot_segments_as_the_rfc_has_them) {
  /* Every path up to 7 bytes over "/", ".", "a": 3^7 of them. */
  static const char alpha[] = "/.a";
  char in[8], want[64], got[64];
  for (int len = 1; len <= 7; len++) {
    int total = 1;
    for (int k = 0; k < len; k++)
      total *= 3;
    for (int v = 0; v < total; v++) {
      int x = v, climbed;
      for (int k = 0; k < len; k++, x /= 3)
        in[k] = alpha[x % 3];
      in[len] = '\0';
      if (in[0] != '/')
        continue;
      rfc_remove_dots(in, want, &climbed);
      const char *r = dots(in, got);
      const char *expect = climbed ? "-1" : want;
      if (strcmp(r, expect) != 0) {
        printf("  \"%s\": \"%s\", the RFC's \"%s\"\n", in, r, expect);
        test_cur_failed = 1;
        return;
      }
    }
  }
}

/* ---- The host header (RFC 9112 §3.2) ---- */

static const char *host_of(const char *value, int minor, int absolute) {
  struct head hd = {0};
  add(&hd, "accept", "*/*");
  if (value)
    add(&hd, "host", value);
  return gw_strict_host(hd.buf, hd.h, hd.n, minor, absolute);
}

TEST(authority_alone) {
  OK(gw_strict_authority("a.b:443", 7));
  OK(gw_strict_authority("[::1]", 5));
  REFUSED(gw_strict_authority("u@a", 3), "invalid host header");
  REFUSED(gw_strict_authority("", 0), "invalid host header");
  REFUSED(gw_strict_authority("a/b", 3), "invalid host header");
}

TEST(host_values_taken) {
  const char *ok[] = {"a",
                      "api.example.com",
                      "api.example.com:8080",
                      "127.0.0.1:80",
                      "[::1]",
                      "[::1]:8443",
                      "[::ffff:1.2.3.4]:1",
                      "x_y-z~w",
                      "a%20b",
                      "a.b:",
                      "a.b. ",
                      "caf\xc3\xa9.fr",
                      "!$&'()*+,;="};
  for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++)
    OK(host_of(ok[i], 1, 0));
}

TEST(host_values_refused) {
  const char *bad[] = {"",       " ",    "a b",   "a/b",  "a@b",   "a?b", "a#b",
                       "a\\b",   "::1",  "a:b:c", "a:8x", "[::1",  "[]",  "[::g]",
                       "[::1]x", "a:-1", "\"a\"", "a<b",  "a:80 x"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
    REFUSED(host_of(bad[i], 1, 0), "invalid host header");
}

TEST(host_missing_or_twice) {
  REFUSED(host_of(NULL, 1, 0), "missing host header");
  OK(host_of(NULL, 0, 0));  /* HTTP/1.0 needs none */
  OK(host_of(NULL, 1, 1));  /* absolute form: the target's authority is the host */
  OK(host_of("a b", 1, 1)); /* ignored then (RFC 9112 §3.2.2), replaced by the authority */
  struct head hd = {0};
  add(&hd, "host", "a");
  add(&hd, "host", "a"); /* even equal ones */
  REFUSED(gw_strict_host(hd.buf, hd.h, hd.n, 1, 0), "more than one host header");
  REFUSED(gw_strict_host(hd.buf, hd.h, hd.n, 0, 1), "more than one host header");
}

int main(void) {
  RUN(target_after_one_space);
  RUN(target_forms_taken);
  RUN(target_forms_refused);
  RUN(target_bytes_taken);
  RUN(target_fragment_refused);
  RUN(target_bad_escapes_refused);
  RUN(dot_segments_resolved);
  RUN(dot_segments_as_the_rfc_has_them);
  RUN(authority_alone);
  RUN(host_values_taken);
  RUN(host_values_refused);
  RUN(host_missing_or_twice);
  RUN(target_after_two_spaces);
  RUN(header_line_after_crlf);
  RUN(header_line_after_bare_lf);
  RUN(names_of_token_bytes);
  RUN(names_with_other_bytes);
  RUN(values_plain);
  RUN(values_with_nul_cr_lf);
  RUN(values_obs_fold);
  RUN(values_empty);
  RUN(nonws_before);
  RUN(framing_none_or_one);
  RUN(framing_content_length_twice);
  RUN(framing_transfer_encoding_chunked_only);
  RUN(framing_transfer_encoding_twice);
  RUN(framing_cl_and_te);
  RUN(framing_transfer_encoding_in_http10);
  RUN(framing_names_exact);
  RUN(chunk_crlf_whole);
  RUN(chunk_crlf_split_every_way);
  RUN(chunk_crlf_wrong_bytes);
  return test_summary();
}
