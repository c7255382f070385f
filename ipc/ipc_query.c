/* ipc_query — query string parameters. See ipc_query.h. */
#include "ipc_query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

int ipc_query_hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Percent-decodes s[0..n) into out. Returns the length, UV_EINVAL (a bad
 * escape) or UV_ENOBUFS (it does not fit). */
static int decode(const char *s, size_t n, char *out, size_t outlen) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      int hi, lo;
      if (i + 2 >= n || (hi = ipc_query_hexval(s[i + 1])) < 0 ||
          (lo = ipc_query_hexval(s[i + 2])) < 0)
        return UV_EINVAL;
      c = (char)(hi << 4 | lo);
      i += 2;
    }
    if (o + 1 >= outlen)
      return UV_ENOBUFS;
    out[o++] = c;
  }
  out[o] = '\0';
  return (int)o;
}

int ipc_query_get(const char *query, const char *name, char *out, size_t outlen) {
  size_t nlen = strlen(name);
  const char *p = query ? query : "";
  while (*p) {
    const char *amp = strchr(p, '&');
    size_t plen = amp ? (size_t)(amp - p) : strlen(p);
    const char *eq = memchr(p, '=', plen);
    size_t klen = eq ? (size_t)(eq - p) : plen;
    if (klen == nlen && memcmp(p, name, nlen) == 0) {
      if (outlen == 0)
        return UV_ENOBUFS;
      if (eq == NULL) {
        out[0] = '\0';
        return 0;
      }
      return decode(eq + 1, plen - klen - 1, out, outlen);
    }
    p += plen;
    if (*p == '&')
      p++;
  }
  return UV_ENOENT;
}

int ipc_query_int(const char *query, const char *name, int64_t min, int64_t max, int64_t def,
                  int64_t *out) {
  char buf[32];
  int n = ipc_query_get(query, name, buf, sizeof(buf));
  if (n == UV_ENOENT) {
    *out = def;
    return 1;
  }
  if (n <= 0)
    return UV_EINVAL;
  char *end;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (errno || *end != '\0' || buf[0] == ' ' || buf[0] == '+' || v < min || v > max)
    return UV_EINVAL;
  *out = v;
  return 0;
}
