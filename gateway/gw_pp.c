/* gw_pp — the PROXY protocol header. See gw_pp.h. */
#include "gw_pp.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define V1_MAX 107 /* "PROXY TCP6 " + two full IPv6 addresses + two ports + CRLF */

static const char v2_sig[12] = "\r\n\r\n\0\r\nQUIT\n";

static int fail(struct gw_pp *out, const char *why) {
  snprintf(out->why, sizeof(out->why), "%s", why);
  return GW_PP_ERROR;
}

/* ---- Version 1: "PROXY TCP4 SRC DST SPORT DPORT\r\n" ---- */

/* Parses a port of n bytes: 1..5 digits, no leading zero, <= 65535. */
static int v1_port(const char *s, size_t n) {
  int port = 0;
  if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    port = port * 10 + (s[i] - '0');
  }
  return port <= 65535 ? port : -1;
}

/* 1 when s[0..n) is an address of family fam (4: dotted, 6: with colons). */
static int v1_addr(const char *s, size_t n, int fam, struct util_ip *ip) {
  int colons = memchr(s, ':', n) != NULL;
  return colons == (fam == 6) && util_ip_parse(s, n, ip) == 0;
}

/* Splits line[0..n) (no CRLF) at single spaces into at most 6 fields. */
static size_t v1_fields(const char *line, size_t n, const char *f[6], size_t len[6]) {
  size_t k = 0, start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && line[i] != ' ')
      continue;
    if (k == 6)
      return 7; /* too many */
    f[k] = line + start;
    len[k++] = i - start;
    start = i + 1;
  }
  return k;
}

static int v1_line(const char *p, size_t n, struct gw_pp *out) {
  const char *f[6];
  size_t len[6];
  if (n >= 13 && memcmp(p, "PROXY UNKNOWN", 13) == 0 && (n == 13 || p[13] == ' ')) {
    out->local = 1; /* the rest of the line says nothing to rely on */
    return 0;
  }
  if (v1_fields(p, n, f, len) != 6)
    return fail(out, "PROXY v1: expected \"PROXY TCP4|TCP6 SRC DST SPORT DPORT\"");
  int fam = len[1] == 4 && memcmp(f[1], "TCP4", 4) == 0   ? 4
            : len[1] == 4 && memcmp(f[1], "TCP6", 4) == 0 ? 6
                                                          : 0;
  if (fam == 0)
    return fail(out, "PROXY v1: the protocol must be TCP4, TCP6 or UNKNOWN");
  if (!v1_addr(f[2], len[2], fam, &out->src) || !v1_addr(f[3], len[3], fam, &out->dst))
    return fail(out, "PROXY v1: an address is not one of its protocol");
  if ((out->sport = v1_port(f[4], len[4])) < 0 || (out->dport = v1_port(f[5], len[5])) < 0)
    return fail(out, "PROXY v1: a port is not 0..65535");
  return 0;
}

static int parse_v1(const char *p, size_t n, struct gw_pp *out) {
  const char *lf = memchr(p, '\n', n < V1_MAX ? n : V1_MAX);
  if (lf == NULL)
    return n < V1_MAX ? GW_PP_MORE : fail(out, "PROXY v1: no CRLF within 107 bytes");
  size_t line = (size_t)(lf - p);
  if (line == 0 || p[line - 1] != '\r')
    return fail(out, "PROXY v1: the line must end with CRLF");
  if (memchr(p, '\0', line) != NULL)
    return fail(out, "PROXY v1: a NUL in the line");
  return v1_line(p, line - 1, out) == 0 ? (int)line + 1 : GW_PP_ERROR;
}

/* ---- Version 2: the signature, ver/cmd, family, length, addresses, TLVs ---- */

static int port_at(const unsigned char *b) {
  return (int)b[0] << 8 | b[1];
}

static int parse_v2(const unsigned char *p, size_t n, struct gw_pp *out) {
  if (n < 16)
    return GW_PP_MORE;
  size_t len = (size_t)p[14] << 8 | p[15];
  if ((p[12] & 0xf0) != 0x20)
    return fail(out, "PROXY v2: the version must be 2");
  if ((p[12] & 0x0f) > 1)
    return fail(out, "PROXY v2: the command must be LOCAL or PROXY");
  if (16 + len > GW_PP_MAX)
    return fail(out, "PROXY v2: the header is longer than 2064 bytes");
  if (n < 16 + len)
    return GW_PP_MORE;
  unsigned fam = p[13] >> 4, proto = p[13] & 0x0f;
  if (fam > 3 || proto > 2)
    return fail(out, "PROXY v2: an unknown address family or protocol");
  size_t need = fam == 1 ? 12 : fam == 2 ? 36 : fam == 3 ? 216 : 0;
  if (len < need)
    return fail(out, "PROXY v2: the addresses are longer than the header");
  if ((p[12] & 0x0f) == 0 || fam == 0 || fam == 3) {
    out->local = 1; /* LOCAL (the balancer's own health check), UNSPEC, or a Unix socket */
    return (int)(16 + len);
  }
  if (proto != 1)
    return fail(out, "PROXY v2: the connection is not a TCP stream");
  const unsigned char *a = p + 16;
  size_t alen = fam == 1 ? 4 : 16;
  util_ip_set(&out->src, fam == 1 ? 4 : 6, a); /* IPv4-mapped IPv6 as IPv4 */
  util_ip_set(&out->dst, fam == 1 ? 4 : 6, a + alen);
  out->sport = port_at(a + 2 * alen);
  out->dport = port_at(a + 2 * alen + 2);
  return (int)(16 + len);
}

int gw_pp_v1(const struct gw_pp *pp, char *out) {
  char s[UTIL_IP_TEXT], d[UTIL_IP_TEXT];
  if (pp->local || pp->src.family != pp->dst.family || pp->src.family == 0)
    return snprintf(out, GW_PP_V1_MAX, "PROXY UNKNOWN\r\n");
  util_ip_text(&pp->src, s);
  util_ip_text(&pp->dst, d);
  return snprintf(out, GW_PP_V1_MAX, "PROXY TCP%d %s %s %d %d\r\n", pp->src.family, s, d, pp->sport,
                  pp->dport);
}

int gw_pp_feed(struct ipc_buf *acc, const char *data, size_t len, struct gw_pp *out) {
  size_t have = acc->len;
  int r;
  if (have == 0) { /* most headers come whole in the first read: no copy */
    r = gw_pp_parse(data, len, out);
    if (r == GW_PP_MORE)
      ipc_buf_add(acc, data, len);
  } else { /* a header is never longer than GW_PP_MAX */
    ipc_buf_add(acc, data, len < GW_PP_MAX - have ? len : GW_PP_MAX - have);
    r = acc->oom ? GW_PP_MORE : gw_pp_parse(acc->data, acc->len, out);
  }
  if (acc->oom)
    return fail(out, "out of memory");
  if (r > 0) {
    ipc_buf_free(acc);
    r -= (int)have; /* a prefix of it was not whole: the header ends in data */
  }
  return r;
}

int gw_pp_parse(const char *p, size_t n, struct gw_pp *out) {
  memset(out, 0, sizeof(*out));
  if (n == 0)
    return GW_PP_MORE;
  if (p[0] == 'P') {
    size_t k = n < 6 ? n : 6;
    if (memcmp(p, "PROXY ", k) != 0)
      return fail(out, "not a PROXY protocol header");
    return k < 6 ? GW_PP_MORE : parse_v1(p, n, out);
  }
  size_t k = n < sizeof(v2_sig) ? n : sizeof(v2_sig);
  if (memcmp(p, v2_sig, k) != 0)
    return fail(out, "not a PROXY protocol header");
  return k < sizeof(v2_sig) ? GW_PP_MORE : parse_v2((const unsigned char *)p, n, out);
}
