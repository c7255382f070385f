/* ipc_text — UTF-8, JSON strings, base64. See ipc_text.h. */
#include "ipc_text.h"

#include <stdint.h>
#include <stdlib.h>

#include "util_swar.h"

/* Length of the well-formed UTF-8 sequence at p (at most n bytes), or 0 if
 * it is not one. Rejects overlongs, surrogates and values past U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  if (c < 0x80)
    return 1;
  size_t len;
  unsigned min, cp;
  if ((c & 0xE0) == 0xC0) {
    len = 2, min = 0x80, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, min = 0x800, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, min = 0x10000, cp = c & 0x07;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

int ipc_utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    if (p[i] == 0)
      return 0;
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = utf8_seq(p + i, n - i);
    if (k == 0)
      return 0;
    i += k;
  }
  return 1;
}

size_t ipc_utf8_mend(const char *s, size_t n, struct ipc_buf *b) {
  const unsigned char *p = (const unsigned char *)s;
  size_t bad = 0, run = 0, i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = utf8_seq(p + i, n - i);
    if (k > 0) {
      i += k;
      continue;
    }
    bad++;
    if (b) {
      ipc_buf_add(b, p + run, i - run);
      ipc_buf_add(b, "\xEF\xBF\xBD", 3);
    }
    run = ++i;
  }
  if (b)
    ipc_buf_add(b, p + run, n - run);
  return bad;
}

void ipc_json_str(struct ipc_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s;
  if (ipc_buf_reserve(b, n + 2) != 0)
    return;
  ipc_buf_addc(b, '"');
  size_t run = 0; /* start of the pending run of bytes copied verbatim */
  size_t i = 0;
  while (i < n) {
    if (n - i >= 8 && !util_swar_json_special(p + i, 1)) {
      i += 8; /* eight plain ASCII bytes */
      continue;
    }
    unsigned c = p[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      i++;
      continue;
    }
    size_t k = c >= 0x80 ? utf8_seq(p + i, n - i) : 0;
    if (k > 0) {
      i += k; /* valid multi-byte sequence: copied verbatim */
      continue;
    }
    ipc_buf_add(b, p + run, i - run);
    switch (c) {
    case '"':
      ipc_buf_add(b, "\\\"", 2);
      break;
    case '\\':
      ipc_buf_add(b, "\\\\", 2);
      break;
    case '\n':
      ipc_buf_add(b, "\\n", 2);
      break;
    case '\r':
      ipc_buf_add(b, "\\r", 2);
      break;
    case '\t':
      ipc_buf_add(b, "\\t", 2);
      break;
    default:
      if (c < 0x20) {
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        ipc_buf_add(b, esc, 6);
      } else {
        ipc_buf_add(b, "\xEF\xBF\xBD", 3); /* invalid byte: U+FFFD */
      }
    }
    i++;
    run = i;
  }
  ipc_buf_add(b, p + run, n - run);
  ipc_buf_addc(b, '"');
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void ipc_b64_encode(struct ipc_buf *b, const void *data, size_t n) {
  const unsigned char *p = data;
  if (ipc_buf_reserve(b, (n + 2) / 3 * 4) != 0)
    return;
  char *o = b->data + b->len;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    *o++ = b64chars[v >> 18];
    *o++ = b64chars[(v >> 12) & 63];
    *o++ = b64chars[(v >> 6) & 63];
    *o++ = b64chars[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
    *o++ = b64chars[v >> 18];
    *o++ = b64chars[(v >> 12) & 63];
    *o++ = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  b->len = (size_t)(o - b->data);
}

/* Value of one base64 digit, or -1. */
static int b64val(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

char *ipc_b64_decode(const char *s, size_t n, size_t *out_len) {
  if (n % 4 != 0)
    return NULL;
  size_t pad = 0;
  if (n > 0 && s[n - 1] == '=')
    pad++;
  if (n > 1 && s[n - 2] == '=')
    pad++;
  char *out = malloc(n / 4 * 3 + 1);
  if (out == NULL)
    return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 4) {
    int last = i + 4 == n;
    int v[4];
    for (int k = 0; k < 4; k++) {
      v[k] = b64val((unsigned char)s[i + k]);
      if (v[k] < 0 && !(last && k >= 4 - (int)pad)) {
        free(out);
        return NULL;
      }
    }
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12;
    if (!(last && pad >= 2))
      w |= (uint32_t)v[2] << 6;
    if (!(last && pad >= 1))
      w |= (uint32_t)v[3];
    out[o++] = (char)(w >> 16);
    if (!(last && pad >= 2))
      out[o++] = (char)(w >> 8);
    if (!(last && pad >= 1))
      out[o++] = (char)w;
  }
  out[o] = '\0';
  *out_len = o;
  return out;
}
