/* gw_strict — request checks beyond llhttp's. See gw_strict.h. */
#include "gw_strict.h"

#include <string.h>
#include <strings.h>

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
  if (b1 == '\n')
    return "obsolete line folding in a header";
  return NULL;
}

static int name_is(const char *buf, const struct gw_hdr *h, const char *name, size_t len) {
  return h->nlen == len && memcmp(buf + h->name, name, len) == 0;
}

const char *gw_strict_framing(const char *buf, const struct gw_hdr *h, size_t n) {
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
