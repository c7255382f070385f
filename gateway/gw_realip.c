/* gw_realip — the client behind trusted proxies. See gw_realip.h. */
#include "gw_realip.h"

#include <string.h>

void gw_realip_start(struct gw_realip *r, const struct util_cidr *trusted, size_t ntrusted,
                     const char *peer) {
  memset(r, 0, sizeof(*r));
  r->trusted = trusted;
  r->ntrusted = ntrusted;
  if (util_ip_parse(peer, strlen(peer), &r->ip) != 0) {
    r->ip.family = 0;
    r->done = 1;
    return;
  }
  r->peer_ok = util_cidr_any(trusted, ntrusted, &r->ip) ? 1 : 0;
  r->done = !r->peer_ok;
}

/* 1 when s[0..n) is a port: 1 to 5 digits. */
static int is_port(const char *s, size_t n) {
  if (n == 0 || n > 5)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return 0;
  return 1;
}

int gw_realip_entry(const char *s, size_t n, struct util_ip *out) {
  if (n > 0 && s[0] == '[') { /* "[v6]" or "[v6]:port" */
    const char *close = memchr(s, ']', n);
    if (close == NULL)
      return -1;
    size_t after = n - (size_t)(close + 1 - s);
    if (after != 0 && !(close[1] == ':' && is_port(close + 2, after - 1)))
      return -1;
    size_t inner = (size_t)(close - s - 1);
    return memchr(s + 1, ':', inner) != NULL && util_ip_parse(s + 1, inner, out) == 0 ? 0 : -1;
  }
  const char *colon = memchr(s, ':', n);
  if (colon && memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)) == NULL) { /* "v4:port" */
    if (!is_port(colon + 1, n - (size_t)(colon + 1 - s)))
      return -1;
    return util_ip_parse(s, (size_t)(colon - s), out) == 0 && out->family == 4 ? 0 : -1;
  }
  return util_ip_parse(s, n, out);
}

static int blank(char ch) {
  return ch == ' ' || ch == '\t';
}

void gw_realip_feed(struct gw_realip *r, const char *v, size_t len) {
  size_t end = len;
  while (!r->done && end > 0) {
    size_t start = end;
    while (start > 0 && v[start - 1] != ',')
      start--;
    size_t a = start, b = end;
    while (a < b && blank(v[a]))
      a++;
    while (b > a && blank(v[b - 1]))
      b--;
    end = start > 0 ? start - 1 : 0;
    if (a == b)
      continue; /* an empty element of the list (RFC 9110 §5.6.1) */
    struct util_ip ip;
    if (gw_realip_entry(v + a, b - a, &ip) != 0) {
      r->done = 1; /* not an address: the hop before it stands */
      return;
    }
    r->ip = ip;
    r->done = !util_cidr_any(r->trusted, r->ntrusted, &ip);
  }
}
