/* gw_strict — request checks beyond llhttp's. See gw_strict.h. */
#include "gw_strict.h"

#include <string.h>
#include <strings.h>

#include "ipc_query.h"
#include "util_token.h"

const char *gw_strict_target_start(char b1, char b2) {
  return b1 == ' ' && b2 == ' ' ? "malformed request line" : NULL;
}

const char *gw_strict_line_start(char b1, char b2) {
  if (b2 != '\0' && (b1 != '\n' || b2 != '\r'))
    return "bare LF in the request head";
  return NULL;
}

const char *gw_strict_name(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!util_is_tchar((unsigned char)p[i]))
      return "invalid header name";
  return NULL;
}

const char *gw_strict_value(const char *p, size_t n, char b1) {
  if (memchr(p, '\0', n) || memchr(p, '\r', n) || memchr(p, '\n', n))
    return "invalid character in a header value";
  if (n > 0 && b1 == '\n')
    return "obsolete line folding in a header";
  return NULL;
}

char gw_strict_nonws_before(const char *at, const char *start, char carried) {
  while (at > start && (at[-1] == ' ' || at[-1] == '\t'))
    at--;
  return at > start ? at[-1] : carried;
}

char gw_strict_nonws_last(const char *data, size_t n, char carried) {
  return gw_strict_nonws_before(data + n, data, carried);
}

static int name_is(const char *buf, const struct gw_hdr *h, const char *name, size_t len) {
  return h->nlen == len && memcmp(buf + h->name, name, len) == 0;
}

const char *gw_strict_framing(const char *buf, const struct gw_hdr *h, size_t n, int http_minor) {
  int ncl = 0, nte = 0;
  for (size_t i = 0; i < n; i++) {
    if (name_is(buf, &h[i], "content-length", 14)) {
      ncl++;
    } else if (name_is(buf, &h[i], "transfer-encoding", 17)) {
      nte++;
      if (h[i].vlen != 7 || strncasecmp(buf + h[i].value, "chunked", 7) != 0)
        return "unsupported transfer-encoding";
    }
  }
  if (ncl > 1) /* even equal ones: they disagree on intent */
    return "more than one content-length";
  if (nte > 1)
    return "more than one transfer-encoding";
  if (ncl && nte)
    return "both content-length and transfer-encoding";
  if (nte && http_minor == 0)
    return "transfer-encoding in an HTTP/1.0 message";
  return NULL;
}

static int host_value_ok(const char *v, size_t n);

const char *gw_strict_target(const char *method, const char *url, size_t n) {
  if (n == 0 || url[0] == '/' || strcmp(method, "CONNECT") == 0)
    return NULL;
  if (n == 1 && url[0] == '*')
    return strcmp(method, "OPTIONS") == 0 ? NULL : "\"*\" is a target for OPTIONS only";
  size_t a = n > 7 && strncasecmp(url, "http://", 7) == 0    ? 7
             : n > 8 && strncasecmp(url, "https://", 8) == 0 ? 8
                                                             : 0;
  if (a == 0)
    return "a request target in absolute form must be http:// or https://";
  size_t end = a;
  while (end < n && url[end] != '/' && url[end] != '?' && url[end] != '#')
    end++;
  return host_value_ok(url + a, end - a) ? NULL : "invalid authority in the request target";
}

const char *gw_strict_path(const char *url, size_t n) {
  if (memchr(url, '#', n))
    return "a fragment (#) in the request target";
  for (size_t i = 0; i < n && url[i] != '?'; i++) {
    if (url[i] != '%')
      continue;
    if (i + 2 >= n || ipc_query_hexval(url[i + 1]) < 0 || ipc_query_hexval(url[i + 2]) < 0)
      return "a malformed percent-escape in the request path";
    if (url[i + 1] == '0' && url[i + 2] == '0')
      return "an escaped NUL (%00) in the request path";
    i += 2;
  }
  return NULL;
}

/* A byte of uri-host outside brackets: RFC 3986 reg-name (unreserved,
 * pct-encoded, sub-delims), and bytes past ASCII, which nginx takes too. */
static int reg_name_byte(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch >= 0x80 || (ch != '\0' && strchr("-._~%!$&'()*+,;=", ch) != NULL);
}

static int all_digits(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] < '0' || p[i] > '9')
      return 0;
  return 1;
}

/* 1 when v .. v+n is uri-host [":" port], the host not empty. */
static int host_value_ok(const char *v, size_t n) {
  size_t i = 0;
  while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
    n--;                      /* trailing whitespace is the line's, not the value's */
  if (n > 0 && v[0] == '[') { /* IP-literal: hex digits, ':' and '.' (v4-mapped) */
    while (++i < n && v[i] != ']')
      if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f') ||
            (v[i] >= 'A' && v[i] <= 'F') || v[i] == ':' || v[i] == '.'))
        return 0;
    if (i >= n || i == 1)
      return 0;
    i++;
  } else {
    while (i < n && reg_name_byte((unsigned char)v[i]))
      i++;
    if (i == 0)
      return 0;
  }
  return i == n || (v[i] == ':' && all_digits(v + i + 1, n - i - 1));
}

/* 1 for a "." segment s[0..n), 2 for "..", else 0; "%2e" counts as a dot. */
static int dot_segment(const char *s, size_t n) {
  int dots = 0;
  for (size_t i = 0; i < n && dots <= 2; dots++) {
    if (s[i] == '.')
      i++;
    else if (i + 2 < n && s[i] == '%' && s[i + 1] == '2' && (s[i + 2] | 0x20) == 'e')
      i += 3;
    else
      return 0;
  }
  return dots <= 2 ? dots : 0;
}

/* 1 when some segment of p[0..n) starts with '.' or '%': it may be a dot one. */
static int may_have_dots(const char *p, size_t n) {
  for (const char *s = p, *end = p + n; (s = memchr(s, '/', (size_t)(end - s))) != NULL;)
    if (++s < end && (*s == '.' || *s == '%'))
      return 1;
  return 0;
}

/* 1 when a ".." of the path p[0..n) (starting with '/') would take it
 * above "/": checked before anything is rewritten, so that a refused
 * path stays as the client sent it (the access log shows that one). */
static int climbs(const char *p, size_t n) {
  size_t depth = 0;
  for (size_t r = 0; r < n;) {
    size_t e = r + 1;
    while (e < n && p[e] != '/')
      e++;
    int dots = dot_segment(p + r + 1, e - r - 1);
    if (dots == 2 && depth-- == 0)
      return 1;
    depth += dots == 0;
    r = e;
  }
  return 0;
}

long gw_strict_dots(char *p, size_t n) {
  if (n == 0 || p[0] != '/' || !may_have_dots(p, n))
    return (long)n; /* the common case, untouched */
  if (climbs(p, n))
    return -1;
  size_t w = 0; /* p[0 .. w): the output, "/segment" after "/segment" */
  for (size_t r = 0; r < n;) {
    size_t e = r + 1;
    while (e < n && p[e] != '/')
      e++;
    int dots = dot_segment(p + r + 1, e - r - 1);
    if (dots == 2) {
      while (p[--w] != '/')
        ; /* the segment before goes too (climbs() saw there is one) */
    }
    if (dots == 0) {
      memmove(p + w, p + r, e - r);
      w += e - r;
    } else if (e == n) {
      p[w++] = '/'; /* "/a/." and "/a/b/.." are "/a/": a directory */
    }
    r = e;
  }
  return (long)w;
}

const char *gw_strict_authority(const char *v, size_t n) {
  return host_value_ok(v, n) ? NULL : "invalid host header";
}

const char *gw_strict_host(const char *buf, const struct gw_hdr *h, size_t n, int http_minor,
                           int absolute) {
  const struct gw_hdr *host = NULL;
  for (size_t i = 0; i < n; i++) {
    if (!name_is(buf, &h[i], "host", 4))
      continue;
    if (host != NULL)
      return "more than one host header";
    host = &h[i];
  }
  if (host == NULL)
    return http_minor >= 1 && !absolute ? "missing host header" : NULL;
  if (!absolute && !host_value_ok(buf + host->value, host->vlen))
    return "invalid host header";
  return NULL;
}

const char *gw_strict_chunk_crlf(uint8_t *need, const char *p, const char *end) {
  static const char crlf[] = "\r\n";
  while (*need > 0 && p < end) {
    if (*p != crlf[2 - *need])
      return "invalid chunked encoding: no CRLF after chunk data";
    (*need)--;
    p++;
  }
  return NULL;
}
