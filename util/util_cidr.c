/* util_cidr — addresses and address blocks. See util_cidr.h. */
#include "util_cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void util_ip_set(struct util_ip *ip, int family, const void *bytes) {
  const uint8_t *b = bytes;
  memset(ip, 0, sizeof(*ip));
  if (family == 6 && memcmp(b, v4_mapped, sizeof(v4_mapped)) == 0) {
    family = 4;
    b += sizeof(v4_mapped);
  }
  ip->family = family;
  memcpy(ip->b, b, family == 4 ? 4 : 16);
}

int util_ip_of_sockaddr(const struct sockaddr *sa, struct util_ip *ip, int *port) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const void *)sa;
    util_ip_set(ip, 4, &a->sin_addr);
    *port = ntohs(a->sin_port);
    return 0;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const void *)sa;
    util_ip_set(ip, 6, &a->sin6_addr);
    *port = ntohs(a->sin6_port);
    return 0;
  }
  return -1;
}

int util_ip_parse(const char *s, size_t n, struct util_ip *out) {
  char text[UTIL_IP_TEXT];
  uint8_t b[16];
  if (n == 0 || n >= sizeof(text))
    return -1;
  memcpy(text, s, n);
  text[n] = '\0';
  if (inet_pton(AF_INET, text, b) == 1)
    util_ip_set(out, 4, b);
  else if (inet_pton(AF_INET6, text, b) == 1)
    util_ip_set(out, 6, b);
  else
    return -1;
  return 0;
}

void util_ip_text(const struct util_ip *ip, char out[UTIL_IP_TEXT]) {
  if (inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->b, out, UTIL_IP_TEXT) == NULL)
    snprintf(out, UTIL_IP_TEXT, "?");
}

/* Parses the decimal prefix length p (NUL-terminated), at most max.
 * Returns it, or -1. */
static int parse_bits(const char *p, int max) {
  int bits = 0;
  if (*p == '\0' || strlen(p) > 3)
    return -1;
  for (; *p; p++) {
    if (*p < '0' || *p > '9')
      return -1;
    bits = bits * 10 + (*p - '0');
  }
  return bits <= max ? bits : -1;
}

/* 1 when a bit of ip past the first `bits` is set. */
static int host_bits_set(const struct util_ip *ip, int bits) {
  int len = ip->family == 4 ? 4 : 16;
  for (int i = 0; i < len; i++) {
    int keep = bits - 8 * i; /* bits of byte i inside the prefix */
    uint8_t host = keep >= 8 ? 0 : keep <= 0 ? 0xff : (uint8_t)(0xffu >> keep);
    if (ip->b[i] & host)
      return 1;
  }
  return 0;
}

int util_cidr_parse(const char *s, struct util_cidr *out, char *err, size_t errlen) {
  const char *slash = strchr(s, '/');
  size_t alen = slash ? (size_t)(slash - s) : strlen(s);
  if (util_ip_parse(s, alen, &out->ip) != 0) {
    snprintf(err, errlen, "\"%s\": not an IP address or block (\"10.0.0.0/8\", \"::1\")", s);
    return -1;
  }
  int max = out->ip.family == 4 ? 32 : 128;
  if (memchr(s, ':', alen) != NULL && out->ip.family == 4 && slash) {
    snprintf(err, errlen, "\"%s\": write an IPv4-mapped block as IPv4 (\"a.b.c.d/N\")", s);
    return -1;
  }
  out->bits = slash ? parse_bits(slash + 1, max) : max;
  if (out->bits < 0) {
    snprintf(err, errlen, "\"%s\": the prefix length must be 0..%d", s, max);
    return -1;
  }
  if (host_bits_set(&out->ip, out->bits)) {
    snprintf(err, errlen, "\"%s\": bits are set past the /%d prefix", s, out->bits);
    return -1;
  }
  return 0;
}

int util_cidr_has(const struct util_cidr *c, const struct util_ip *ip) {
  if (c->ip.family != ip->family)
    return 0;
  int whole = c->bits / 8, rest = c->bits % 8;
  if (memcmp(c->ip.b, ip->b, (size_t)whole) != 0)
    return 0;
  if (rest == 0)
    return 1;
  uint8_t mask = (uint8_t)(0xffu << (8 - rest));
  return (c->ip.b[whole] & mask) == (ip->b[whole] & mask);
}

int util_cidr_any(const struct util_cidr *c, size_t n, const struct util_ip *ip) {
  for (size_t i = 0; i < n; i++)
    if (util_cidr_has(&c[i], ip))
      return 1;
  return 0;
}
