/* gw_file — the pure parts of serving files (gw_static.c does the I/O):
 * the file a request path names, the Range header, HTTP dates (read:
 * util_http_date writes them), entity tags and content types. No I/O, no allocation: unit-tested
 * (tests/unit/test_gw_file.c) and fuzzed against references
 * (tests/fuzz/fuzz_file.c). */
#ifndef MUSTER_GW_FILE_H
#define MUSTER_GW_FILE_H

#include <stddef.h>
#include <stdint.h>

#define GW_FILE_PATH_MAX 4096 /* the longest relative path looked up */
#define GW_FILE_ETAG_MAX 40   /* "\"<16 hex>-<16 hex>\"" and a NUL */

/* The file under a static root that p[0..n) names: p is the request path
 * with the route's prefix taken off ("" or "/..."; the gateway has
 * resolved its dot segments). %XX escapes are decoded, empty segments
 * dropped; out (cap bytes) gets the segments joined by '/' and a NUL, ""
 * for the root itself. *dir is 1 when p ends in '/' (a directory's URL).
 * Returns 0; 400 for a bad escape, a NUL (raw or encoded) or a "." or ".."
 * segment that decoding made; 404 for a segment starting with '.' when
 * dotfiles is 0, or a path longer than cap. */
int gw_file_path(const char *p, size_t n, int dotfiles, char *out, size_t cap, int *dir);

/* The Range header value v[0..n) for a file of size bytes, as RFC 9110
 * §14: 1 with *from and *len for one satisfiable range ("bytes=A-B",
 * "bytes=A-", "bytes=-N"; B past the end is cut to it); -1 when it is
 * unsatisfiable (416); 0 when the whole file is the answer (another unit,
 * a malformed value, or several ranges: muster sends no multipart). */
int gw_file_range(const char *v, size_t n, uint64_t size, uint64_t *from, uint64_t *len);

/* An IMF-fixdate v[0..n) (UTIL_HTTP_DATE_LEN bytes, as util_http_date
 * writes them) ("Sun, 06 Nov 1994 08:49:37 GMT") into *t.
 * Returns 0, or -1 for anything else (the header is then ignored: the
 * obsolete RFC 850 and asctime forms are not read). */
int gw_file_parse_date(const char *v, size_t n, int64_t *t);

/* The entity tag of a file, "\"MTIME-SIZE\"" in hex as nginx makes it,
 * into out (GW_FILE_ETAG_MAX bytes). Returns its length. */
size_t gw_file_etag(int64_t mtime, uint64_t size, char *out);

/* 1 when the If-None-Match value v[0..n) ("*" or a list of entity tags,
 * W/ or not) matches etag by weak comparison, else 0. */
int gw_file_etag_match(const char *v, size_t n, const char *etag);

/* 1 when the Accept-Encoding value v[0..n) accepts coding ("gzip",
 * "br"): named (case ignored; "x-gzip" is gzip) with a q above 0, or "*"
 * with a q above 0 while coding is not named at all. Else 0. */
int gw_file_accepts(const char *v, size_t n, const char *coding);

/* The content type for a file name by its extension (case ignored), with
 * "; charset=utf-8" for text; "application/octet-stream" when unknown. */
const char *gw_file_type(const char *name);

#endif
