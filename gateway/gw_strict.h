/* gw_strict — what a strict edge refuses that llhttp (even in strict
 * mode) lets through. Pure functions over bytes and header offsets, so
 * each rule is unit-tested on its own (tests/unit/test_gw_strict.c);
 * gw_h1 calls them from its parser callbacks.
 *
 * Every check returns NULL when the input is acceptable, else the reason
 * for the 400 answer. */
#ifndef MUSTER_GW_STRICT_H
#define MUSTER_GW_STRICT_H

#include <stddef.h>
#include <stdint.h>

#include "gw_req.h"

/* A request-target preceded by two spaces ("GET  /x"): RFC 9112 allows
 * exactly one SP, llhttp skips a run. b1, b2: the bytes before the target
 * (nearest first; '\0' when unknown). */
const char *gw_strict_target_start(char b1, char b2);

/* A header line must start after CRLF; llhttp takes a bare LF after the
 * request line. b1, b2 as above, at the first byte of a header name. */
const char *gw_strict_line_start(char b1, char b2);

/* Header name bytes must be token characters ("Name :" is a 400). */
const char *gw_strict_name(const char *p, size_t n);

/* Header value bytes: no NUL, CR or LF. b1 is the last byte before them
 * that is not SP or HT (gw_strict_nonws_before): an LF means the piece is
 * on a line of its own, obs-fold, which we refuse ("A: a\r\n b", and
 * "A:\r\n b", where llhttp skips the fold's blanks as leading ones). An
 * empty piece is how llhttp tells an empty value (at the next line's
 * start): no fold. */
const char *gw_strict_value(const char *p, size_t n, char b1);

/* For gw_strict_value's b1: the last byte before at that is not SP or HT,
 * looking back to start (the first byte being parsed), and carried (the
 * last such byte before start, gw_strict_nonws_last) beyond it. */
char gw_strict_nonws_before(const char *at, const char *start, char carried);

/* The last byte of data[0..n) that is not SP or HT, or carried when there
 * is none: what gw_strict_nonws_before carries past data + n. */
char gw_strict_nonws_last(const char *data, size_t n, char carried);

/* The framing headers of a complete head (names lower-cased): one
 * content-length at most, a transfer-encoding of exactly "chunked" at
 * most, never both, and none in an HTTP/1.0 message (RFC 9112 §6.1: its
 * framing is faulty; an HTTP/1.0 peer behind or before us reads no
 * chunks). http_minor: the message's minor version. */
const char *gw_strict_framing(const char *buf, const struct gw_hdr *h, size_t n, int http_minor);

/* The request target's form against its method (RFC 9112 §3.2): "*"
 * only for OPTIONS; an absolute form only with the scheme http or https
 * (llhttp takes any, "ftp://x/y" would reach a service as a path) and an
 * authority that is a host with an optional port, as a host header must
 * be (not empty, RFC 9110 §4.2.1; no userinfo, §4.2.4: it would stand for
 * the host). A
 * CONNECT's authority form is left to the routes. url .. url+n, method
 * as llhttp names it. */
const char *gw_strict_target(const char *method, const char *url, size_t n);

/* The request target's bytes (RFC 3986 §2.1, RFC 9112 §3.2): no '#' (a
 * fragment is the client's, never sent: HAProxy and Envoy refuse it, and
 * a program that cuts the path at it would see another path than the one
 * routed); in the path (before '?'), every '%' followed by two hex digits
 * and never "%00" (a NUL that ends a C string or a file name early), as
 * nginx refuses them. The query's bytes are the program's business. */
const char *gw_strict_path(const char *url, size_t n);

/* Resolves the dot segments of the path p[0..n) (no query) in place, as
 * RFC 3986 §5.2.4 has them removed: a "." segment goes, a ".." one takes
 * the segment before it along; "%2e" (either case) spells a dot there, as
 * nginx and Envoy read it. The route is chosen by the resolved path and
 * the service gets that one, so the two never disagree ("/a/../b/x" is
 * b's "/b/x", not a's). Other bytes, "//" and escapes stay as sent; a
 * path not starting with '/' (OPTIONS "*") is left alone. Returns the
 * new length, or -1 when a ".." climbs above "/" (nginx's 400); p is
 * then as it was. */
long gw_strict_dots(char *p, size_t n);

/* An authority as a host header or an HTTP/2 :authority must be:
 * uri-host [":" port], the host not empty (no userinfo, RFC 9113 §8.3.1).
 * Returns NULL or "invalid host header". */
const char *gw_strict_authority(const char *v, size_t n);

/* The host headers of a complete request head (names lower-cased), as
 * RFC 9112 §3.2 has a server check them: more than one is refused; none
 * in an HTTP/1.1 request whose target is not in absolute form (its
 * authority stands for the host) is refused; a value that is no
 * uri-host [":" port] (empty, a space, "/", "@", an IPv6 address outside
 * brackets, a port not all digits) is refused. http_minor: the request's
 * minor version; absolute: 1 when the target is in absolute form. */
const char *gw_strict_host(const char *buf, const struct gw_hdr *h, size_t n, int http_minor,
                           int absolute);

/* The CRLF after a chunk's data (llhttp 8.1 skips those two bytes without
 * looking: a smuggling vector). *need is how many of them are still to
 * come (2, 1 or 0); p .. end is the input from there. Consumes what of
 * them is in this input. */
const char *gw_strict_chunk_crlf(uint8_t *need, const char *p, const char *end);

#endif
