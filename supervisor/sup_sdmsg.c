/* sup_sdmsg — sd_notify(3) datagrams, parsed. See sup_sdmsg.h. */
#include "sup_sdmsg.h"

#include <stdio.h>
#include <string.h>

/* value[0..n) as a decimal without sign, at most max; -1 when it is not. */
static int64_t decimal(const char *v, size_t n, int64_t max) {
  int64_t x = 0;
  if (n == 0 || n > 19)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9')
      return -1;
    x = x * 10 + (v[i] - '0'); /* 19 digits fit in int64_t when under max */
    if (x > max)
      return -1;
  }
  return x;
}

static int is(const char *v, size_t n, const char *word) {
  return n == strlen(word) && memcmp(v, word, n) == 0;
}

/* KEY[0..kn) = v[0..vn): sets its field of m. Returns 0, or -1 when the
 * value is not one the key takes. */
static int assign(struct sup_sdmsg *m, const char *k, size_t kn, const char *v, size_t vn) {
  if (is(k, kn, "READY"))
    return is(v, vn, "1") ? (m->ready = 1, 0) : -1;
  if (is(k, kn, "STOPPING"))
    return is(v, vn, "1") ? (m->stopping = 1, 0) : -1;
  if (is(k, kn, "RELOADING"))
    return is(v, vn, "1") ? (m->reloading = 1, 0) : -1;
  if (is(k, kn, "WATCHDOG")) {
    if (is(v, vn, "1"))
      return m->watchdog = 1, 0;
    return is(v, vn, "trigger") ? (m->trigger = 1, 0) : -1;
  }
  if (is(k, kn, "STATUS")) {
    m->status = v;
    m->status_len = vn;
    return 0;
  }
  if (is(k, kn, "EXTEND_TIMEOUT_USEC"))
    return (m->extend_usec = decimal(v, vn, INT64_MAX / 2)) < 0 ? -1 : 0;
  if (is(k, kn, "WATCHDOG_USEC")) /* 0 would be "no watchdog": refused, as systemd does */
    return (m->watchdog_usec = decimal(v, vn, INT64_MAX / 2)) <= 0 ? (m->watchdog_usec = -1, -1)
                                                                   : 0;
  if (is(k, kn, "ERRNO"))
    return (m->err = (int)decimal(v, vn, 4095)) < 0 ? -1 : 0;
  if (is(k, kn, "MAINPID"))
    return decimal(v, vn, 0x7fffffff) <= 0 ? -1 : (m->mainpid = 1, 0);
  return 0; /* a key muster does not know */
}

static void count_bad(struct sup_sdmsg *m, const char *line, size_t n) {
  if (m->bad++ == 0) {
    m->first_bad = line;
    m->first_bad_len = n;
  }
}

int sup_sdmsg_parse(struct sup_sdmsg *m, const char *data, size_t len, char *why, size_t cap) {
  memset(m, 0, sizeof(*m));
  m->extend_usec = m->watchdog_usec = -1;
  m->err = -1;
  if (len == 0) {
    snprintf(why, cap, "an empty message");
    return -1;
  }
  if (memchr(data, '\0', len) != NULL) {
    snprintf(why, cap, "a message with a NUL byte");
    return -1;
  }
  const char *p = data, *end = data + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    const char *eq = memchr(p, '=', (size_t)(le - p));
    if (le > p && (eq == NULL || eq == p ||
                   assign(m, p, (size_t)(eq - p), eq + 1, (size_t)(le - eq - 1)) != 0))
      count_bad(m, p, (size_t)(le - p));
    p = nl ? nl + 1 : end;
  }
  return 0;
}

/* The length of the UTF-8 sequence that starts with byte c (1 for a byte
 * that starts none: it is cut or replaced as one). */
static size_t seq_len(unsigned char c) {
  return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

size_t sup_sdmsg_status(const char *s, size_t n, char *out, size_t cap) {
  size_t max = cap - 1 < SUP_SDMSG_STATUS_MAX ? cap - 1 : SUP_SDMSG_STATUS_MAX;
  size_t w = 0;
  for (size_t i = 0; i < n;) {
    size_t k = seq_len((unsigned char)s[i]);
    if (k > n - i || w + k > max)
      break;
    for (size_t j = 0; j < k; j++) {
      unsigned char c = (unsigned char)s[i + j];
      out[w++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    i += k;
  }
  out[w] = '\0';
  return w;
}
