/* Unit tests for util_cidr (addresses and blocks) and gw_realip (the
 * client behind trusted proxies, from x-forwarded-for). */
#include <stdlib.h>
#include <string.h>

#include "gw_realip.h"
#include "test.h"
#include "util_cidr.h"

/* Parses the NULL-terminated blocks into t; returns how many. */
static size_t blocks(struct util_cidr *t, const char *const *s) {
  char err[256];
  size_t n = 0;
  for (; *s; s++, n++)
    CHECK_INT(util_cidr_parse(*s, &t[n], err, sizeof(err)), 0);
  return n;
}

/* The client found from peer and the x-forwarded-for values (the first
 * header first, as they came), with trusted blocks t. */
static const char *client(const char *const *trusted, const char *peer, const char *const *xff) {
  static char out[UTIL_IP_TEXT];
  struct util_cidr t[16];
  size_t n = blocks(t, trusted), nx = 0;
  struct gw_realip r;
  gw_realip_start(&r, t, n, peer);
  while (xff && xff[nx])
    nx++;
  while (nx-- > 0 && !r.done)
    gw_realip_feed(&r, xff[nx], strlen(xff[nx]));
  if (r.ip.family == 0)
    return "?";
  util_ip_text(&r.ip, out);
  return out;
}

static int has(const char *block, const char *ip) {
  struct util_cidr c;
  struct util_ip a;
  char err[256];
  CHECK_INT(util_cidr_parse(block, &c, err, sizeof(err)), 0);
  CHECK_INT(util_ip_parse(ip, strlen(ip), &a), 0);
  return util_cidr_has(&c, &a);
}

static const char *parse_error(const char *s) {
  static char err[256];
  struct util_cidr c;
  err[0] = '\0';
  CHECK_INT(util_cidr_parse(s, &c, err, sizeof(err)), -1);
  return err;
}

/* ---- util_cidr ---- */

TEST(blocks_hold_their_addresses) {
  CHECK_INT(has("10.0.0.0/8", "10.255.1.2"), 1);
  CHECK_INT(has("10.0.0.0/8", "11.0.0.0"), 0);
  CHECK_INT(has("198.18.0.0/15", "198.19.255.255"), 1);
  CHECK_INT(has("198.18.0.0/15", "198.20.0.0"), 0);
  CHECK_INT(has("127.0.0.1", "127.0.0.1"), 1);
  CHECK_INT(has("127.0.0.1", "127.0.0.2"), 0);
  CHECK_INT(has("0.0.0.0/0", "203.0.113.9"), 1);
  CHECK_INT(has("0.0.0.0/0", "::1"), 0); /* families never mix */
  CHECK_INT(has("fd00::/8", "fd12:3456::1"), 1);
  CHECK_INT(has("fd00::/8", "fe80::1"), 0);
  CHECK_INT(has("::1", "::1"), 1);
  CHECK_INT(has("2001:db8::/33", "2001:db8:7fff::1"), 1);
  CHECK_INT(has("2001:db8::/33", "2001:db8:8000::1"), 0);
}

TEST(mapped_ipv4_is_ipv4) {
  /* a dual-stack listener reports an IPv4 client as ::ffff:a.b.c.d */
  CHECK_INT(has("127.0.0.0/8", "::ffff:127.0.0.5"), 1);
  struct util_ip a;
  char text[UTIL_IP_TEXT];
  CHECK_INT(util_ip_parse("::ffff:10.1.2.3", 15, &a), 0);
  CHECK_INT(a.family, 4);
  util_ip_text(&a, text);
  CHECK_STR(text, "10.1.2.3");
}

TEST(bad_blocks_are_named_with_the_cause) {
  CHECK_STR(parse_error("10.0.0.0/33"), "\"10.0.0.0/33\": the prefix length must be 0..32");
  CHECK_STR(parse_error("::/129"), "\"::/129\": the prefix length must be 0..128");
  CHECK_STR(parse_error("10.0.0.0/"), "\"10.0.0.0/\": the prefix length must be 0..32");
  CHECK_STR(parse_error("10.0.0.0/8x"), "\"10.0.0.0/8x\": the prefix length must be 0..32");
  CHECK_STR(parse_error("10.1.0.0/8"), "\"10.1.0.0/8\": bits are set past the /8 prefix");
  CHECK_STR(parse_error("localhost"),
            "\"localhost\": not an IP address or block (\"10.0.0.0/8\", \"::1\")");
  CHECK_STR(parse_error(""), "\"\": not an IP address or block (\"10.0.0.0/8\", \"::1\")");
  CHECK_STR(parse_error("::ffff:10.0.0.0/104"),
            "\"::ffff:10.0.0.0/104\": write an IPv4-mapped block as IPv4 (\"a.b.c.d/N\")");
}

/* ---- gw_realip ---- */

static const char *const lb[] = {"127.0.0.1", "10.0.0.0/8", NULL};

TEST(untrusted_peer_is_the_client_whatever_it_claims) {
  const char *const xff[] = {"203.0.113.7", NULL};
  CHECK_STR(client(lb, "192.0.2.1", xff), "192.0.2.1");
}

TEST(trusted_peer_names_the_client) {
  const char *const xff[] = {"203.0.113.7", NULL};
  CHECK_STR(client(lb, "127.0.0.1", xff), "203.0.113.7");
}

TEST(trusted_peer_without_header_is_the_client) {
  CHECK_STR(client(lb, "127.0.0.1", NULL), "127.0.0.1");
}

TEST(walk_stops_at_the_first_untrusted_hop) {
  /* the client wrote 1.1.1.1 itself; 198.51.100.2 reached a trusted proxy */
  const char *const xff[] = {"1.1.1.1, 198.51.100.2, 10.0.0.3", NULL};
  CHECK_STR(client(lb, "127.0.0.1", xff), "198.51.100.2");
}

TEST(every_hop_trusted_gives_the_leftmost) {
  const char *const xff[] = {"10.0.0.9,10.0.0.3", NULL};
  CHECK_STR(client(lb, "10.1.1.1", xff), "10.0.0.9");
}

TEST(later_headers_are_nearer) {
  const char *const xff[] = {"198.51.100.2", "10.0.0.3", NULL};
  CHECK_STR(client(lb, "127.0.0.1", xff), "198.51.100.2");
  const char *const two[] = {"198.51.100.2", "192.0.2.8", NULL};
  CHECK_STR(client(lb, "127.0.0.1", two), "192.0.2.8");
}

TEST(garbage_keeps_the_hop_before_it) {
  const char *const unknown[] = {"unknown, 10.0.0.3", NULL};
  CHECK_STR(client(lb, "127.0.0.1", unknown), "10.0.0.3");
  const char *const bad[] = {"198.51.100.2, 1.2.3", NULL};
  CHECK_STR(client(lb, "127.0.0.1", bad), "127.0.0.1");
}

TEST(blanks_empty_elements_and_ports) {
  const char *const xff[] = {" ,\t203.0.113.7:5555 , ,", NULL};
  CHECK_STR(client(lb, "127.0.0.1", xff), "203.0.113.7");
  const char *const v6[] = {"[2001:db8::7]:443", NULL};
  CHECK_STR(client(lb, "127.0.0.1", v6), "2001:db8::7");
  const char *const bare[] = {"[2001:db8::7]", NULL};
  CHECK_STR(client(lb, "127.0.0.1", bare), "2001:db8::7");
  const char *const plain[] = {"2001:DB8:0::7", NULL};
  CHECK_STR(client(lb, "127.0.0.1", plain), "2001:db8::7"); /* canonical text */
}

TEST(entries_that_are_not_addresses) {
  struct util_ip a;
  const char *bad[] = {
      "[1.2.3.4]", "[::1",        "[::1]:", "[::1]:123456", "[::1]x", "1.2.3.4:", "1.2.3.4:x",
      "::1:",      "1.2.3.4:5:6", "",       "unknown",      "_hidden"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    CHECK_INT(gw_realip_entry(bad[i], strlen(bad[i]), &a), -1);
  CHECK_INT(gw_realip_entry("::1", 3, &a), 0); /* "::1" is a bare IPv6 address */
}

TEST(unknown_peer_is_left_alone) {
  struct util_cidr t[2];
  size_t n = blocks(t, lb);
  struct gw_realip r;
  gw_realip_start(&r, t, n, "?");
  CHECK_INT(r.done, 1);
  CHECK_INT(r.peer_ok, 0);
  CHECK_INT(r.ip.family, 0);
}

int main(void) {
  RUN(blocks_hold_their_addresses);
  RUN(mapped_ipv4_is_ipv4);
  RUN(bad_blocks_are_named_with_the_cause);
  RUN(untrusted_peer_is_the_client_whatever_it_claims);
  RUN(trusted_peer_names_the_client);
  RUN(trusted_peer_without_header_is_the_client);
  RUN(walk_stops_at_the_first_untrusted_hop);
  RUN(every_hop_trusted_gives_the_leftmost);
  RUN(later_headers_are_nearer);
  RUN(garbage_keeps_the_hop_before_it);
  RUN(blanks_empty_elements_and_ports);
  RUN(entries_that_are_not_addresses);
  RUN(unknown_peer_is_left_alone);
  return test_summary();
}
