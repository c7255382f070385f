/* gw_file — paths, ranges, dates, entity tags and types for static
 * files. Pure code; see gw_file.h. */
#include "gw_file.h"

#include "util_date.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- The path ---- */

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = (unsigned char)(c | 0x20);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes the raw segment s[0..n) onto out at *w (cap bytes in all, one
 * kept for the NUL). Returns 0, 400 or 404 as gw_file_path. */
static int decode_segment(const char *s, size_t n, char *out, size_t cap, size_t *w) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\0')
      return 400; /* the parsers refuse it; a C string would end here */
    if (c == '%') {
      int hi = i + 1 < n ? hexval((unsigned char)s[i + 1]) : -1;
      int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return 400; /* not %XX */
      c = (unsigned char)(hi << 4 | lo);
      i += 2;
      if (c == '\0')
        return 400;
      if (c == '/')
        return 404; /* an encoded slash names no file (Apache's default) */
    }
    if (*w + 1 >= cap)
      return 404;
    out[(*w)++] = (char)c;
  }
  return 0;
}

int gw_file_path(const char *p, size_t n, int dotfiles, char *out, size_t cap, int *dir) {
  size_t w = 0, i = 0;
  *dir = n > 0 && p[n - 1] == '/';
  if (cap == 0)
    return 404;
  while (i < n) {
    size_t e = i;
    while (e < n && p[e] != '/')
      e++;
    if (e > i) {
      if (w > 0 && w + 1 >= cap) {
        out[0] = '\0';
        return 404; /* too long */
      }
      if (w > 0)
        out[w++] = '/';
      size_t start = w;
      int rc = decode_segment(p + i, e - i, out, cap, &w);
      size_t len = w - start;
      const char *seg = out + start;
      if (rc == 0 && (len == 1 || len == 2) && seg[0] == '.' && (len == 1 || seg[1] == '.'))
        rc = 400; /* an encoded dot segment the gateway did not resolve */
      else if (rc == 0 && seg[0] == '.' && !dotfiles)
        rc = 404; /* .git, .env, .htpasswd: not served unless asked */
      if (rc != 0) {
        out[0] = '\0';
        return rc;
      }
    }
    i = e + 1;
  }
  out[w] = '\0';
  return 0;
}

/* ---- Range ---- */

static int is_ows(char c) {
  return c == ' ' || c == '\t';
}

/* Reads 1*DIGIT at v[*i..n) into *out (saturating). Returns 0, -1 for none. */
static int read_digits(const char *v, size_t n, size_t *i, uint64_t *out) {
  size_t start = *i;
  uint64_t x = 0;
  while (*i < n && v[*i] >= '0' && v[*i] <= '9') {
    uint64_t d = (uint64_t)(v[*i] - '0');
    x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
    (*i)++;
  }
  *out = x;
  return *i > start ? 0 : -1;
}

int gw_file_range(const char *v, size_t n, uint64_t size, uint64_t *from, uint64_t *len) {
  size_t i = 0;
  uint64_t a = 0, b = UINT64_MAX;
  while (n > 0 && is_ows(v[n - 1]))
    n--;
  if (n < 6 || strncasecmp(v, "bytes=", 6) != 0 || memchr(v, ',', n) != NULL)
    return 0; /* another unit, or several ranges: the whole file */
  for (i = 6; i < n && is_ows(v[i]); i++) {
  }
  int suffix = i < n && v[i] == '-';
  if (!suffix && read_digits(v, n, &i, &a) != 0)
    return 0;
  if (i >= n || v[i++] != '-')
    return 0;
  if (i < n && read_digits(v, n, &i, &b) != 0)
    return 0;
  if (i != n || (suffix && b == UINT64_MAX) || (!suffix && b < a))
    return 0; /* malformed: ignored, as RFC 9110 asks */
  if (suffix) {
    if (b == 0 || size == 0)
      return -1;
    *len = b < size ? b : size;
    *from = size - *len;
    return 1;
  }
  if (a >= size)
    return -1;
  *from = a;
  *len = (b >= size - 1 ? size - 1 : b) - a + 1;
  return 1;
}

/* ---- Dates ---- */

static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

/* The number of the digits v[0..k), or -1 when one is not a digit. */
static int num(const char *v, int k) {
  int x = 0;
  for (int i = 0; i < k; i++) {
    if (v[i] < '0' || v[i] > '9')
      return -1;
    x = x * 10 + (v[i] - '0');
  }
  return x;
}

static int month_of(const char *v) {
  for (int i = 0; i < 12; i++)
    if (memcmp(v, months[i], 3) == 0)
      return i + 1;
  return 0;
}

int gw_file_parse_date(const char *v, size_t n, int64_t *t) {
  static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (n != UTIL_HTTP_DATE_LEN || memcmp(v + 3, ", ", 2) != 0 || v[7] != ' ' || v[11] != ' ' ||
      v[16] != ' ' || v[19] != ':' || v[22] != ':' || memcmp(v + 25, " GMT", 4) != 0)
    return -1;
  int wd = -1;
  for (int i = 0; i < 7; i++)
    if (memcmp(v, wdays[i], 3) == 0)
      wd = i;
  int d = num(v + 5, 2), m = month_of(v + 8), y = num(v + 12, 4);
  int hh = num(v + 17, 2), mm = num(v + 20, 2), ss = num(v + 23, 2);
  if (wd < 0 || d < 1 || m == 0 || y < 1970 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 ||
      ss > 59 || (unsigned)d > mdays[m - 1])
    return -1;
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (m == 2 && d == 29 && !leap)
    return -1;
  int64_t days = days_from_civil(y, (unsigned)m, (unsigned)d);
  if ((days + 4) % 7 != wd)
    return -1; /* the day of the week must be that date's */
  *t = days * 86400 + hh * 3600 + mm * 60 + ss;
  return 0;
}

/* ---- Entity tags ---- */

size_t gw_file_etag(int64_t mtime, uint64_t size, char *out) {
  int k = snprintf(out, GW_FILE_ETAG_MAX, "\"%" PRIx64 "-%" PRIx64 "\"",
                   (uint64_t)(mtime < 0 ? 0 : mtime), size);
  return k > 0 ? (size_t)k : 0;
}

int gw_file_etag_match(const char *v, size_t n, const char *etag) {
  size_t i = 0, elen = strlen(etag);
  while (i < n) {
    while (i < n && (is_ows(v[i]) || v[i] == ','))
      i++;
    if (i == n)
      break;
    if (v[i] == '*')
      return 1;
    if (n - i >= 2 && v[i] == 'W' && v[i + 1] == '/')
      i += 2;
    if (i == n || v[i] != '"')
      return 0; /* malformed: no match */
    const char *close = memchr(v + i + 1, '"', n - i - 1);
    if (close == NULL)
      return 0;
    size_t tlen = (size_t)(close - (v + i)) + 1;
    if (tlen == elen && memcmp(v + i, etag, elen) == 0)
      return 1;
    i += tlen;
  }
  return 0;
}

/* ---- Accept-Encoding ---- */

/* The q of an element's parameters p[0..n) (";q=0.5;x=y"): 0 when it is
 * zero ("0", "0.0", "0.000"), else 1 (absent, or above 0). */
static int q_positive(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] != ';')
      continue;
    size_t k = i + 1;
    while (k < n && is_ows(p[k]))
      k++;
    if (k + 2 > n || (p[k] | 0x20) != 'q' || p[k + 1] != '=')
      continue;
    k += 2;
    if (k >= n || p[k] != '0')
      return 1; /* "1", "1.0", or malformed: not a refusal */
    for (k++; k < n && (p[k] == '.' || p[k] == '0'); k++) {
    }
    return k < n && p[k] >= '1' && p[k] <= '9';
  }
  return 1;
}

int gw_file_accepts(const char *v, size_t n, const char *coding) {
  size_t clen = strlen(coding);
  int named = 0, star = 0;
  for (size_t i = 0; i < n;) {
    size_t e = i;
    while (e < n && v[e] != ',')
      e++;
    size_t a = i, t;
    while (a < e && is_ows(v[a]))
      a++;
    for (t = a; t < e && v[t] != ';' && !is_ows(v[t]);)
      t++;
    int q = q_positive(v + t, e - t);
    size_t tl = t - a;
    int is_gzip_alias =
        clen == 4 && tl == 6 && strncasecmp(v + a, "x-gzip", 6) == 0 && strcmp(coding, "gzip") == 0;
    if ((tl == clen && strncasecmp(v + a, coding, clen) == 0) || is_gzip_alias) {
      if (!q)
        return 0; /* refused by name: "*" does not bring it back */
      named = 1;
    } else if (tl == 1 && v[a] == '*') {
      star = q;
    }
    i = e + 1;
  }
  return named || star;
}

/* ---- Content types ---- */

struct ext_type {
  const char *ext;
  const char *type;
};

/* The types browsers and clients need to get right (nginx's mime.types,
 * the common part). Text types carry their charset. */
static const struct ext_type types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json; charset=utf-8"},
    {"map", "application/json; charset=utf-8"},
    {"webmanifest", "application/manifest+json; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/x-icon"},
    {"bmp", "image/bmp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"ogg", "audio/ogg"},
    {"mp3", "audio/mpeg"},
    {"wav", "audio/wav"},
    {"m4a", "audio/mp4"},
    {NULL, NULL},
};

const char *gw_file_type(const char *name) {
  const char *slash = strrchr(name, '/'), *base = slash ? slash + 1 : name;
  const char *dot = strrchr(base, '.');
  if (dot != NULL && dot != base)
    for (const struct ext_type *t = types; t->ext; t++)
      if (strcasecmp(dot + 1, t->ext) == 0)
        return t->type;
  return "application/octet-stream";
}
