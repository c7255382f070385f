/* ipc_scan — allocation-free JSON scanning. See ipc_scan.h. */
#include "ipc_scan.h"

#include <string.h>
#include <uv.h>

#include "util_json.h"

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

/* 1 for a byte that stands for itself inside a string (not a control
 * byte, '"' or '\\'): most of a string is skipped a table lookup a byte.
 * (Range designators: a GNU C extension gcc and clang share.) */
static const unsigned char plain_byte[256] = {[0x20 ... 0x21] = 1, /* '"' is 0x22 */
                                              [0x23 ... 0x5b] = 1, /* '\\' is 0x5c */
                                              [0x5d ... 0xff] = 1};

/* End of the string starting at p (on its '"'), or NULL. Control bytes
 * and unpaired \u surrogates are refused (as cJSON does); other bytes pass
 * (UTF-8 is checked where text matters). */
static const char *scan_string(const char *p, const char *end) {
  p++;
  while (p < end) {
    while (p < end && plain_byte[(unsigned char)*p])
      p++;
    if (p >= end)
      break;
    unsigned char c = (unsigned char)*p;
    if (c == '"')
      return p + 1;
    if (c < 0x20)
      return NULL;
    if (c == '\\') {
      if (++p >= end)
        return NULL;
      unsigned u;
      switch (*p) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        break;
      case 'u': /* surrogates must pair up, as cJSON requires */
        if (util_json_hex4(p + 1, end, &u) < 0 || (u >= 0xDC00 && u <= 0xDFFF))
          return NULL;
        p += 4;
        if (u >= 0xD800 && u <= 0xDBFF) {
          unsigned lo;
          if (end - p < 7 || p[1] != '\\' || p[2] != 'u' || util_json_hex4(p + 3, end, &lo) < 0 ||
              lo < 0xDC00 || lo > 0xDFFF)
            return NULL;
          p += 6;
        }
        break;
      default:
        return NULL;
      }
    }
    p++;
  }
  return NULL;
}

static const char *scan_number(const char *p, const char *end) {
  if (p < end && *p == '-')
    p++;
  if (p >= end)
    return NULL;
  if (*p == '0') {
    p++;
  } else if (*p >= '1' && *p <= '9') {
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  } else {
    return NULL;
  }
  if (p < end && *p == '.') {
    const char *d = ++p;
    while (p < end && *p >= '0' && *p <= '9')
      p++;
    if (p == d)
      return NULL;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    const char *d = p;
    while (p < end && *p >= '0' && *p <= '9')
      p++;
    if (p == d)
      return NULL;
  }
  return p;
}

static const char *scan(const char *p, const char *end, int depth);

/* Arrays and objects: members separated by ',' until the closer. */
static const char *scan_container(const char *p, const char *end, int depth, char close) {
  p = skip_ws(p + 1, end);
  if (p < end && *p == close)
    return p + 1;
  for (;;) {
    if (close == '}') {
      if (p >= end || *p != '"' || (p = scan_string(p, end)) == NULL)
        return NULL;
      p = skip_ws(p, end);
      if (p >= end || *p != ':')
        return NULL;
      p++;
    }
    if ((p = scan(p, end, depth + 1)) == NULL)
      return NULL;
    p = skip_ws(p, end);
    if (p < end && *p == ',') {
      p = skip_ws(p + 1, end);
      continue;
    }
    if (p < end && *p == close)
      return p + 1;
    return NULL;
  }
}

static const char *scan(const char *p, const char *end, int depth) {
  p = skip_ws(p, end);
  if (p >= end || depth > IPC_SCAN_MAX_DEPTH)
    return NULL;
  switch (*p) {
  case '"':
    return scan_string(p, end);
  case '{':
    return scan_container(p, end, depth, '}');
  case '[':
    return scan_container(p, end, depth, ']');
  case 't':
    return (end - p >= 4 && !memcmp(p, "true", 4)) ? p + 4 : NULL;
  case 'f':
    return (end - p >= 5 && !memcmp(p, "false", 5)) ? p + 5 : NULL;
  case 'n':
    return (end - p >= 4 && !memcmp(p, "null", 4)) ? p + 4 : NULL;
  default:
    return scan_number(p, end);
  }
}

const char *ipc_scan_value(const char *p, const char *end) {
  return scan(p, end, 0);
}

int ipc_scan_object(const char *p, const char *end, ipc_scan_member_cb cb, void *ctx) {
  p = skip_ws(p, end);
  if (p >= end || *p != '{')
    return UV_EINVAL;
  p = skip_ws(p + 1, end);
  if (p < end && *p == '}')
    return skip_ws(p + 1, end) == end ? 0 : UV_EINVAL;
  for (;;) {
    const char *k = p, *ke;
    if (p >= end || *p != '"' || (ke = scan_string(p, end)) == NULL)
      return UV_EINVAL;
    p = skip_ws(ke, end);
    if (p >= end || *p != ':')
      return UV_EINVAL;
    const char *v = skip_ws(p + 1, end), *ve = scan(v, end, 1);
    if (ve == NULL)
      return UV_EINVAL;
    int rc = cb(ctx, k + 1, (size_t)(ke - k - 2), v, (size_t)(ve - v));
    if (rc != 0)
      return rc;
    p = skip_ws(ve, end);
    if (p < end && *p == ',') {
      p = skip_ws(p + 1, end);
      continue;
    }
    if (p < end && *p == '}')
      return skip_ws(p + 1, end) == end ? 0 : UV_EINVAL;
    return UV_EINVAL;
  }
}

int ipc_scan_plain_string(const char *s, size_t n) {
  return n >= 2 && memchr(s + 1, '\\', n - 2) == NULL;
}

/* Appends code point cp as UTF-8. */
static void put_utf8(struct ipc_buf *b, unsigned cp) {
  char t[4];
  size_t n;
  if (cp < 0x80) {
    t[0] = (char)cp, n = 1;
  } else if (cp < 0x800) {
    t[0] = (char)(0xC0 | cp >> 6), t[1] = (char)(0x80 | (cp & 63)), n = 2;
  } else if (cp < 0x10000) {
    t[0] = (char)(0xE0 | cp >> 12), t[1] = (char)(0x80 | ((cp >> 6) & 63));
    t[2] = (char)(0x80 | (cp & 63)), n = 3;
  } else {
    t[0] = (char)(0xF0 | cp >> 18), t[1] = (char)(0x80 | ((cp >> 12) & 63));
    t[2] = (char)(0x80 | ((cp >> 6) & 63)), t[3] = (char)(0x80 | (cp & 63)), n = 4;
  }
  ipc_buf_add(b, t, n);
}

int ipc_scan_string(const char *s, size_t n, struct ipc_buf *out) {
  const char *end = s + n;
  if (n < 2 || s[0] != '"' || scan_string(s, end) != end)
    return UV_EINVAL;
  const char *p = s + 1, *run = p;
  end--; /* the closing quote */
  while (p < end) {
    if (*p != '\\') {
      p++;
      continue;
    }
    ipc_buf_add(out, run, (size_t)(p - run));
    char e = p[1];
    unsigned cp = 0xFFFD; /* scan_string() validated the escape already */
    p += 2;
    switch (e) {
    case 'b':
      ipc_buf_addc(out, '\b');
      break;
    case 'f':
      ipc_buf_addc(out, '\f');
      break;
    case 'n':
      ipc_buf_addc(out, '\n');
      break;
    case 'r':
      ipc_buf_addc(out, '\r');
      break;
    case 't':
      ipc_buf_addc(out, '\t');
      break;
    case 'u':
      util_json_hex4(p, end, &cp);
      p += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
        unsigned lo;
        if (util_json_hex4(p + 2, end, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          p += 6;
        }
      }
      if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xFFFD; /* a lone surrogate */
      put_utf8(out, cp);
      break;
    default:
      ipc_buf_addc(out, e);
      break; /* " \ / */
    }
    run = p;
  }
  ipc_buf_add(out, run, (size_t)(p - run));
  return out->oom ? UV_ENOMEM : 0;
}
