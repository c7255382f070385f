/* fuzz_file — the pure parts of serving files (gw_file.c): request paths,
 * Range values, HTTP dates, entity tags and content types, against
 * references written the plain way.
 *
 * Input: the first byte holds the choices (bit 0: dotfiles; bits 1-7: a
 * small cap for the path); the rest is lines:
 *   1. the path under the root ("/a/b%20c/");
 *   2. a file size in decimal, a space, then a Range value;
 *   3. a date: an IMF-fixdate, or a number of seconds;
 *   4. an If-None-Match value;
 *   5. a file name for the content type.
 * A missing line is empty; a missing size or number comes from the hash.
 *
 * Checks:
 * - gw_file_path gives what the reference gives (segments split on '/',
 *   empty ones dropped, each %XX-decoded, joined by '/'; the first problem
 *   in reading order decides 400 or 404), with its own cap, the input's
 *   small cap and the caps either side of the exact fit; a path it takes
 *   has no NUL, empty, "." or ".." segment, no '/' at either end, and no
 *   hidden segment unless dotfiles; *dir is "ends in '/'";
 * - gw_file_range gives what an RFC 9110 single-range reference gives,
 *   and a range it takes lies inside the file;
 * - util_http_date agrees with gmtime_r and a hand formatter (over
 *   0 .. 9999-12-31 23:59:59), gw_file_parse_date reads back what it
 *   wrote, accepts exactly the strings some time formats to, and what it
 *   accepts formats back byte for byte;
 * - gw_file_etag writes "\"MTIME-SIZE\"" in hex; gw_file_etag_match agrees
 *   with a reference tokenizer, takes "*", the tag, W/ the tag and a
 *   well-formed list with the tag appended;
 * - gw_file_type never answers NULL, ignores case and directories;
 * - gw_file_accepts (line 4 as an accept-encoding value) ignores case,
 *   lets an appended refusal win and an appended "*" keep a yes. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "fuzz.h"
#include "gw_file.h"
#include "util_date.h"

#define LINES 5
#define DATE_MAX INT64_C(253402300799) /* 9999-12-31 23:59:59 */
#define REF_MAX 2048                   /* more than any input's path */

struct part {
  char *s; /* an exact-size copy: ASan sees reads past the end */
  char *z; /* the same with a NUL, for messages and gw_file_type */
  size_t n;
};

static const char *const ref_wdays[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const ref_months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int is_ows(char c) {
  return c == ' ' || c == '\t';
}

/* ---- The path ---- */

static int ref_hex(char c) {
  static const char digits[] = "0123456789abcdef0123456789ABCDEF";
  const char *d = c ? memchr(digits, c, 32) : NULL;
  return d ? (int)((d - digits) % 16) : -1;
}

/* Decodes one raw segment into buf: returns 0, or 400 (not %XX, a NUL or %00)
 * or 404 (%2F) for the first unit that fails; *m is the count decoded. */
static int ref_decode(const char *s, size_t n, char *buf, size_t *m) {
  *m = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '\0')
      return 400; /* a raw NUL, as %00 */
    if (c == '%') {
      if (n - i < 3 || ref_hex(s[i + 1]) < 0 || ref_hex(s[i + 2]) < 0)
        return 400;
      c = (char)(ref_hex(s[i + 1]) * 16 + ref_hex(s[i + 2]));
      i += 2;
      if (c == '\0')
        return 400;
      if (c == '/')
        return 404;
    }
    buf[(*m)++] = c;
  }
  return 0;
}

/* The reference of gw_file_path: the text so far must stay shorter than
 * cap (room for the NUL), checked as each byte is written, before the
 * segment's own verdict and after a bad unit's. */
static int ref_path(const char *p, size_t n, int dotfiles, size_t cap, char *out, size_t *len) {
  char seg[REF_MAX];
  size_t w = 0, m;
  *len = 0;
  if (cap == 0)
    return 404;
  for (size_t s = 0, e; s < n; s = e + 1) {
    for (e = s; e < n && p[e] != '/'; e++) {
    }
    if (e == s)
      continue; /* an empty segment */
    int rc = ref_decode(p + s, e - s, seg, &m);
    if (w > 0 && w + 1 >= cap)
      return 404; /* no room for the '/' */
    size_t at = w > 0 ? w + 1 : 0;
    if (m > 0 && at + m >= cap)
      return 404;
    if (rc != 0)
      return rc;
    if ((m == 1 && seg[0] == '.') || (m == 2 && seg[0] == '.' && seg[1] == '.'))
      return 400;
    if (seg[0] == '.' && !dotfiles)
      return 404;
    if (w > 0)
      out[w] = '/';
    memcpy(out + at, seg, m);
    w = at + m;
  }
  out[w] = '\0';
  *len = w;
  return 0;
}

/* What a path gw_file_path took must be, whatever the reference says. */
static void check_taken(const char *out, size_t len, int dotfiles) {
  FUZZ_CHECK(strlen(out) == len, "a NUL at %zu of the %zu bytes of \"%s\"", strlen(out), len, out);
  if (len == 0)
    return;
  FUZZ_CHECK(out[0] != '/' && out[len - 1] != '/', "a '/' at an end of \"%s\"", out);
  for (const char *s = out, *e; s <= out + len; s = e + 1) {
    e = memchr(s, '/', (size_t)(out + len - s));
    if (e == NULL)
      e = out + len;
    size_t k = (size_t)(e - s);
    FUZZ_CHECK(k > 0, "an empty segment in \"%s\"", out);
    FUZZ_CHECK(!(k == 1 && s[0] == '.') && !(k == 2 && s[0] == '.' && s[1] == '.'),
               "a dot segment in \"%s\"", out);
    FUZZ_CHECK(dotfiles || s[0] != '.', "a hidden segment in \"%s\"", out);
  }
}

/* One call with cap bytes (a buffer of exactly that size) against the
 * reference. Returns its code; *len is the reference's length. */
static int path_with(const struct part *p, int dotfiles, size_t cap, size_t *len) {
  static char want[REF_MAX];
  char *out = malloc(cap ? cap : 1);
  int dir = -1;
  FUZZ_CHECK(out != NULL, "out of memory");
  int rc = gw_file_path(p->s, p->n, dotfiles, out, cap, &dir);
  int ref = ref_path(p->s, p->n, dotfiles, cap, want, len);
  FUZZ_CHECK(rc == ref, "path \"%s\" cap %zu dotfiles %d: %d, the reference %d", p->z, cap,
             dotfiles, rc, ref);
  FUZZ_CHECK(dir == (p->n > 0 && p->s[p->n - 1] == '/'), "path \"%s\": dir %d", p->z, dir);
  if (rc == 0) {
    FUZZ_CHECK(memcmp(out, want, *len + 1) == 0, "path \"%s\": \"%s\", the reference \"%s\"", p->z,
               out, want);
    check_taken(out, *len, dotfiles);
  }
  free(out);
  return rc;
}

static void check_path(const struct part *p, int dotfiles, size_t small_cap) {
  size_t len, fit;
  if (p->n >= REF_MAX)
    return; /* longer than the reference keeps */
  int rc = path_with(p, dotfiles, GW_FILE_PATH_MAX, &fit);
  path_with(p, dotfiles, small_cap, &len);
  if (rc != 0)
    return;
  FUZZ_CHECK(path_with(p, dotfiles, fit + 1, &len) == 0, "path \"%s\": no exact fit", p->z);
  FUZZ_CHECK(path_with(p, dotfiles, fit, &len) == 404, "path \"%s\" fits one short", p->z);
  if (!dotfiles)
    FUZZ_CHECK(path_with(p, 1, GW_FILE_PATH_MAX, &len) == 0, "path \"%s\": not with dotfiles",
               p->z);
}

/* ---- Range ---- */

/* 1*DIGIT at v[*i..n) into *x, saturating at UINT64_MAX; 1 when there was one. */
static int ref_digits(const char *v, size_t n, size_t *i, uint64_t *x) {
  size_t start = *i;
  int big = 0;
  *x = 0;
  for (; *i < n && v[*i] >= '0' && v[*i] <= '9'; (*i)++) {
    unsigned d = (unsigned)(v[*i] - '0');
    if (*x > UINT64_MAX / 10 || *x * 10 > UINT64_MAX - d)
      big = 1;
    else
      *x = *x * 10 + d;
  }
  if (big)
    *x = UINT64_MAX;
  return *i > start;
}

/* RFC 9110 §14.1.2 for one byte-range-spec: "bytes=" (any case), OWS,
 * first-pos "-" [last-pos] or "-" suffix-length, trailing OWS. */
static int ref_range(const char *v, size_t n, uint64_t size, uint64_t *from, uint64_t *len) {
  static const char unit[] = "bytes=";
  uint64_t first = 0, last = 0;
  size_t i = 0;
  while (n > 0 && is_ows(v[n - 1]))
    n--;
  if (n < 6 || memchr(v, ',', n) != NULL)
    return 0;
  for (; i < 6; i++)
    if ((v[i] | (v[i] >= 'A' && v[i] <= 'Z' ? 0x20 : 0)) != unit[i])
      return 0;
  while (i < n && is_ows(v[i]))
    i++;
  int has_first = ref_digits(v, n, &i, &first);
  if (i == n || v[i++] != '-')
    return 0;
  int has_last = ref_digits(v, n, &i, &last);
  if (i != n || (!has_first && !has_last))
    return 0;
  if (!has_first) {
    if (last == UINT64_MAX)
      return 0; /* gw_file.c's choice for a suffix past 2^64-2: the whole file */
    if (last == 0 || size == 0)
      return -1;
    *len = last < size ? last : size;
    *from = size - *len;
    return 1;
  }
  if (has_last && last < first)
    return 0;
  if (first >= size)
    return -1;
  uint64_t end = has_last && last < size ? last : size - 1;
  *from = first;
  *len = end - first + 1;
  return 1;
}

static void range_with(const struct part *v, uint64_t size) {
  uint64_t from = 7, len = 7, rfrom = 9, rlen = 9;
  int rc = gw_file_range(v->s, v->n, size, &from, &len);
  int ref = ref_range(v->s, v->n, size, &rfrom, &rlen);
  FUZZ_CHECK(rc == ref, "range \"%s\" size %" PRIu64 ": %d, the reference %d", v->z, size, rc, ref);
  if (rc != 1)
    return;
  FUZZ_CHECK(from < size && len >= 1 && len <= size - from,
             "range \"%s\" size %" PRIu64 ": from %" PRIu64 " len %" PRIu64 " is outside", v->z,
             size, from, len);
  FUZZ_CHECK(from == rfrom && len == rlen,
             "range \"%s\" size %" PRIu64 ": %" PRIu64 "+%" PRIu64 ", the reference %" PRIu64
             "+%" PRIu64,
             v->z, size, from, len, rfrom, rlen);
}

/* Line 2: "SIZE VALUE"; without a SIZE, size is the hash's. */
static void check_range(const struct part *line, uint32_t h) {
  size_t i = 0;
  uint64_t size;
  if (!ref_digits(line->s, line->n, &i, &size))
    size = h % 4096;
  if (i < line->n && line->s[i] == ' ')
    i++;
  struct part v = {malloc(line->n > i ? line->n - i : 1), line->z + i, line->n - i};
  FUZZ_CHECK(v.s != NULL, "out of memory");
  memcpy(v.s, line->s + i, v.n);
  static const uint64_t sizes[] = {0, 1, 2, 100, UINT64_MAX - 1, UINT64_MAX};
  range_with(&v, size);
  for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
    range_with(&v, sizes[k]);
  free(v.s);
}

/* ---- Dates ---- */

/* t (0 .. DATE_MAX) the plain way: gmtime_r and the names. */
static void ref_date(int64_t t, char *out, size_t cap) {
  time_t tt = (time_t)t;
  struct tm tm;
  FUZZ_CHECK(gmtime_r(&tt, &tm) != NULL, "gmtime_r(%" PRId64 ") failed", t);
  snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", ref_wdays[tm.tm_wday], tm.tm_mday,
           ref_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The digits s[0..k) as a number, -1 when one is not a digit. */
static int ref_num(const char *s, int k) {
  int x = 0;
  for (int i = 0; i < k; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    x = x * 10 + s[i] - '0';
  }
  return x;
}

/* The reference parser: read the fields where they stand, let timegm
 * make a time of them, and take it when that time formats to s. */
static int ref_parse_date(const char *s, size_t n, int64_t *t) {
  char again[64];
  struct tm tm = {0};
  if (n != UTIL_HTTP_DATE_LEN)
    return -1;
  tm.tm_mon = -1;
  for (int i = 0; i < 12; i++)
    if (memcmp(s + 8, ref_months[i], 3) == 0)
      tm.tm_mon = i;
  tm.tm_mday = ref_num(s + 5, 2);
  tm.tm_year = ref_num(s + 12, 4) - 1900;
  tm.tm_hour = ref_num(s + 17, 2);
  tm.tm_min = ref_num(s + 20, 2);
  tm.tm_sec = ref_num(s + 23, 2);
  if (tm.tm_mon < 0 || tm.tm_mday < 0 || tm.tm_year < 0 || tm.tm_hour < 0 || tm.tm_min < 0 ||
      tm.tm_sec < 0)
    return -1;
  time_t r = timegm(&tm);
  if (r < 0 || (int64_t)r > DATE_MAX)
    return -1;
  ref_date((int64_t)r, again, sizeof(again));
  if (strlen(again) != n || memcmp(again, s, n) != 0)
    return -1;
  *t = (int64_t)r;
  return 0;
}

/* util_http_date(t) (t clamped to 0 .. DATE_MAX, as gw_static does)
 * against the reference, and read back by gw_file_parse_date. */
static void date_with(int64_t t) {
  char out[UTIL_HTTP_DATE_LEN + 1], want[64];
  int64_t back = -1, clamped = t < 0 ? 0 : t > DATE_MAX ? DATE_MAX : t;
  util_http_date((time_t)clamped, out);
  ref_date(clamped, want, sizeof(want));
  FUZZ_CHECK(strlen(out) == UTIL_HTTP_DATE_LEN && strcmp(out, want) == 0,
             "date %" PRId64 ": \"%s\", the reference \"%s\"", t, out, want);
  FUZZ_CHECK(gw_file_parse_date(out, UTIL_HTTP_DATE_LEN, &back) == 0 && back == clamped,
             "date \"%s\" reads back as %" PRId64 ", not %" PRId64, out, back, clamped);
}

/* Line 3: a date to parse, or a number of seconds to format. */
static void check_dates(const struct part *line, uint64_t h64) {
  int64_t t = -1, rt = -1;
  char out[UTIL_HTTP_DATE_LEN + 1];
  int rc = gw_file_parse_date(line->s, line->n, &t);
  int ref = ref_parse_date(line->s, line->n, &rt);
  FUZZ_CHECK(rc == ref, "parse \"%s\": %d, the reference %d", line->z, rc, ref);
  if (rc == 0) {
    FUZZ_CHECK(t == rt, "parse \"%s\": %" PRId64 ", the reference %" PRId64, line->z, t, rt);
    util_http_date((time_t)t, out);
    FUZZ_CHECK(memcmp(out, line->s, UTIL_HTTP_DATE_LEN) == 0, "\"%s\" formats back as \"%s\"",
               line->z, out);
  }
  size_t i = 0;
  uint64_t secs;
  if (ref_digits(line->s, line->n, &i, &secs) && i == line->n)
    date_with(secs > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)secs);
  int64_t r = (int64_t)(h64 % (uint64_t)(DATE_MAX + 1));
  date_with(r);
  date_with(r - (int64_t)(h64 >> 40)); /* now and then before the epoch */
  date_with(DATE_MAX + (int64_t)(h64 & 0xff));
  date_with(INT64_MIN + (int64_t)(h64 & 0xff));
}

/* ---- Entity tags ---- */

enum { REF_NO, REF_MATCH, REF_MALFORMED };

/* The reference tokenizer of If-None-Match: separators (OWS and ','),
 * then "*" or [W/] DQUOTE *etagc DQUOTE, one after another. */
static int ref_match(const char *v, size_t n, const char *etag) {
  size_t elen = strlen(etag);
  for (const char *s = v, *end = v + n;;) {
    while (s < end && (*s == ',' || is_ows(*s)))
      s++;
    if (s == end)
      return REF_NO;
    if (*s == '*')
      return REF_MATCH;
    if (end - s >= 2 && memcmp(s, "W/", 2) == 0)
      s += 2;
    if (s == end || *s != '"')
      return REF_MALFORMED;
    const char *q = s + 1;
    while (q < end && *q != '"')
      q++;
    if (q == end)
      return REF_MALFORMED;
    if ((size_t)(q + 1 - s) == elen && memcmp(s, etag, elen) == 0)
      return REF_MATCH;
    s = q + 1;
  }
}

/* gw_file_etag_match on text (an exact-size copy of it). */
static int match(const char *text, size_t n, const char *etag) {
  char *copy = malloc(n ? n : 1);
  FUZZ_CHECK(copy != NULL, "out of memory");
  memcpy(copy, text, n);
  int rc = gw_file_etag_match(copy, n, etag);
  free(copy);
  return rc;
}

static void hex_to(char **w, uint64_t x) {
  char d[16];
  int k = 0;
  do {
    d[k++] = "0123456789abcdef"[x % 16];
    x /= 16;
  } while (x);
  while (k > 0)
    *(*w)++ = d[--k];
}

/* Line 4: an If-None-Match value, against the tag of (mtime, size). */
static void check_etag(const struct part *line, int64_t mtime, uint64_t size) {
  char etag[GW_FILE_ETAG_MAX], want[GW_FILE_ETAG_MAX], *w = want, buf[REF_MAX];
  size_t elen = gw_file_etag(mtime, size, etag);
  *w++ = '"';
  hex_to(&w, mtime < 0 ? 0 : (uint64_t)mtime);
  *w++ = '-';
  hex_to(&w, size);
  *w++ = '"';
  *w = '\0';
  FUZZ_CHECK(elen == strlen(etag) && strcmp(etag, want) == 0, "etag \"%s\" (%zu), not \"%s\"", etag,
             elen, want);
  int rc = gw_file_etag_match(line->s, line->n, etag), ref = ref_match(line->s, line->n, etag);
  FUZZ_CHECK(rc == (ref == REF_MATCH), "match \"%s\" of %s: %d, the reference %d", line->z, etag,
             rc, ref);
  FUZZ_CHECK(match("*", 1, etag) && match(etag, elen, etag), "%s: no match of * or itself", etag);
  int k = snprintf(buf, sizeof(buf), " W/%s ,", etag);
  FUZZ_CHECK(match(buf, (size_t)k, etag), "%s: no match of \"%s\"", etag, buf);
  if (ref == REF_NO && line->n + elen + 8 < sizeof(buf)) {
    memcpy(buf, line->s, line->n); /* may hold a NUL: no %s */
    k = snprintf(buf + line->n, sizeof(buf) - line->n, ", %s%s", line->n & 1 ? "W/" : "", etag);
    FUZZ_CHECK(match(buf, line->n + (size_t)k, etag), "%s: no match of \"%s\" + \"%s\"", etag,
               line->z, buf + line->n);
  }
}

/* ---- Content types ---- */

static void check_type(const char *name) {
  char up[REF_MAX + 8], in_dir[REF_MAX + 8];
  const char *type = gw_file_type(name);
  FUZZ_CHECK(type != NULL && strchr(type, '/') != NULL, "type of \"%s\": %s", name,
             type ? type : "NULL");
  size_t n = strlen(name);
  if (n >= REF_MAX)
    return;
  for (size_t i = 0; i <= n; i++)
    up[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
  snprintf(in_dir, sizeof(in_dir), "d.x/%s", name);
  FUZZ_CHECK(strcmp(gw_file_type(up), type) == 0, "type of \"%s\" is not that of \"%s\"", up, name);
  FUZZ_CHECK(strcmp(gw_file_type(in_dir), type) == 0, "type of \"%s\" is not that of \"%s\"",
             in_dir, name);
  const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
  const char *dot = strrchr(base, '.');
  if (dot == NULL || dot == base) { /* no extension: "README", ".htaccess" */
    FUZZ_CHECK(strcmp(type, "application/octet-stream") == 0, "type of \"%s\": %s", name, type);
    return;
  }
  snprintf(in_dir, sizeof(in_dir), "f%s", dot);
  FUZZ_CHECK(strcmp(gw_file_type(in_dir), type) == 0, "type of \"%s\" is not that of \"%s\"",
             in_dir, name);
}

/* ---- Accept-Encoding ---- */

/* gw_file_accepts on line (as an accept-encoding value): the same answer
 * upper-cased; a refusal appended ("gzip;q=0") wins; "*" appended keeps
 * a yes; a plain name appended to a value with no refusal of it is a yes. */
static void check_accepts(const struct part *line) {
  static const char *const codings[] = {"gzip", "br"};
  char buf[REF_MAX + 32];
  if (line->n >= REF_MAX)
    return;
  for (int c = 0; c < 2; c++) {
    const char *coding = codings[c];
    int yes = gw_file_accepts(line->s, line->n, coding);
    for (size_t i = 0; i < line->n; i++)
      buf[i] = (char)(line->s[i] >= 'a' && line->s[i] <= 'z' ? line->s[i] - 32 : line->s[i]);
    FUZZ_CHECK(gw_file_accepts(buf, line->n, coding) == yes, "%s: case changes \"%s\"", coding,
               line->z);
    int k = snprintf(buf, sizeof(buf), "%s, %s;q=0", line->z, coding);
    FUZZ_CHECK(!gw_file_accepts(buf, (size_t)k, coding), "%s: refusal ignored in \"%s\"", coding,
               buf);
    k = snprintf(buf, sizeof(buf), "%s, *", line->z);
    FUZZ_CHECK(!yes || gw_file_accepts(buf, (size_t)k, coding), "%s: \"*\" undid \"%s\"", coding,
               line->z);
    k = snprintf(buf, sizeof(buf), "%s,%s", line->z, coding);
    FUZZ_CHECK(gw_file_accepts(buf, (size_t)k, coding) || memchr(line->s, '0', line->n) != NULL,
               "%s: named and not taken in \"%s\"", coding, buf); /* no "q=0" in line */
  }
}

/* ---- The input ---- */

/* Splits data into LINES parts, each an exact-size copy. */
static void split(const uint8_t *data, size_t size, struct part *parts) {
  const char *s = (const char *)data, *end = s + size;
  for (int k = 0; k < LINES; k++) {
    const char *e = k < LINES - 1 ? memchr(s, '\n', (size_t)(end - s)) : NULL;
    if (e == NULL)
      e = end;
    parts[k].n = (size_t)(e - s);
    parts[k].s = malloc(parts[k].n ? parts[k].n : 1);
    parts[k].z = malloc(parts[k].n + 1);
    FUZZ_CHECK(parts[k].s != NULL && parts[k].z != NULL, "out of memory");
    memcpy(parts[k].s, s, parts[k].n);
    memcpy(parts[k].z, s, parts[k].n);
    parts[k].z[parts[k].n] = '\0';
    s = e < end ? e + 1 : end;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct part parts[LINES];
  if (size == 0)
    return 0;
  uint32_t h = fuzz_hash(data, size);
  uint64_t h64 = (uint64_t)h << 32 | fuzz_hash(data, size / 2);
  int dotfiles = data[0] & 1;
  split(data + 1, size - 1, parts);
  check_path(&parts[0], dotfiles, (size_t)(data[0] >> 1));
  check_range(&parts[1], h);
  check_dates(&parts[2], h64);
  check_etag(&parts[3], (int64_t)h64, h & 1 ? h64 * 2654435761u : h64 % 1000003);
  check_type(parts[4].z);
  check_type(parts[0].z);
  check_accepts(&parts[3]);
  for (int k = 0; k < LINES; k++) {
    free(parts[k].s);
    free(parts[k].z);
  }
  return 0;
}
