/* util_cidr — IP addresses and address blocks ("10.0.0.0/8", "::1",
 * "fd00::/8") as text and as bytes, for the gateway's trusted proxies.
 * Pure: inet_pton/inet_ntop, no lookups, no allocation. */
#ifndef MUSTER_UTIL_CIDR_H
#define MUSTER_UTIL_CIDR_H

#include <stddef.h>
#include <stdint.h>

#define UTIL_IP_TEXT 46 /* INET6_ADDRSTRLEN: the longest address text, with its NUL */

/* An address: 4 bytes (family 4) or 16 (family 6), network order. An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack listener
 * reports for an IPv4 client) is kept as the IPv4 address it maps. */
struct util_ip {
  int family; /* 4 or 6 */
  uint8_t b[16];
};

/* A block: the addresses whose first `bits` bits are those of ip. */
struct util_cidr {
  struct util_ip ip;
  int bits; /* 0..32 or 0..128 */
};

struct sockaddr;

/* ip from the bytes of an address of family 4 or 6 (network order), an
 * IPv4-mapped IPv6 one taken as IPv4. */
void util_ip_set(struct util_ip *ip, int family, const void *bytes);

/* ip and *port from an AF_INET or AF_INET6 socket address. Returns 0, or
 * -1 for another family. */
int util_ip_of_sockaddr(const struct sockaddr *sa, struct util_ip *ip, int *port);

/* Parses the n bytes at s as a bare address ("127.0.0.1", "::1"). Returns
 * 0, or -1 when they are not one. */
int util_ip_parse(const char *s, size_t n, struct util_ip *out);

/* The address as text (inet_ntop's canonical form) into out. */
void util_ip_text(const struct util_ip *ip, char out[UTIL_IP_TEXT]);

/* Parses "ADDR" (a block of one address) or "ADDR/BITS". Bits set past
 * the prefix are an error, as they usually mean a typo ("10.1.0.0/8").
 * Returns 0, or -1 with the reason in err (which names s). */
int util_cidr_parse(const char *s, struct util_cidr *out, char *err, size_t errlen);

/* 1 when ip is inside the block. */
int util_cidr_has(const struct util_cidr *c, const struct util_ip *ip);

/* 1 when ip is inside one of the n blocks. */
int util_cidr_any(const struct util_cidr *c, size_t n, const struct util_ip *ip);

#endif
