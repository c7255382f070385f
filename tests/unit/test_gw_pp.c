/* Unit tests for gw_pp: PROXY protocol headers, version 1 and 2, whole,
 * cut short, and wrong in each way the parser names. */
#include <string.h>

#include "gw_pp.h"
#include "test.h"

static struct gw_pp pp;

static int parse(const char *s, size_t n) {
  return gw_pp_parse(s, n, &pp);
}

static int parse_str(const char *s) {
  return parse(s, strlen(s));
}

static const char *src(void) {
  static char t[UTIL_IP_TEXT];
  util_ip_text(&pp.src, t);
  return t;
}

/* A v2 header: command, family/protocol byte, then len bytes of body. */
static size_t v2(unsigned char *out, int cmd, int fam, const unsigned char *body, size_t len) {
  memcpy(out, "\r\n\r\n\0\r\nQUIT\n", 12);
  out[12] = (unsigned char)(0x20 | cmd);
  out[13] = (unsigned char)fam;
  out[14] = (unsigned char)(len >> 8);
  out[15] = (unsigned char)len;
  memcpy(out + 16, body, len);
  return 16 + len;
}

TEST(v1_tcp4_and_the_bytes_after_it) {
  const char *h = "PROXY TCP4 203.0.113.7 198.18.0.1 56324 443\r\nGET / HTTP/1.1\r\n";
  CHECK_INT(parse_str(h), 45);
  CHECK_INT(pp.local, 0);
  CHECK_STR(src(), "203.0.113.7");
  CHECK_INT(pp.sport, 56324);
  CHECK_INT(pp.dport, 443);
}

TEST(v1_tcp6_and_unknown) {
  CHECK_INT(parse_str("PROXY TCP6 2001:db8::7 ::1 1 65535\r\n"), 36);
  CHECK_STR(src(), "2001:db8::7");
  CHECK_INT(parse_str("PROXY UNKNOWN\r\n"), 15);
  CHECK_INT(pp.local, 1);
  CHECK_INT(parse_str("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), 35);
  CHECK_INT(pp.local, 1);
}

TEST(v1_cut_anywhere_asks_for_more) {
  const char *h = "PROXY TCP4 203.0.113.7 198.18.0.1 56324 443\r\n";
  for (size_t n = 0; n < strlen(h); n++)
    CHECK_INT(parse(h, n), GW_PP_MORE);
}

TEST(v1_errors_say_what_is_wrong) {
  CHECK_INT(parse_str("GET / HTTP/1.1\r\n"), GW_PP_ERROR);
  CHECK_STR(pp.why, "not a PROXY protocol header");
  CHECK_INT(parse_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), GW_PP_ERROR);
  CHECK_STR(pp.why, "PROXY v1: the line must end with CRLF");
  CHECK_INT(parse_str("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), GW_PP_ERROR);
  CHECK_STR(pp.why, "PROXY v1: the protocol must be TCP4, TCP6 or UNKNOWN");
  CHECK_INT(parse_str("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), GW_PP_ERROR);
  CHECK_STR(pp.why, "PROXY v1: an address is not one of its protocol");
  CHECK_INT(parse_str("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), GW_PP_ERROR);
  CHECK_INT(parse_str("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), GW_PP_ERROR);
  CHECK_STR(pp.why, "PROXY v1: a port is not 0..65535");
  CHECK_INT(parse_str("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"), GW_PP_ERROR);
  CHECK_INT(parse_str("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"), GW_PP_ERROR);
  CHECK_STR(pp.why, "PROXY v1: expected \"PROXY TCP4|TCP6 SRC DST SPORT DPORT\"");
  CHECK_INT(parse_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), GW_PP_ERROR);
  CHECK_INT(parse_str("PROXY UNKNOWNX\r\n"), GW_PP_ERROR);
  char long_line[200];
  memset(long_line, 'x', sizeof(long_line));
  memcpy(long_line, "PROXY ", 6);
  CHECK_INT(parse(long_line, sizeof(long_line)), GW_PP_ERROR);
  CHECK_STR(pp.why, "PROXY v1: no CRLF within 107 bytes");
  CHECK_INT(parse("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 34), GW_PP_ERROR);
  CHECK_STR(pp.why, "PROXY v1: a NUL in the line");
}

TEST(v2_tcp4_with_tlvs) {
  unsigned char b[64],
      body[] = {203,  0,    113,  7,    198,  18,   0,   1,  0xdc,
                0x04, 0x01, 0xbb, 0x04, 0x00, 0x02, 'h', 'i'}; /* then a TLV: NOOP, 2 bytes */
  size_t n = v2(b, 1, 0x11, body, sizeof(body));
  CHECK_INT(parse((char *)b, n), (int)n);
  CHECK_INT(pp.local, 0);
  CHECK_STR(src(), "203.0.113.7");
  CHECK_INT(pp.sport, 0xdc04);
  CHECK_INT(pp.dport, 443);
  for (size_t k = 0; k < n; k++)
    CHECK_INT(parse((char *)b, k), GW_PP_MORE);
}

TEST(v2_tcp6_local_and_unix) {
  unsigned char b[300], body[216] = {0x20, 0x01, 0x0d, 0xb8};
  body[15] = 7;
  body[31] = 1;
  size_t n = v2(b, 1, 0x21, body, 36);
  CHECK_INT(parse((char *)b, n), (int)n);
  CHECK_STR(src(), "2001:db8::7");
  n = v2(b, 0, 0x00, body, 0); /* LOCAL: the balancer's own check */
  CHECK_INT(parse((char *)b, n), 16);
  CHECK_INT(pp.local, 1);
  n = v2(b, 0, 0x11, body, 12); /* LOCAL with addresses: still none to use */
  CHECK_INT(parse((char *)b, n), 28);
  CHECK_INT(pp.local, 1);
  n = v2(b, 1, 0x31, body, 216); /* a Unix socket client */
  CHECK_INT(parse((char *)b, n), (int)n);
  CHECK_INT(pp.local, 1);
}

TEST(v2_errors_say_what_is_wrong) {
  unsigned char b[3000], body[2100] = {0};
  size_t n = v2(b, 1, 0x11, body, 12);
  b[12] = 0x11;
  CHECK_INT(parse((char *)b, n), GW_PP_ERROR);
  CHECK_STR(pp.why, "PROXY v2: the version must be 2");
  b[12] = 0x22;
  CHECK_INT(parse((char *)b, n), GW_PP_ERROR);
  CHECK_STR(pp.why, "PROXY v2: the command must be LOCAL or PROXY");
  n = v2(b, 1, 0x12, body, 12);
  CHECK_INT(parse((char *)b, n), GW_PP_ERROR);
  CHECK_STR(pp.why, "PROXY v2: the connection is not a TCP stream");
  n = v2(b, 1, 0x41, body, 12);
  CHECK_INT(parse((char *)b, n), GW_PP_ERROR);
  CHECK_STR(pp.why, "PROXY v2: an unknown address family or protocol");
  n = v2(b, 1, 0x21, body, 12);
  CHECK_INT(parse((char *)b, n), GW_PP_ERROR);
  CHECK_STR(pp.why, "PROXY v2: the addresses are longer than the header");
  n = v2(b, 1, 0x11, body, 2049);
  CHECK_INT(parse((char *)b, 16), GW_PP_ERROR); /* known from the length alone */
  CHECK_STR(pp.why, "PROXY v2: the header is longer than 2064 bytes");
  CHECK_INT(parse("\r\n\r\n\0\r\nQUIX\n", 12), GW_PP_ERROR);
  CHECK_STR(pp.why, "not a PROXY protocol header");
}

TEST(mapped_addresses_are_ipv4) {
  CHECK_INT(parse_str("PROXY TCP6 ::ffff:203.0.113.7 ::1 1 2\r\n"), 39);
  CHECK_INT(pp.src.family, 4);
  CHECK_STR(src(), "203.0.113.7");
}

int main(void) {
  RUN(v1_tcp4_and_the_bytes_after_it);
  RUN(v1_tcp6_and_unknown);
  RUN(v1_cut_anywhere_asks_for_more);
  RUN(v1_errors_say_what_is_wrong);
  RUN(v2_tcp4_with_tlvs);
  RUN(v2_tcp6_local_and_unix);
  RUN(v2_errors_say_what_is_wrong);
  RUN(mapped_addresses_are_ipv4);
  return test_summary();
}
