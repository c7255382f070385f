/* cfg_listen — "host:port" listen addresses. See struct cfg_listen in cfg.h.
 *
 * Accepted: "127.0.0.1:8080", "[::1]:8080", "[::]:8080", "localhost:8080"
 * (127.0.0.1), ":8080" and "8080" (0.0.0.0, like nginx's `listen 8080`).
 * Hosts must be IP literals (plus "localhost"): the gateway binds without a
 * DNS lookup, so a config cannot depend on a resolver at start. */
#include "cfg.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* Parses a decimal port 1..65535 of n bytes. Returns it, or -1. */
static int parse_port(const char *s, size_t n) {
  int port = 0;
  if (n == 0 || n > 5)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    port = port * 10 + (s[i] - '0');
  }
  return port >= 1 && port <= 65535 ? port : -1;
}

/* Parses s into l. Returns 0, or -1 with a reason in err. */
int cfg_listen_parse(const char *s, struct cfg_listen *l, char *err, size_t errlen) {
  char host[64];
  const char *colon, *h;
  size_t hlen;
  int ipv6 = 0;

  if (s[0] == '[') { /* "[v6]:port" */
    const char *close = strchr(s, ']');
    if (close == NULL || close[1] != ':') {
      snprintf(err, errlen, "\"%s\": expected \"[IPv6]:PORT\"", s);
      return -1;
    }
    h = s + 1;
    hlen = (size_t)(close - h);
    colon = close + 1;
    ipv6 = 1;
  } else {
    colon = strrchr(s, ':');
    h = s;
    hlen = colon ? (size_t)(colon - s) : 0;
    if (colon && memchr(s, ':', hlen) != NULL) {
      snprintf(err, errlen,
               "\"%s\": an IPv6 address needs brackets: "
               "\"[::1]:8080\"",
               s);
      return -1;
    }
  }
  const char *ps = colon ? colon + 1 : s;
  int port = parse_port(ps, strlen(ps));
  if (port < 0 && colon == NULL) {
    snprintf(err, errlen, "\"%s\": expected \"HOST:PORT\" or \":PORT\"", s);
    return -1;
  }
  if (port < 0) {
    snprintf(err, errlen, "\"%s\": port must be 1..65535", s);
    return -1;
  }
  if (hlen >= sizeof(host)) {
    snprintf(err, errlen, "\"%s\": host must be an IP address", s);
    return -1;
  }
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  if (hlen == 0 && !ipv6)
    strcpy(host, "0.0.0.0");
  else if (!ipv6 && strcmp(host, "localhost") == 0)
    strcpy(host, "127.0.0.1");

  unsigned char addr[16];
  if (inet_pton(ipv6 ? AF_INET6 : AF_INET, host, addr) != 1) {
    snprintf(err, errlen, "\"%s\": host must be %s", s,
             ipv6 ? "an IPv6 address" : "an IPv4 address or \"localhost\"");
    return -1;
  }
  char *dup = strdup(host);
  if (dup == NULL) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  l->host = dup;
  l->port = port;
  l->ipv6 = ipv6;
  return 0;
}
